// The table of apppassd's requests and the dispatcher: who may send what (handlers.h),
// the caller's user for self-service kinds, the store, the audit of changes.
#include "handlers.h"

#include <syslog.h>

#include <ctime>

#include <fmt/format.h>

#include "audit.h"
#include "handlers_internal.h"
#include "text.h"

namespace apppass::daemon {

namespace {

using broker::ReplyType;
using broker::RequestKind;
using internal::Call;

// Who may send a kind (the table's second column).
enum class Who {
  kVerifier,  // root or a member of the verify group
  kSelf,      // any uid with a passwd entry, for its own user
  kAnyone,
  kRoot,
};

struct Entry {
  RequestKind kind;
  Who who;
  const char* change;  // the audit op of a change; nullptr for a read
  Status (*handle)(Call&);
};

// Everything apppassd answers. A kind not here is refused before any handler runs.
constexpr Entry kTable[] = {
    {RequestKind::kVerify, Who::kVerifier, nullptr, internal::HandleVerify},
    {RequestKind::kCode, Who::kVerifier, nullptr, internal::HandleCode},
    {RequestKind::kEnrolled, Who::kVerifier, nullptr, internal::HandleEnrolled},
    {RequestKind::kAccount, Who::kVerifier, nullptr, internal::HandleAccount},
    {RequestKind::kList, Who::kSelf, nullptr, internal::HandleList},
    {RequestKind::kMfaStatus, Who::kSelf, nullptr, internal::HandleMfaStatus},
    {RequestKind::kCreate, Who::kSelf, "create", internal::HandleCreate},
    {RequestKind::kRevoke, Who::kSelf, "revoke", internal::HandleRevoke},
    {RequestKind::kMfaEnroll, Who::kSelf, "mfa-enroll", internal::HandleMfaEnroll},
    {RequestKind::kMfaConfirm, Who::kSelf, "mfa-confirm", internal::HandleMfaConfirm},
    {RequestKind::kMfaRecovery, Who::kSelf, "mfa-recovery-codes", internal::HandleMfaRecovery},
    {RequestKind::kPolicyShow, Who::kAnyone, nullptr, internal::HandlePolicyShow},
    {RequestKind::kPolicySet, Who::kRoot, "policy-set", internal::HandlePolicySet},
};

const Entry* Find(RequestKind kind) {
  for (const Entry& e : kTable)
    if (e.kind == kind) return &e;
  return nullptr;
}

// Whether `caller` may send `e`'s kind; for kSelf also names the user.
Status Admit(const Entry& e, const Caller& caller, const HandlerConfig& config, std::string* user) {
  switch (e.who) {
    case Who::kAnyone: return Status::Ok();
    case Who::kRoot:
      return caller.uid == 0 ? Status::Ok()
                             : Status::PermissionDenied("only root may change the policy");
    case Who::kVerifier:
      if (caller.uid == 0 || (config.verify_gid && InGroup(caller, *config.verify_gid)))
        return Status::Ok();
      Log(LOG_NOTICE, fmt::format("refused {} from uid={} pid={}: not root and not in group {}",
                                  broker::RequestKindName(e.kind), caller.uid, caller.pid,
                                  LogSafe(config.group)));
      return Status::PermissionDenied("not allowed to verify");
    case Who::kSelf: {
      Status s = UserNameOf(caller.uid, user);
      if (s.IsNotFound())
        return Status::PermissionDenied(
            fmt::format("uid {} has no user name: there is no account to act on", caller.uid));
      return s;
    }
  }
  return Status::Internal("unknown right");
}

}  // namespace

Answer Handlers::Handle(const Caller& caller, const broker::Request& req) noexcept {
  try {
    Answer a;
    a.final.type = ReplyType::kOk;
    a.final.id = req.id;
    const Entry* e = Find(req.kind);
    if (e == nullptr) {
      a.final = broker::FailReply(
          req.id, broker::ReplyCode::kUnknownRequest,
          fmt::format("unknown request kind {}", broker::RequestKindName(req.kind)));
      return a;
    }
    std::string user;
    ChangeEvent event{.op = e->change != nullptr ? e->change : "", .uid = caller.uid};
    Status s = Admit(*e, caller, config_, &user);
    std::string audit_user = user;  // the audit names the caller's user for every kind
    if (e->change != nullptr && audit_user.empty() && !UserNameOf(caller.uid, &audit_user).ok())
      audit_user.clear();
    event.user = audit_user;
    if (e->kind == RequestKind::kPolicySet) {  // said even when refused
      const std::string* key = req.fields.Get("key");
      const std::string* value = req.fields.Get("value");
      if (key != nullptr) event.key = *key;
      if (value != nullptr) event.value = *value;
    }
    if (s.ok()) {
      StoreHolder::Ref store;
      const Status unavailable = store_.Get(&store);
      Call call{.caller = caller,
                .user = user,
                .req = req,
                .config = config_,
                .holder = store_,
                .store = store,
                .unavailable = unavailable,
                .now = static_cast<std::int64_t>(std::time(nullptr)),
                .items = &a.items,
                .ok = &a.final.fields,
                .event = &event};
      s = e->handle(call);
      if (s.code() == Status::Code::kUnavailable && store != nullptr) store_.Invalidate(store);
    }
    if (e->change != nullptr) AuditChange(event, s);
    if (s.ok() && e->kind == RequestKind::kRevoke)  // committed: caches must forget them
      a.hooks =
          HookEvent{.event = kHookEventRevoke, .user = user, .ids = event.ids, .db = store_.dir()};
    if (!s.ok()) {
      a.items.clear();
      a.final = broker::FailReply(req.id, s);
    }
    return a;
  } catch (...) {
    Log(LOG_ERR, fmt::format("internal error answering {} from uid={}",
                             broker::RequestKindName(req.kind), caller.uid));
    Answer a;
    a.final = broker::FailReply(req.id, broker::ReplyCode::kInternal, "internal error");
    return a;
  }
}

void Handlers::RunHooksFor(const Answer& answer) const noexcept {
  if (!answer.hooks || config_.hooks_dir.empty()) return;
  try {
    const HookEvent& ev = *answer.hooks;
    RunHooks(config_.hooks_dir, ev, [&ev](const std::string& line) {
      Log(LOG_WARNING,
          fmt::format("{} of user {}: {}", ev.event, LogSafe(ev.user), TerminalSafe(line)));
    });
  } catch (...) {
    Log(LOG_ERR, "internal error running the hooks");
  }
}

}  // namespace apppass::daemon
