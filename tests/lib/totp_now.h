// TotpCodeNow: the current TOTP code (RFC 6238 defaults: SHA1, 6 digits, 30 s) for a
// base32 secret as 'apppass mfa enroll --json' prints it, computed with liboath, as a
// user's authenticator app would; TotpCodeAt the code at a given time. Empty when the
// secret does not decode. For the tests that enroll users through the real tool
// (tests/pam, tests/sasl, tests/stress, tests/faults).
#pragma once

#include <liboath/oath.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace testlib {

// The code at `when` (unix seconds): e.g. the next step's, which a login may use at once
// (one step of drift) after a confirmation spent the current one.
inline std::string TotpCodeAt(const std::string& base32, std::time_t when) {
  char* secret = nullptr;
  size_t len = 0;
  if (oath_base32_decode(base32.c_str(), base32.size(), &secret, &len) != OATH_OK) return "";
  char otp[16] = {};
  const int rc = oath_totp_generate(secret, len, when, OATH_TOTP_DEFAULT_TIME_STEP_SIZE,
                                    OATH_TOTP_DEFAULT_START_TIME, 6, otp);
  std::free(secret);
  return rc == OATH_OK ? std::string(otp) : std::string();
}

inline std::string TotpCodeNow(const std::string& base32) {
  return TotpCodeAt(base32, std::time(nullptr));
}

}  // namespace testlib
