// The web portal's kinds (protocol minor 2, issue 13), from the portal's uid only:
// SIGNIN (the password through the PAM service --portal-pam-service, pam_signin.h),
// SIGNIN_CODE (a TOTP or recovery code, second_factor.h), SIGNIN_ENROLL and SIGNIN_CONFIRM
// (a user without MFA sets it up), SESSION and SIGNOUT; and the session check of the
// self-service kinds the portal sends for a signed-in user. Sessions and pending sign-ins
// are in memory (sessions.h); failures are throttled per user name and per client address
// (signin_throttle.h). A refusal carries reason= (wrong, throttled, expired, no_mfa).
//
// Log lines, in the decision format (decision_log.h) so that the fail2ban filter reads
// them, with service=apppass-web and rhost= the client address the portal sent:
//
//   refused service=apppass-web user=alice rhost=192.0.2.7 reason=wrong-password detail="..."
//   refused service=apppass-web user=alice rhost=192.0.2.7 reason=throttled
//   refused service=apppass-web user=alice rhost=192.0.2.7 reason=no-mfa
//   signin service=apppass-web user=alice rhost=192.0.2.7 next=code
//   refused service=apppass-web user=alice rhost=192.0.2.7 factor=totp reason=wrong-code
//   accepted service=apppass-web user=alice rhost=192.0.2.7 factor=totp
//   signout service=apppass-web user=alice
#include <sodium.h>
#include <syslog.h>

#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "admin.h"
#include "code_throttle.h"
#include "decision_log.h"
#include "handlers_internal.h"
#include "pam_signin.h"
#include "policy.h"
#include "second_factor.h"
#include "self_service.h"
#include "text.h"

namespace apppass::daemon::internal {

namespace {

constexpr std::string_view kService = "apppass-web";
constexpr std::chrono::milliseconds kPamTimeout{10000};
constexpr std::size_t kMaxClientLength = 255;

constexpr const char* kWrongSignin = "wrong user name or password";
constexpr const char* kThrottled = "too many attempts; try again later";
constexpr const char* kSignInAgain = "sign in again";

// The client address the portal sent (for the throttle and the log only).
Status ClientOf(const Call& c, const std::string** out) {
  Status s = Need(c, "client", out);
  if (!s.ok()) return s;
  if ((*out)->empty() || (*out)->size() > kMaxClientLength)
    return Status::InvalidArgument("client= must be 1 to 255 bytes");
  return Status::Ok();
}

// A secret field the request must have.
Status NeedSecret(const Call& c, std::string_view key, const SecretBuffer** out) {
  *out = c.req.fields.GetSecret(key);
  if (*out != nullptr) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{} needs {}=", broker::RequestKindName(c.req.kind), key));
}

DecisionContext Ctx(const std::string& user, const std::string& client) {
  return {kService, user, client};
}

// The pending sign-in of the request's signin= (for `client` when given): Denied expired
// when there is none, or when it does not lead to `next`.
Status PendingOf(Call& c, const std::string* client, SigninNext next, const SecretBuffer** token,
                 PendingSignin* p) {
  Status s = NeedSecret(c, "signin", token);
  if (!s.ok()) return s;
  if (!c.sessions.FindSignin((*token)->view(), client, c.now, p).ok() || p->next != next)
    return Denied(c, "expired", kSignInAgain);
  *c.audit_user = p->user;
  return Status::Ok();
}

// A new session for `user` (whose confirmed enrollment is read for its stamp), its token
// and user= on the OK.
Status OpenSession(Call& c, const std::string& user, int* recovery_left = nullptr) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  UserRecord u;
  if (!(s = MfaGet(st->store, user, &u)).ok())
    return s.IsNotFound() ? Denied(c, "expired", kSignInAgain) : s;
  if (recovery_left != nullptr) *recovery_left = static_cast<int>(u.recovery.size());
  SecretBuffer token;
  if (!(s = c.sessions.Open(user, EnrollmentStamp(u), c.now, &token)).ok()) return s;
  s = Put(c.ok, "session", token.view());
  if (s.ok()) s = Put(c.ok, "user", user);
  return s;
}

// The start both code steps share (SIGNIN_CODE, SIGNIN_CONFIRM): the client and the code
// from the request, the pending sign-in waiting for `next`, the throttle (checked before
// any code is compared), the store.
struct CodeStep {
  const std::string* client = nullptr;
  const SecretBuffer* code = nullptr;
  const SecretBuffer* token = nullptr;
  PendingSignin pending;
  const OpenedStore* store = nullptr;
};

Status BeginCodeStep(Call& c, SigninNext next, CodeStep* out) {
  Status s = ClientOf(c, &out->client);
  if (s.ok()) s = NeedSecret(c, "code", &out->code);
  if (s.ok()) s = PendingOf(c, out->client, next, &out->token, &out->pending);
  if (!s.ok()) return s;
  if (c.throttle.Throttled(out->pending.user, *out->client, c.now)) {
    Log(LOG_NOTICE,
        FormatEarlyRefusal(Ctx(out->pending.user, *out->client), "refused", "throttled", ""));
    return Denied(c, "throttled", kThrottled);
  }
  return StoreOf(c, &out->store);
}

// A wrong code in a sign-in step: a failure for the throttle and for the pending sign-in
// (dropped after the third), and the reply that says so.
Status WrongCode(Call& c, const CodeStep& step) {
  c.throttle.Failure(step.pending.user, *step.client, c.now);
  c.sessions.SigninWrongCode(step.token->view());
  return Denied(c, "wrong", kWrongCodeMessage);
}

}  // namespace

