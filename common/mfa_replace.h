// Replacing a user's authenticator app without losing MFA for a moment (issue 13): the
// portal's "change authenticator app" and apppassd's MFA_REPLACE / MFA_REPLACE_CONFIRM.
//
//   SelfMfaReplace          a current code of the confirmed enrollment (checked under the
//                           throttle and spent, code_throttle.h) -> a new secret kept as
//                           UserRecord::pending_secret beside the confirmed one, which
//                           keeps working; asking again replaces the pending one
//   SelfMfaReplaceConfirm   a code of the NEW secret (under the same throttle) -> the new
//                           secret becomes the confirmed one: `enrolled` and `confirmed`
//                           are now, `last_step` the step of that code (the new secret has
//                           spent nothing else; the old one's steps mean nothing to it),
//                           `source` apppass; the recovery codes are kept
//
// Each is one write transaction, like every self-service change (self_service.h): a wrong
// code changes nothing but the count of wrong codes; a killed daemon leaves all or nothing.
// Refusals: no confirmed enrollment is PermissionDenied kNoMfaMessage; nothing pending
// at confirmation is PermissionDenied kNoReplacementMessage; a wrong, reused or missing
// code is PermissionDenied kWrongCodeMessage; the lockout keeps its own message.
// Thread-safety: as admin.h.
#pragma once

#include <cstdint>
#include <string>

#include "admin.h"
#include "secret.h"
#include "store.h"

namespace apppass {

inline constexpr const char* kNoReplacementMessage =
    "no new authenticator app is waiting for confirmation; start the change again";

// `out` as MfaEnroll's: the new secret (base32) and its otpauth:// URI for `issuer`.
Status SelfMfaReplace(const Store& store, const std::string& user, const SecretBuffer& code,
                      const std::string& issuer, std::int64_t now, EnrollResult* out);

Status SelfMfaReplaceConfirm(const Store& store, const std::string& user,
                             const SecretBuffer& new_code, std::int64_t now);

}  // namespace apppass
