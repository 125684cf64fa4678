// PamSignIn: checks a user's password through a PAM service for the web portal's SIGNIN
// (protocol minor 2, issue 13): pam_start(service, user) with PAM_RHOST = the client's
// address, pam_authenticate, then pam_acct_mgmt; pam_end.
//
// The conversation answers the first PAM_PROMPT_ECHO_OFF prompt with the password and
// nothing else: an echo-on prompt, or a second echo-off one (a TOTP step in the admin's
// stack would otherwise be handed the password), fails the conversation, so the
// sign-in fails; info and error messages are accepted and dropped. The password lives in
// a SecretBuffer, wiped when the check is done; the copy handed to PAM is wiped by the
// module that frees it (libpam's own _pam_overwrite).
//
// Bounded: PAM runs on a thread of its own and the caller waits at most `timeout`; a
// stack still running then is left to finish (its answer is dropped) and the sign-in is
// Unavailable. At most kMaxPamThreads run at once (more: Unavailable at once), so a stuck
// stack cannot pile up threads. No failure delay is applied (PAM_FAIL_DELAY is set to a
// function that does nothing): the broker's throttle (signin_throttle.h) is the bound.
// Thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "secret.h"
#include "status.h"

namespace apppass::daemon {

inline constexpr int kMaxPamThreads = 32;

enum class PamOutcome {
  kAccepted,     // authenticate and acct_mgmt both PAM_SUCCESS
  kWrong,        // wrong password, unknown user, the account refused (expired, locked)
  kUnavailable,  // the stack could not run: no service, a module error, timed out
};

struct PamResult {
  PamOutcome outcome = PamOutcome::kUnavailable;
  std::string detail;  // pam_strerror of the step that failed, for the log (never a secret)
};

// REQUIRES: `password` holds the password (it is copied; the caller wipes its own).
PamResult PamSignIn(const std::string& service, const std::string& user,
                    const SecretBuffer& password, const std::string& rhost,
                    std::chrono::milliseconds timeout);

}  // namespace apppass::daemon