Status Denied(Call& c, std::string_view reason, std::string_view message) {
  *c.reason = std::string(reason);
  return Status::PermissionDenied(std::string(message));
}

std::string EnrollmentStamp(const UserRecord& u) {
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash,
                     reinterpret_cast<const unsigned char*>(u.sealed_secret.data()),
                     u.sealed_secret.size(), nullptr, 0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return fmt::format("{}:{}", u.enrolled, hex);
}

Status CheckSessionEnrollment(Call& c) {
  if (c.session == nullptr) return Status::Ok();
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  SessionInfo info;
  if (!c.sessions.Use(c.session->view(), c.now, &info).ok())
    return Denied(c, "expired", "session expired; sign in again");
  UserRecord u;
  s = MfaGet(st->store, info.user, &u);
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.IsNotFound() || u.mfa != MfaState::kConfirmed || EnrollmentStamp(u) != info.stamp) {
    c.sessions.End(c.session->view());
    Log(LOG_NOTICE, fmt::format("session of user={} ended: the enrollment was reset or replaced",
                                LogSafe(info.user)));
    return Denied(c, "expired", "session expired; sign in again");
  }
  return Status::Ok();
}

Status HandleSignin(Call& c) {
  const std::string *user = nullptr, *client = nullptr;
  Status s = Need(c, "user", &user);
  if (s.ok()) s = ClientOf(c, &client);
  const SecretBuffer* password = nullptr;
  if (s.ok()) s = NeedSecret(c, "password", &password);
  if (!s.ok()) return s;
  *c.audit_user = *user;
  const DecisionContext ctx = Ctx(*user, *client);
  if (c.throttle.Throttled(*user, *client, c.now)) {
    Log(LOG_NOTICE, FormatEarlyRefusal(ctx, "refused", "throttled", ""));
    return Denied(c, "throttled", kThrottled);
  }
  PamResult r;
  if (!ValidateUserName(*user).ok() || password->size() == 0) {
    r = {PamOutcome::kWrong, "not a usable user name or password"};
  } else {
    r = PamSignIn(c.config.portal_service, *user, *password, *client, kPamTimeout);
  }
  if (r.outcome == PamOutcome::kUnavailable) {
    Log(LOG_ERR, FormatEarlyRefusal(ctx, "error", "unavailable", r.detail));
    return Status::Unavailable("signing in is not possible right now; try again later");
  }
  if (r.outcome == PamOutcome::kWrong) {
    c.throttle.Failure(*user, *client, c.now);
    Log(LOG_NOTICE, FormatEarlyRefusal(ctx, "refused", "wrong-password", r.detail));
    return Denied(c, "wrong", kWrongSignin);
  }
  c.throttle.Success(*user);
  // The password is right: the next step is the code, or setting MFA up.
  const OpenedStore* st = nullptr;
  if (!(s = StoreOf(c, &st)).ok()) return s;
  UserRecord u;
  s = MfaGet(st->store, *user, &u);
  if (!s.ok() && !s.IsNotFound()) return s;
  SigninNext next = SigninNext::kCode;
  if (!s.ok() || u.mfa != MfaState::kConfirmed) {
    Policy policy;
    if (!(s = ReadPolicy(st->store, &policy)).ok()) return s;
    if (!policy.self_enroll) {
      Log(LOG_NOTICE, FormatEarlyRefusal(ctx, "refused", "no-mfa", ""));
      return Denied(c, "no_mfa", kSelfEnrollOffMessage);
    }
    next = SigninNext::kEnroll;
  }
  SecretBuffer token;
  if (!(s = c.sessions.StartSignin(*user, *client, next, c.now, &token)).ok()) return s;
  Log(LOG_INFO, fmt::format("signin service={} user={} rhost={} next={}", kService, LogSafe(*user),
                            LogSafe(*client), SigninNextName(next)));
  s = Put(c.ok, "signin", token.view());
  if (s.ok()) s = Put(c.ok, "next", SigninNextName(next));
  return s;
}

