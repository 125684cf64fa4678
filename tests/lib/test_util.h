// Helpers shared by the CMocka unit tests (tests/unit, tests/sasl): the CMocka include dance for
// C++, assertions that print a Status or Outcome on failure, a temporary directory that removes
// itself, TOTP codes computed independently with liboath, and a store with a confirmed user.
//
// A failed CMocka assertion longjmps out of the test, skipping C++ destructors; tests that
// own files therefore keep them in a fixture created by a setup function and destroyed by a
// teardown function (CMocka runs teardown after a failed test too).
#pragma once

#include <liboath/oath.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "admin.h"
#include "status.h"
#include "store.h"
#include "verifier.h"

// cmocka.h needs these first and has no extern "C" of its own. It also defines macros
// with common names (fail, skip, ...) that break standard headers included after it:
// include this file last.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace apppass::test {

inline const char* CodeName(Status::Code c) {
  switch (c) {
    case Status::Code::kOk: return "Ok";
    case Status::Code::kNotFound: return "NotFound";
    case Status::Code::kInvalidArgument: return "InvalidArgument";
    case Status::Code::kUnavailable: return "Unavailable";
    case Status::Code::kPermissionDenied: return "PermissionDenied";
    case Status::Code::kAlreadyExists: return "AlreadyExists";
    case Status::Code::kInternal: return "Internal";
  }
  return "?";
}

}  // namespace apppass::test

// Fails the test, printing the status, unless `expr` is Ok.
#define ASSERT_OK(expr)                                                                     \
  do {                                                                                      \
    const ::apppass::Status st_ = (expr);                                                   \
    if (!st_.ok())                                                                          \
      fail_msg("%s: expected Ok, got %s: %s", #expr, ::apppass::test::CodeName(st_.code()), \
               st_.message().c_str());                                                      \
  } while (0)

// Fails the test unless `expr` returns a Status with code `want` (a Status::Code name).
#define ASSERT_CODE(expr, want)                                                                    \
  do {                                                                                             \
    const ::apppass::Status st_ = (expr);                                                          \
    if (st_.code() != ::apppass::Status::Code::want)                                               \
      fail_msg("%s: expected %s, got %s: %s", #expr, #want, ::apppass::test::CodeName(st_.code()), \
               st_.message().c_str());                                                             \
  } while (0)

// Fails the test unless the Decision `d` has outcome `want` (an Outcome).
#define ASSERT_OUTCOME(d, want)                                                             \
  do {                                                                                      \
    const ::apppass::Decision& d_ = (d);                                                    \
    if (d_.outcome != (want))                                                               \
      fail_msg("%s: expected %s, got %s (%s)", #d,                                          \
               std::string(::apppass::OutcomeName(want)).c_str(),                           \
               std::string(::apppass::OutcomeName(d_.outcome)).c_str(), d_.detail.c_str()); \
  } while (0)

// Fails the test unless `haystack` (anything a std::string can be made from) contains `needle`.
#define ASSERT_CONTAINS(haystack, needle)                                                     \
  do {                                                                                        \
    const std::string h_(haystack);                                                           \
    if (h_.find(needle) == std::string::npos)                                                 \
      fail_msg("expected \"%s\" to contain \"%s\"", h_.c_str(), std::string(needle).c_str()); \
  } while (0)

namespace apppass::test {

// A fresh directory under /tmp (mkdtemp, mode 0700), removed with its contents on
// destruction. path() is empty when creation failed.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/apppass-unit-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// Whole contents of a file ("" when unreadable).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Permission bits of `path` (not following a symlink), or -1.
inline int ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Raw bytes of an RFC 4648 base32 string ("" on error), decoded with liboath.
inline std::string Base32Decode(std::string_view b32) {
  oath_init();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_decode(b32.data(), b32.size(), &out, &len) != OATH_OK) return "";
  std::string raw(out, len);
  std::free(out);
  return raw;
}

// The 6-digit TOTP code (SHA1, 30 s) of raw `secret` at unix time `t`, computed with
// liboath independently of the code under test.
inline std::string TotpAt(std::string_view secret, std::int64_t t) {
  oath_init();
  char otp[16] = {};
  if (oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(t),
                         OATH_TOTP_DEFAULT_TIME_STEP_SIZE, OATH_TOTP_DEFAULT_START_TIME, 6,
                         otp) != OATH_OK)
    return "";
  return otp;
}

// Enrolls `user` at time `now` and confirms the enrollment with a code computed for `now`.
// On success `*secret` (if given) holds the raw TOTP secret.
inline Status EnrollConfirmed(const Store& admin, const std::string& user, std::int64_t now,
                              std::string* secret = nullptr) {
  EnrollResult er;
  Status s = MfaEnroll(admin, user, "apppass-test", now, &er);
  if (!s.ok()) return s;
  const std::string raw = Base32Decode(er.base32.view());
  if (raw.empty()) return Status::Internal("base32 of the enrollment did not decode");
  s = MfaConfirm(admin, user, TotpAt(raw, now), now);
  if (s.ok() && secret != nullptr) *secret = raw;
  return s;
}

// Creates a store in `dir` (Store::Init, no group), opens it for administration into
// `*admin` and gives `user` a confirmed MFA enrollment at `now`.
inline Status MakeStoreWithUser(const std::string& dir, const std::string& user, std::int64_t now,
                                Store* admin, std::string* secret = nullptr) {
  Status s = Store::Init(dir);
  if (!s.ok()) return s;
  if (!(s = Store::Open(dir, Store::Mode::kAdmin, admin)).ok()) return s;
  return EnrollConfirmed(*admin, user, now, secret);
}

}  // namespace apppass::test
