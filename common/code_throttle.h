// The throttle on wrong TOTP codes, per user: after kMaxCodeFailures wrong codes within
// kCodeFailureWindow seconds, every code attempt of that user is refused until that window
// ends. The lockout is checked BEFORE the code is compared, so a right code is refused too
// during it (and is not spent). A right code clears the count.
//
// The count lives in the user's enrollment record (UserRecord::code_failures and
// code_window_start, records.h) in the root-only store, so it holds across processes,
// daemon restarts and concurrent requests. The window is fixed: it starts at the first
// wrong code after the previous one ended; wrong codes refused by the lockout do not
// extend it. A clock set back before the window's start ends the window.
//
// Who uses it: self-service changes (self_service.cc: create, revoke, MFA confirm) and,
// with the same rule, the PAM TOTP step (issue 12). Admin commands run by root
// (MfaConfirm, MfaImport) are not throttled, but a right code accepted by them clears the
// count too (AcceptCode, admin_internal.h).
// Thread-safety: the pure functions are; CheckCodeThrottled as admin.h (one write
// transaction; LMDB serializes writers, so concurrent attempts are counted exactly).
#pragma once

#include <cstdint>
#include <string_view>

#include "records.h"
#include "status.h"
#include "store.h"

namespace apppass {

inline constexpr int kMaxCodeFailures = 5;
inline constexpr std::int64_t kCodeFailureWindow = 600;  // seconds

// The lockout's message begins with this ("...; try again in N minutes"): the daemon's
// audit line tells it from a wrong code by it (IsCodeThrottled).
inline constexpr std::string_view kCodeThrottledPrefix = "too many wrong verification codes";

// Ok when `u` may try a code at `now`; PermissionDenied "too many wrong verification
// codes; try again in N minutes" (N the minutes left in the window, rounded up, 1..10)
// when kMaxCodeFailures wrong codes were counted in a window still running.
Status CodeThrottleCheck(const UserRecord& u, std::int64_t now);

// Counts one wrong code at `now` in `*u`: in the running window, or as the first of a new
// one when none runs.
void CountCodeFailure(UserRecord* u, std::int64_t now);

// A right code: no failures counted, no window.
void ClearCodeFailures(UserRecord* u);

// Whether `s` is CodeThrottleCheck's lockout.
bool IsCodeThrottled(const Status& s);

// Checks `code` for `*u` under the throttle, inside the caller's write transaction.
// REQUIRES: `*txn` is a write transaction (admin_internal::BeginUserUpdate) in which
// nothing has been written yet, and `*u` is the user's enrollment read in it.
//   - Locked out: CodeThrottleCheck's refusal; nothing compared, nothing written; the
//     caller lets the transaction abort.
//   - Wrong, reused or malformed code (TotpCheck's PermissionDenied): the failure is
//     counted and COMMITTED in `*txn` (holding only that), and that PermissionDenied is
//     returned; an error committing it is returned instead. Counting in the transaction
//     that checked the lockout makes the check and the count one step: N concurrent wrong
//     codes cannot all pass a count of 4.
//   - Right code: Ok; `*u` has the step spent and the count cleared (AcceptCode), NOT yet
//     written: the caller writes it (admin_internal::PutUser) with its change and commits
//     both, or neither.
Status CheckCodeThrottled(const Store& store, StoreTxn* txn, std::string_view code,
                          std::int64_t now, UserRecord* u);

}  // namespace apppass