Status HandleSigninCode(Call& c) {
  CodeStep step;
  Status s = BeginCodeStep(c, SigninNext::kCode, &step);
  if (!s.ok()) return s;
  const PendingSignin& p = step.pending;
  const DecisionContext ctx = Ctx(p.user, *step.client);
  CodeDecision d;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    d = CheckLoginCode(step.store->store, p.user, step.code->view(), c.now);
  }
  Log(CodePassed(d.outcome)                    ? LOG_INFO
      : d.outcome == CodeOutcome::kUnavailable ? LOG_ERR
                                               : LOG_NOTICE,
      FormatCodeDecision(ctx, d));
  switch (d.outcome) {
    case CodeOutcome::kAccepted:
    case CodeOutcome::kRecoveryCode: {
      c.sessions.EndSignin(step.token->view());
      int left = 0;
      if (!(s = OpenSession(c, p.user, &left)).ok()) return s;
      s = Put(c.ok, "recovery_codes_left", std::to_string(left));
      if (s.ok() && d.outcome == CodeOutcome::kRecoveryCode)
        s = Put(c.ok, "recovery_code_used", "yes");
      return s;
    }
    case CodeOutcome::kThrottled:
      return Denied(c, "throttled", d.detail.empty() ? std::string(kThrottled) : d.detail);
    case CodeOutcome::kNotEnrolled:  // reset meanwhile
      c.sessions.EndSignin(step.token->view());
      return Denied(c, "expired", kSignInAgain);
    case CodeOutcome::kUnavailable:
      return Status::Unavailable(d.detail.empty() ? "the store cannot be used" : d.detail);
    case CodeOutcome::kReusedCode:
    case CodeOutcome::kWrongCode:
    case CodeOutcome::kBadInput: break;
  }
  return WrongCode(c, step);
}

Status HandleSigninEnroll(Call& c) {
  const std::string* client = c.req.fields.Get("client");  // optional: checked when sent
  const SecretBuffer* token = nullptr;
  PendingSignin p;
  Status s = PendingOf(c, client, SigninNext::kEnroll, &token, &p);
  if (!s.ok()) return s;
  const OpenedStore* st = nullptr;
  if (!(s = StoreOf(c, &st)).ok()) return s;
  EnrollResult r;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaEnroll(st->store, p.user, c.config.issuer, c.now, &r);
  }
  if (!s.ok()) return s;
  s = Put(c.ok, "secret", r.base32.view());
  if (s.ok()) s = Put(c.ok, "uri", r.uri);
  if (s.ok()) s = Put(c.ok, "issuer", c.config.issuer);
  if (s.ok()) s = Put(c.ok, "account", p.user);
  WipeString(r.uri);
  return s;
}

Status HandleSigninConfirm(Call& c) {
  CodeStep step;
  Status s = BeginCodeStep(c, SigninNext::kEnroll, &step);
  if (!s.ok()) return s;
  const PendingSignin& p = step.pending;
  const DecisionContext ctx = Ctx(p.user, *step.client);
  std::vector<SecretBuffer> codes;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaConfirm(step.store->store, p.user, *step.code, c.now, &codes);
  }
  CodeDecision d;
  d.outcome = s.ok()                                        ? CodeOutcome::kAccepted
              : IsCodeThrottled(s)                          ? CodeOutcome::kThrottled
              : s.code() == Status::Code::kPermissionDenied ? CodeOutcome::kWrongCode
                                                            : CodeOutcome::kUnavailable;
  if (!s.ok() && d.outcome != CodeOutcome::kWrongCode) d.detail = s.message();
  if (s.ok() || IsCodeThrottled(s) || s.message() == kWrongCodeMessage)
    Log(s.ok() ? LOG_INFO : LOG_NOTICE, FormatCodeDecision(ctx, d));
  if (IsCodeThrottled(s)) return Denied(c, "throttled", s.message());
  if (s.code() == Status::Code::kPermissionDenied && s.message() == kWrongCodeMessage)
    return WrongCode(c, step);
  if (!s.ok()) return s;
  c.sessions.EndSignin(step.token->view());
  for (const SecretBuffer& rc : codes) {
    broker::Reply item;
    item.type = broker::ReplyType::kItem;
    item.id = c.req.id;
    if (!(s = Put(&item.fields, "recovery_code", rc.view())).ok()) return s;
    c.items->push_back(std::move(item));
  }
  return OpenSession(c, p.user);
}

Status HandleSession(Call& c) {
  const SecretBuffer* token = nullptr;
  Status s = NeedSecret(c, "session", &token);
  if (!s.ok()) return s;
  SessionInfo info;
  if (!c.sessions.Use(token->view(), c.now, &info).ok())
    return Denied(c, "expired", "session expired; sign in again");
  *c.audit_user = info.user;
  // The enrollment it began with must still be the user's (reset or replaced: ended).
  const SecretBuffer* saved = c.session;
  c.session = token;
  s = CheckSessionEnrollment(c);
  c.session = saved;
  if (!s.ok()) return s;
  s = Put(c.ok, "user", info.user);
  if (s.ok()) s = Put(c.ok, "idle_left", std::to_string(info.idle_left));
  if (s.ok()) s = Put(c.ok, "expires_in", std::to_string(info.expires_in));
  return s;
}

Status HandleSignout(Call& c) {
  const SecretBuffer* token = nullptr;
  Status s = NeedSecret(c, "session", &token);
  if (!s.ok()) return s;
  SessionInfo info;
  if (c.sessions.Use(token->view(), c.now, &info).ok()) {
    Log(LOG_INFO, fmt::format("signout service={} user={}", kService, LogSafe(info.user)));
    c.sessions.End(token->view());
  }
  return Status::Ok();
}

}  // namespace apppass::daemon::internal
