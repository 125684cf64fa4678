// TotpCodeNow: the current TOTP code (RFC 6238 defaults: SHA1, 6 digits, 30 s) for a
// base32 secret as 'apppass mfa enroll --json' prints it, computed with liboath, as a
// user's authenticator app would. Empty when the secret does not decode. For the tests
// that enroll users through the real tool (tests/pam, tests/sasl, tests/stress).
#pragma once

#include <liboath/oath.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace testlib {

inline std::string TotpCodeNow(const std::string& base32) {
  char* secret = nullptr;
  size_t len = 0;
  if (oath_base32_decode(base32.c_str(), base32.size(), &secret, &len) != OATH_OK) return "";
  char otp[16] = {};
  const int rc =
      oath_totp_generate(secret, len, std::time(nullptr), OATH_TOTP_DEFAULT_TIME_STEP_SIZE,
                         OATH_TOTP_DEFAULT_START_TIME, 6, otp);
  std::free(secret);
  return rc == OATH_OK ? std::string(otp) : std::string();
}

}  // namespace testlib
