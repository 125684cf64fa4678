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
  kPortal,  // the portal's uid only (--portal-user)
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
    // Minor 2 (issue 13):
    {RequestKind::kMfaReplace, Who::kSelf, "mfa-replace", internal::HandleMfaReplace},
    {RequestKind::kMfaReplaceConfirm, Who::kSelf, "mfa-replace-confirm",
     internal::HandleMfaReplaceConfirm},
    {RequestKind::kSignin, Who::kPortal, nullptr, internal::HandleSignin},
    {RequestKind::kSigninCode, Who::kPortal, nullptr, internal::HandleSigninCode},
    {RequestKind::kSigninEnroll, Who::kPortal, "mfa-enroll", internal::HandleSigninEnroll},
    {RequestKind::kSigninConfirm, Who::kPortal, "mfa-confirm", internal::HandleSigninConfirm},
    {RequestKind::kSession, Who::kPortal, nullptr, internal::HandleSession},
    {RequestKind::kSignout, Who::kPortal, nullptr, internal::HandleSignout},
};

const Entry* Find(RequestKind kind) {
  for (const Entry& e : kTable)
    if (e.kind == kind) return &e;
  return nullptr;
}

bool FromPortal(const Caller& caller, const HandlerConfig& config) {
  return config.portal_uid && caller.uid == *config.portal_uid;
}

// Whether `caller` may send `e`'s kind; for kSelf also names the user: the caller's own,
// or, from the portal, the user of the request's live session (touched; `*session` set).
Status Admit(const Entry& e, const Caller& caller, const broker::Request& req,
             const HandlerConfig& config, Sessions& sessions, std::int64_t now, std::string* user,
             const SecretBuffer** session, std::string* reason) {
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
    case Who::kPortal:
      if (FromPortal(caller, config)) return Status::Ok();
      Log(LOG_NOTICE, fmt::format("refused {} from uid={} pid={}: not the portal's user ({})",
                                  broker::RequestKindName(e.kind), caller.uid, caller.pid,
                                  config.portal_uid ? LogSafe(config.portal_user) : "none"));
      return Status::PermissionDenied("only the web portal may sign users in");
    case Who::kSelf: {
      if (FromPortal(caller, config)) {
        const SecretBuffer* token = req.fields.GetSecret("session");
        SessionInfo info;
        if (token == nullptr || !sessions.Use(token->view(), now, &info).ok()) {
          *reason = "expired";
          return Status::PermissionDenied("session expired; sign in again");
        }
        *user = info.user;
        *session = token;
        return Status::Ok();
      }
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
    std::string user, reason;
    const SecretBuffer* session = nullptr;
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    ChangeEvent event{.op = e->change != nullptr ? e->change : "", .uid = caller.uid};
    Status s = Admit(*e, caller, req, config_, sessions_, now, &user, &session, &reason);
    std::string audit_user = user;  // the audit names the caller's user for every kind
    if (e->change != nullptr && audit_user.empty() && e->who != Who::kPortal &&
        !UserNameOf(caller.uid, &audit_user).ok())
      audit_user.clear();
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
                .now = now,
                .items = &a.items,
                .ok = &a.final.fields,
                .event = &event,
                .sessions = sessions_,
                .throttle = throttle_,
                .session = session,
                .reason = &reason,
                .audit_user = &audit_user};
      if (session != nullptr) s = internal::CheckSessionEnrollment(call);
      if (s.ok()) s = e->handle(call);
      if (s.code() == Status::Code::kUnavailable && store != nullptr) store_.Invalidate(store);
    }
    event.user = audit_user;
    if (e->change != nullptr) AuditChange(event, s);
    if (s.ok() && e->kind == RequestKind::kRevoke)  // committed: caches must forget them
      a.hooks =
          HookEvent{.event = kHookEventRevoke, .user = user, .ids = event.ids, .db = store_.dir()};
    if (!s.ok()) {
      a.items.clear();
      a.final = broker::FailReply(req.id, s);
      if (!reason.empty()) (void)a.final.fields.Add("reason", reason);
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
