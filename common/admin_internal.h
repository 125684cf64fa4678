// The steps of the admin operations (admin.h) inside a caller's write transaction, so
// self-service (self_service.h) composes a TOTP code check with a change in ONE
// transaction: both happen, or neither. None of these commits; the caller commits or lets
// the transaction abort. For admin.cc, self_service.cc and code_throttle.cc only.
// Thread-safety: as admin.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin.h"
#include "records.h"
#include "secret.h"
#include "store.h"

namespace apppass::admin_internal {

// Validates `user` (ValidateUserName), begins a write transaction and reads the user's
// enrollment: `*found` says whether there is one (then in `*u`).
Status BeginUserUpdate(const Store& store, const std::string& user, StoreTxn* txn, UserRecord* u,
                       bool* found);

// Checks `code` against `secret` (never a step at or before u->last_step), records the
// step in `*u`, clears its wrong-code count (code_throttle.h) and confirms the enrollment
// if it was pending. PutUser stores it. Not throttled: code_throttle.h's
// CheckCodeThrottled is the throttled check.
// PermissionDenied for a wrong, reused or malformed code (TotpCheck's message).
Status AcceptCode(const SecretBuffer& secret, std::string_view code, std::int64_t now,
                  UserRecord* u);
// Unseals `u`'s secret and AcceptCode.
Status AcceptUserCode(const Store& store, std::string_view code, std::int64_t now, UserRecord* u);

Status PutUser(const StoreTxn& txn, const UserRecord& u);

// When `codes` is given: new recovery codes for `*u` (recovery_codes.h) into `*codes`, their
// hashes replacing u->recovery (PutUser stores them). Nothing when `codes` is null.
Status MakeRecoveryCodes(const Store& store, UserRecord* u, std::vector<SecretBuffer>* codes);

// Validates `user` as a new name, begins a write transaction and refuses (PermissionDenied)
// a confirmed enrollment; a pending one may be replaced. `*found`/`*old` as BeginUserUpdate.
Status BeginNewEnrollment(const Store& store, const std::string& user, StoreTxn* txn,
                          UserRecord* old, bool* found);
// Writes a new pending enrollment of `user` with a fresh secret into `txn`.
Status EnrollLocked(const Store& store, const StoreTxn& txn, const std::string& user,
                    const std::string& issuer, std::int64_t now, EnrollResult* out);

// Creates an app password in `txn` (CreatePassword's checks, `max_active` the cap).
// On Ok `*out` holds it; it exists once the caller commits.
Status CreateLocked(const Store& store, const StoreTxn& txn, const CreateRequest& req,
                    int max_active, std::int64_t now, Created* out);

// Revokes the selected active app passwords of `user` in `txn`; `*ids` lists them (empty
// when nothing matched: the caller decides).
Status RevokeLocked(const Store& store, const StoreTxn& txn, const std::string& user,
                    const RevokeSelector& sel, std::int64_t now, std::vector<std::string>* ids);

}  // namespace apppass::admin_internal
