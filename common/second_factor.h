// The TOTP step of an interactive login (issue 12): `pam_apppass.so totp` after the
// password module, and apppassd's CODE request for verifiers that are not root. Given a
// user and what they typed at "Verification code: ", decides in ONE write transaction of
// the root-only store:
//
//   outcome          when                                              written
//   not-enrolled     no confirmed enrollment                           nothing
//   throttled        kMaxCodeFailures wrong codes in the running        nothing
//                    window (code_throttle.h), checked before anything
//                    is compared
//   accepted         a current code (one step of drift either way)     step spent, count
//                    whose step is after the last one spent             cleared
//   recovery-code    one of the user's unused recovery codes            that code removed,
//                    (recovery_codes.h)                                 count cleared
//   reused-code      a code of a step already spent (replay)           failure counted
//   wrong-code       anything else (malformed included)                failure counted
//   bad-input        user name unusable, code empty/huge/NUL           nothing
//   unavailable      store unusable, no mfa.key, write failed          nothing (fail closed)
//
// "A code's step is accepted at most once per user, across processes, atomically": the
// step is read and spent in the same LMDB write transaction, and LMDB serializes writers,
// so of two processes racing the same code exactly one commits it.
// Timing: a wrong and a reused code do the same work (all 2*kTotpWindow+1 steps computed
// and compared in constant time, every recovery hash compared, one failure committed), so
// the time does not tell them apart (tests/timing).
// Thread-safety: as admin.h (a Store opened kAdmin, one thread at a time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store.h"

namespace apppass {

enum class CodeOutcome {
  kAccepted,
  kRecoveryCode,
  kNotEnrolled,
  kThrottled,
  kReusedCode,
  kWrongCode,
  kBadInput,
  kUnavailable,
};

// Stable lowercase names for log lines and the broker: "accepted", "recovery-code",
// "not-enrolled", "throttled", "reused-code", "wrong-code", "bad-input", "unavailable".
std::string_view CodeOutcomeName(CodeOutcome o);
// The outcome a name stands for; kUnavailable for anything else (fail closed).
CodeOutcome CodeOutcomeFromName(std::string_view name);
// Whether the step passed: kAccepted or kRecoveryCode.
inline bool CodePassed(CodeOutcome o) {
  return o == CodeOutcome::kAccepted || o == CodeOutcome::kRecoveryCode;
}

struct CodeDecision {
  CodeOutcome outcome = CodeOutcome::kUnavailable;  // fail closed until decided
  std::string detail;            // bad-input / unavailable / throttled: why (never the code)
  int recovery_codes_left = -1;  // after a recovery-code: how many remain; else -1
};

// The longest code input considered (a recovery code with spaces and dashes fits).
inline constexpr std::size_t kMaxCodeInput = 64;

// REQUIRES: `store` opened in kAdmin mode (reads mfa.key, writes). `code` as typed:
// spaces are ignored (a 6-digit TOTP code "123 456"); a recovery code is normalized as
// recovery_codes.h says. Never throws for a refusal or a store error.
CodeDecision CheckLoginCode(const Store& store, std::string_view user, std::string_view code,
                            std::int64_t now);

}  // namespace apppass
