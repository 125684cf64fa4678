// Self-service: what a user may do to their own account through apppassd (issue 11). The
// broker has already named the user from the caller's uid (SO_PEERCRED + getpwuid); these
// functions never take a user from a request.
//
// Every change needs a current TOTP code of the user's confirmed enrollment, checked and
// its time step spent in the same write transaction as the change: the change and the
// code's use happen together or not at all, and a code is accepted once (the step rule of
// admin.h). Policy (policy.h) bounds what a user may ask for.
//
// Wrong codes are throttled (code_throttle.h): after kMaxCodeFailures wrong codes within
// kCodeFailureWindow every code of the user is refused, checked before the code is
// compared, until the window ends; each wrong code is counted in its own commit (the
// change is never made), a right one clears the count.
//
// Codes and messages: a wrong, reused, missing or malformed code is PermissionDenied
// "wrong or reused verification code"; during the lockout PermissionDenied "too many
// wrong verification codes; try again in N minutes" (IsCodeThrottled); no confirmed
// enrollment is PermissionDenied
// "MFA is not set up for this account"; another user's or an unknown id/name is NotFound
// (never PermissionDenied: no existence oracle); a scope outside self_service_scopes, an
// expiry over max_expiry or a bad label is InvalidArgument; max_active reached is
// PermissionDenied; self-enrollment while the policy forbids it is PermissionDenied.
// Thread-safety: as admin.h (one writer at a time per Store; LMDB serializes writers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "admin.h"
#include "policy.h"
#include "secret.h"
#include "store.h"

namespace apppass {

// The messages of the refusals above (and below), for the daemon and the tests.
inline constexpr const char* kWrongCodeMessage = "wrong or reused verification code";
inline constexpr const char* kNoMfaMessage = "MFA is not set up for this account";
inline constexpr const char* kSelfEnrollOffMessage =
    "self-enrollment is turned off; ask your administrator to set up MFA";
inline constexpr const char* kAlreadyEnrolledMessage =
    "MFA is already set up for this account; ask your administrator to reset it";

struct SelfCreateRequest {
  std::string name;
  std::vector<std::string> scopes;      // each must be in policy self_service_scopes;
                                        // empty is refused (a user always chooses)
  std::optional<std::int64_t> expires;  // a duration in seconds (> 0); nullopt: the default
                                        // (EffectiveDefaultExpiry, policy.h)
  bool never = false;  // the user asked for no expiry ("never"): refused when the policy
                       // sets max_expiry; `expires` must then be nullopt
};

// The second factor of a change: a current TOTP code (checked and spent with the change),
// or a portal session (issue 13: apppassd has checked that the session is live and began
// with the user's current confirmed enrollment; the sign-in that made it checked a code).
// A session is only for CREATE and REVOKE; recovery codes and the authenticator always
// take a code.
struct SecondFactor {
  const SecretBuffer* code = nullptr;  // null: a session
  static SecondFactor Code(const SecretBuffer& c) { return SecondFactor{&c}; }
  static SecondFactor Session() { return SecondFactor{nullptr}; }
};

// Creates an app password for `user` after checking `code`. `out` as CreatePassword.
// InvalidArgument for an expiry over max_expiry names the limit ("the longest expiry
// allowed is 90d"); AlreadyExists for an active label of the same name.
Status SelfCreate(const Store& store, const std::string& user, const SelfCreateRequest& req,
                  const SecretBuffer& code, std::int64_t now, Created* out);
// As above with either factor; with a session nothing is spent, and the user's enrollment
// must still be confirmed (PermissionDenied kNoMfaMessage).
Status SelfCreate(const Store& store, const std::string& user, const SelfCreateRequest& req,
                  const SecondFactor& factor, std::int64_t now, Created* out);

// Revokes the selected active app passwords of `user` after checking `code`. Exactly one
// of sel.id, sel.name, sel.all (else InvalidArgument). NotFound when none of the user's
// active app passwords matches.
Status SelfRevoke(const Store& store, const std::string& user, const RevokeSelector& sel,
                  const SecretBuffer& code, std::int64_t now, std::vector<std::string>* ids);
Status SelfRevoke(const Store& store, const std::string& user, const RevokeSelector& sel,
                  const SecondFactor& factor, std::int64_t now, std::vector<std::string>* ids);

// Starts (or restarts, while pending) the user's own enrollment when the policy's
// self_enroll allows it. PermissionDenied otherwise (kSelfEnrollOffMessage), and when
// already confirmed (kAlreadyEnrolledMessage). No code is needed: a pending enrollment
// gives no access until confirmed.
Status SelfMfaEnroll(const Store& store, const std::string& user, const std::string& issuer,
                     std::int64_t now, EnrollResult* out);

// Confirms the user's pending enrollment with a current code (MfaConfirm; a confirmed
// one is re-checked, spending the code). No enrollment: PermissionDenied kNoMfaMessage.
// With `recovery_codes`, confirming a PENDING enrollment also makes the user's recovery
// codes in the same transaction and returns them (MfaConfirm); a re-check makes none.
Status SelfMfaConfirm(const Store& store, const std::string& user, const SecretBuffer& code,
                      std::int64_t now, std::vector<SecretBuffer>* recovery_codes = nullptr);

// Replaces the user's recovery codes with kMaxRecoveryCodes new ones (recovery_codes.h),
// returned once in `*codes`, after checking a current TOTP `code` (not a recovery code)
// spent in the same transaction. No confirmed enrollment: PermissionDenied kNoMfaMessage.
Status SelfRecoveryCodes(const Store& store, const std::string& user, const SecretBuffer& code,
                         std::int64_t now, std::vector<SecretBuffer>* codes);

}  // namespace apppass
