// The verifier kinds: VERIFY (issue 11), and CODE, ENROLLED, ACCOUNT (protocol minor 1,
// issue 12). Sent by root or a member of --group (handlers.h has the table) on behalf of
// the user they name: the PAM module and the SASL plugin when they do not run as root.
// Each answers what the in-process call answers (Authenticate, CheckLoginCode,
// CheckAccount) and logs the decision line the shims write, followed by who asked.
#include <syslog.h>

#include <mutex>

#include <fmt/format.h>

#include "account.h"
#include "admin.h"
#include "authenticate.h"
#include "decision_log.h"
#include "handlers_internal.h"
#include "second_factor.h"
#include "text.h"

namespace apppass::daemon::internal {

namespace {

int SyslogLevel(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo: return LOG_INFO;
    case LogSeverity::kNotice: return LOG_NOTICE;
    case LogSeverity::kWarning: return LOG_WARNING;
    case LogSeverity::kError: break;
  }
  return LOG_ERR;
}

// " caller_uid=UID caller_pid=PID": appended to every decision line the daemon writes.
std::string Who(const Call& c) {
  return fmt::format(" caller_uid={} caller_pid={}", c.caller.uid, c.caller.pid);
}

std::string_view YesNo(bool b) { return b ? "yes" : "no"; }

// The optional rhost= of a request ("" when absent).
std::string_view RhostOf(const Call& c) {
  const std::string* rhost = c.req.fields.Get("rhost");
  return rhost != nullptr ? std::string_view(*rhost) : std::string_view();
}

}  // namespace

Status HandleVerify(Call& c) {
  const std::string *user = nullptr, *service = nullptr;
  Status s = Need(c, "user", &user);
  if (s.ok()) s = Need(c, "service", &service);
  if (!s.ok()) return s;
  const SecretBuffer* password = c.req.fields.GetSecret("password");
  if (password == nullptr) return Status::InvalidArgument("VERIFY needs password=");
  const OpenedStore* st = c.store.get();
  RecordUse record_use;
  if (st != nullptr && st->usage_open)
    record_use = [st](std::string_view id, const Usage& use) {
      return st->usage.Record(id, use, kDefaultUsageInterval);
    };
  const AuthResult r = Authenticate({.store = st != nullptr ? &st->store : nullptr,
                                     .unavailable = c.unavailable.message(),
                                     .ctx = {*service, *user, RhostOf(c)},
                                     .password = password->view(),
                                     .now = c.now},
                                    record_use);
  // The decision line as the shims write it, with who asked.
  for (const LogLine& line : r.log) Log(SyslogLevel(line.severity), line.text + Who(c));
  const Decision& d = r.decision;
  if (d.outcome == Outcome::kUnavailable && c.store != nullptr) c.holder.Invalidate(c.store);
  if (!(s = Put(c.ok, "outcome", OutcomeName(d.outcome))).ok()) return s;
  if (!d.id.empty()) {
    if (!(s = Put(c.ok, "id", d.id)).ok()) return s;
    if (!(s = Put(c.ok, "name", d.name)).ok()) return s;
  }
  if (!d.detail.empty() && !(s = Put(c.ok, "detail", d.detail)).ok()) return s;
  // Minor 1: what unenrolled=ignore decides by (verifier.h: false for bad-input and
  // unavailable, where no record was read).
  return Put(c.ok, "enrolled", YesNo(d.enrolled));
}

Status HandleCode(Call& c) {
  const std::string *user = nullptr, *service = nullptr;
  Status s = Need(c, "user", &user);
  if (s.ok()) s = Need(c, "service", &service);
  if (!s.ok()) return s;
  const SecretBuffer* code = c.req.fields.GetSecret("code");
  if (code == nullptr) return Status::InvalidArgument("CODE needs code=");
  CodeDecision d;
  if (c.store == nullptr) {
    d.outcome = CodeOutcome::kUnavailable;
    d.detail = c.unavailable.message();
  } else {
    // A code check writes (the step spent, the failure counted): one writer at a time.
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    d = CheckLoginCode(c.store->store, *user, code->view(), c.now);
  }
  const DecisionContext ctx{*service, *user, RhostOf(c)};
  const LogSeverity severity = CodePassed(d.outcome)                    ? LogSeverity::kInfo
                               : d.outcome == CodeOutcome::kUnavailable ? LogSeverity::kError
                                                                        : LogSeverity::kNotice;
  Log(SyslogLevel(severity), FormatCodeDecision(ctx, d) + Who(c));
  if (d.outcome == CodeOutcome::kUnavailable && c.store != nullptr) c.holder.Invalidate(c.store);
  if (!(s = Put(c.ok, "outcome", CodeOutcomeName(d.outcome))).ok()) return s;
  if (d.outcome == CodeOutcome::kRecoveryCode &&
      !(s = Put(c.ok, "codes_left", std::to_string(d.recovery_codes_left))).ok())
    return s;
  if (!d.detail.empty()) s = Put(c.ok, "detail", d.detail);
  return s;
}

Status HandleEnrolled(Call& c) {
  const std::string* user = nullptr;
  Status s = Need(c, "user", &user);
  if (!s.ok()) return s;
  // A name no user record can have is not enrolled: the answer VERIFY gives it
  // (bad-input, enrolled=no), with no store read.
  if (!ValidateUserName(*user).ok()) return Put(c.ok, "enrolled", "no");
  const OpenedStore* st = nullptr;
  if (!(s = StoreOf(c, &st)).ok()) return s;
  UserRecord u;
  s = MfaGet(st->store, *user, &u);
  if (s.IsNotFound()) return Put(c.ok, "enrolled", "no");
  if (!s.ok()) {
    // A record that does not decode, or a store that cannot be read: the broker cannot
    // say, and a caller must not take that for "not enrolled" (fail closed).
    Log(LOG_ERR, fmt::format("enrolled user={} unreadable detail={}{}", LogSafe(*user),
                             LogQuoted(s.message()), Who(c)));
    return Status::Unavailable(
        fmt::format("cannot read the enrollment of {}: {}", LogSafe(*user), s.message()));
  }
  return Put(c.ok, "enrolled", YesNo(u.mfa == MfaState::kConfirmed));
}

Status HandleAccount(Call& c) {
  const std::string* user = nullptr;
  Status s = Need(c, "user", &user);
  if (!s.ok()) return s;
  const AccountCheck a = CheckAccount(*user, c.now);
  const int level = a.state == AccountState::kOk            ? LOG_INFO
                    : a.state == AccountState::kUnavailable ? LOG_ERR
                                                            : LOG_NOTICE;
  std::string line = fmt::format("account user={} state={}", user->empty() ? "-" : LogSafe(*user),
                                 AccountStateName(a.state));
  if (!a.detail.empty()) line += " detail=" + LogQuoted(a.detail);
  Log(level, line + Who(c));
  if (!(s = Put(c.ok, "state", AccountStateName(a.state))).ok()) return s;
  if (!a.detail.empty()) s = Put(c.ok, "detail", a.detail);
  return s;
}

}  // namespace apppass::daemon::internal
