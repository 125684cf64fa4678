#include "code_throttle.h"

#include <climits>

#include <fmt/format.h>

#include "admin_internal.h"

namespace apppass {

namespace {

// Whether the window of `u` is running at `now` (it began at or before `now`, less than
// kCodeFailureWindow ago). The decoder keeps code_window_start >= 0, so no overflow.
bool WindowRunning(const UserRecord& u, std::int64_t now) {
  return u.code_failures > 0 && now >= u.code_window_start &&
         now - u.code_window_start < kCodeFailureWindow;
}

}  // namespace

Status CodeThrottleCheck(const UserRecord& u, std::int64_t now) {
  if (!WindowRunning(u, now) || u.code_failures < kMaxCodeFailures) return Status::Ok();
  const std::int64_t left = kCodeFailureWindow - (now - u.code_window_start);  // 1..600
  const std::int64_t minutes = (left + 59) / 60;
  return Status::PermissionDenied(fmt::format("{}; try again in {} minute{}", kCodeThrottledPrefix,
                                              minutes, minutes == 1 ? "" : "s"));
}

void CountCodeFailure(UserRecord* u, std::int64_t now) {
  if (!WindowRunning(*u, now)) {
    u->code_failures = 0;
    u->code_window_start = now < 0 ? 0 : now;
  }
  if (u->code_failures < INT_MAX) ++u->code_failures;
}

void ClearCodeFailures(UserRecord* u) {
  u->code_failures = 0;
  u->code_window_start = 0;
}

bool IsCodeThrottled(const Status& s) {
  return s.code() == Status::Code::kPermissionDenied &&
         s.message().starts_with(kCodeThrottledPrefix);
}

Status CheckCodeThrottled(const Store& store, StoreTxn* txn, std::string_view code,
                          std::int64_t now, UserRecord* u) {
  Status s = CodeThrottleCheck(*u, now);
  if (!s.ok()) return s;
  UserRecord checked = *u;  // AcceptUserCode may change it before refusing
  s = admin_internal::AcceptUserCode(store, code, now, &checked);
  if (s.ok()) {
    *u = std::move(checked);
    return Status::Ok();
  }
  if (s.code() != Status::Code::kPermissionDenied) return s;  // e.g. the secret does not open
  CountCodeFailure(u, now);
  Status w = admin_internal::PutUser(*txn, *u);
  if (w.ok()) w = txn->Commit();
  return w.ok() ? s : w;
}

}  // namespace apppass
