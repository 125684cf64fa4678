// pam_bench_argon2.so: a bench-only PAM module (never installed) that checks the typed
// password the way a design that "hashes every app password like a user password" would:
// crypto_pwhash_str_verify against one Argon2id hash read from the file `hash=FILE` (made
// by bench_pam at libsodium's INTERACTIVE limits). It stands for ONE record: a user with N
// app passwords would cost up to N of these per refused login, since a salted slow hash
// cannot be looked up, only tried one by one.
//
// authenticate: PAM_SUCCESS when the password matches, PAM_AUTH_ERR when it does not or
// when no password was given, PAM_AUTHINFO_UNAVAIL when the file cannot be read;
// acct_mgmt: PAM_SUCCESS. No exception leaves an entry point.
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <sodium.h>

#include <cstring>
#include <fstream>
#include <string>

namespace {

int Authenticate(pam_handle_t* pamh, int argc, const char** argv) {
  std::string file;
  for (int i = 0; i < argc; ++i)
    if (std::strncmp(argv[i], "hash=", 5) == 0) file = argv[i] + 5;
  if (file.empty() || sodium_init() < 0) return PAM_SERVICE_ERR;
  std::ifstream in(file);
  std::string hash;
  if (!std::getline(in, hash) || hash.empty()) return PAM_AUTHINFO_UNAVAIL;
  const char* password = nullptr;
  if (pam_get_authtok(pamh, PAM_AUTHTOK, &password, nullptr) != PAM_SUCCESS || password == nullptr)
    return PAM_AUTH_ERR;
  return crypto_pwhash_str_verify(hash.c_str(), password, std::strlen(password)) == 0
             ? PAM_SUCCESS
             : PAM_AUTH_ERR;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int, int argc,
                                                               const char** argv) {
  try {
    return Authenticate(pamh, argc, argv);
  } catch (...) {
    return PAM_AUTH_ERR;
  }
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t*, int, int, const char**) {
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t*, int, int, const char**) {
  return PAM_SUCCESS;
}

}  // extern "C"
