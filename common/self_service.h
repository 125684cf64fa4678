// Self-service: what a user may do to their own account through apppassd (issue 11). The
// broker has already named the user from the caller's uid (SO_PEERCRED + getpwuid); these
// functions never take a user from a request.
//
// Every change needs a current TOTP code of the user's confirmed enrollment, checked and
// its time step spent in the same write transaction as the change: the change and the
// code's use happen together or not at all, and a code is accepted once (the step rule of
// admin.h). Policy (policy.h) bounds what a user may ask for.
//
// Codes and messages: a wrong, reused, missing or malformed code is PermissionDenied
// "wrong or reused verification code"; no confirmed enrollment is PermissionDenied
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

struct SelfCreateRequest {
  std::string name;
  std::vector<std::string> scopes;      // each must be in policy self_service_scopes;
                                        // empty is refused (a user always chooses)
  std::optional<std::int64_t> expires;  // a duration in seconds; nullopt: the default
};

// Creates an app password for `user` after checking `code`. `out` as CreatePassword.
Status SelfCreate(const Store& store, const std::string& user, const SelfCreateRequest& req,
                  const SecretBuffer& code, std::int64_t now, Created* out);

// Revokes the selected active app passwords of `user` after checking `code`.
Status SelfRevoke(const Store& store, const std::string& user, const RevokeSelector& sel,
                  const SecretBuffer& code, std::int64_t now, std::vector<std::string>* ids);

// Starts (or restarts, while pending) the user's own enrollment when the policy's
// self_enroll allows it. PermissionDenied otherwise, and when already confirmed.
Status SelfMfaEnroll(const Store& store, const std::string& user, const std::string& issuer,
                     std::int64_t now, EnrollResult* out);

// Confirms the user's pending enrollment with a current code (MfaConfirm).
Status SelfMfaConfirm(const Store& store, const std::string& user, const SecretBuffer& code,
                      std::int64_t now);

}  // namespace apppass
