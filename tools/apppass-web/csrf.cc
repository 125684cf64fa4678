// CSRF tokens (csrf.h): a per-process key, keyed BLAKE2b, constant-time comparison.
#include "csrf.h"

#include <sodium.h>

#include "secret.h"

namespace apppass::web {

namespace {

constexpr std::size_t kTokenHex = 32;

// The key lives in locked memory for the life of the process. Made once.
const SecretBuffer* Key() {
  static const SecretBuffer* key = [] {
    if (sodium_init() < 0) return static_cast<SecretBuffer*>(nullptr);
    auto* k = new SecretBuffer(crypto_generichash_KEYBYTES);  // never freed: process-wide
    if (!k->valid()) {
      delete k;
      return static_cast<SecretBuffer*>(nullptr);
    }
    crypto_generichash_keygen(k->data());
    k->resize(crypto_generichash_KEYBYTES);
    return k;
  }();
  return key;
}

std::string Hex(const unsigned char* bytes, std::size_t n) {
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, n);
  hex.resize(n * 2);
  return hex;
}

}  // namespace

Status InitCsrf() {
  if (Key() == nullptr) return Status::Unavailable("cannot make the CSRF key (libsodium)");
  return Status::Ok();
}

std::string CsrfForSession(std::string_view session_token) {
  const SecretBuffer* key = Key();
  if (key == nullptr || session_token.empty()) return {};
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash_state st;
  crypto_generichash_init(&st, key->data(), key->size(), sizeof out);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>("csrf"), 4);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(session_token.data()),
                            session_token.size());
  crypto_generichash_final(&st, out, sizeof out);
  sodium_memzero(&st, sizeof st);
  std::string token = Hex(out, sizeof out).substr(0, kTokenHex);
  sodium_memzero(out, sizeof out);
  return token;
}

std::string NewPreSigninToken() {
  if (sodium_init() < 0) return {};
  unsigned char bytes[kTokenHex / 2];
  randombytes_buf(bytes, sizeof bytes);
  return Hex(bytes, sizeof bytes);
}

bool CheckCsrf(const HttpRequest& req, std::string_view expected) {
  const std::string* got = req.Form(kCsrfField);
  if (got == nullptr || got->empty() || expected.empty() || got->size() != expected.size()) {
    return false;
  }
  return sodium_memcmp(got->data(), expected.data(), expected.size()) == 0;
}

}  // namespace apppass::web
