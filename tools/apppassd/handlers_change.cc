// The handlers that change the store: CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM (the
// caller's own account, self_service.h: a TOTP code each, checked in the same transaction
// as the change) and POLICY_SET (root, policy.h). One at a time (StoreHolder's change
// mutex); the dispatcher (handlers.cc) audits each, done or refused.
#include <mutex>

#include <fmt/format.h>

#include "handlers_internal.h"
#include "policy.h"
#include "self_service.h"
#include "text.h"

namespace apppass::daemon::internal {

namespace {

// The code sent with a change; an empty buffer when there is none (refused by the
// self-service call as a wrong code, with the same message).
const SecretBuffer& CodeOf(const Call& c) {
  static const SecretBuffer kNone;
  const SecretBuffer* code = c.req.fields.GetSecret("code");
  return code != nullptr ? *code : kNone;
}

// CREATE's expires: absent is the policy's default, "never" asks for none (refused when
// the policy sets max_expiry), else a duration.
Status CreateExpiry(const Call& c, SelfCreateRequest* req) {
  const std::string* text = c.req.fields.Get("expires");
  if (text == nullptr) return Status::Ok();
  if (*text == "never") {
    req->never = true;
    return Status::Ok();
  }
  req->expires = ParseDuration(*text);
  if (!req->expires)
    return Status::InvalidArgument("expires takes a duration such as 90d, 12h, 30m, 2w or 'never'");
  return Status::Ok();
}

}  // namespace

Status HandlePolicySet(Call& c) {
  const std::string *key = nullptr, *value = nullptr;
  Status s = Need(c, "key", &key);
  if (s.ok()) s = Need(c, "value", &value);
  if (!s.ok()) return s;
  const OpenedStore* st = nullptr;
  if (!(s = StoreOf(c, &st)).ok()) return s;
  std::lock_guard<std::mutex> guard(c.holder.change_mutex());
  return SetPolicy(st->store, *key, *value);
}

Status HandleCreate(Call& c) {
  const std::string *name = nullptr, *scopes = nullptr;
  Status s = Need(c, "name", &name);
  if (s.ok()) s = Need(c, "scopes", &scopes);
  if (!s.ok()) return s;
  SelfCreateRequest req{.name = *name, .scopes = SplitSpaces(*scopes)};
  if (!(s = CreateExpiry(c, &req)).ok()) return s;
  const OpenedStore* st = nullptr;
  if (!(s = StoreOf(c, &st)).ok()) return s;
  Created created;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfCreate(st->store, c.user, req, CodeOf(c), c.now, &created);
  }
  if (!s.ok()) return s;
  const Credential& cred = created.cred;
  c.event->ids.push_back(cred.id);
  s = Put(c.ok, "id", cred.id);
  if (s.ok()) s = Put(c.ok, "user", cred.user);
  if (s.ok()) s = Put(c.ok, "name", cred.name);
  if (s.ok()) s = Put(c.ok, "scopes", JoinSpaces(cred.scopes));
  if (s.ok()) s = Put(c.ok, "created", FormatIsoUtc(cred.created));
  if (s.ok() && cred.expires) s = Put(c.ok, "expires", FormatIsoUtc(*cred.expires));
  if (s.ok()) s = Put(c.ok, "password", created.password.view());  // into a SecretBuffer
  return s;
}

Status HandleRevoke(Call& c) {
  RevokeSelector sel;
  const std::string* id = c.req.fields.Get("id");
  const std::string* name = c.req.fields.Get("name");
  const std::string* all = c.req.fields.Get("all");
  if ((id != nullptr) + (name != nullptr) + (all != nullptr) != 1 ||
      (all != nullptr && *all != "yes"))
    return Status::InvalidArgument("REVOKE needs exactly one of id=, name= or all=yes");
  if (id != nullptr) sel.id = *id;
  if (name != nullptr) sel.name = *name;
  sel.all = all != nullptr;
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfRevoke(st->store, c.user, sel, CodeOf(c), c.now, &ids);
  }
  if (!s.ok()) return s;
  c.event->ids = ids;
  return Put(c.ok, "revoked", JoinSpaces(ids));
}

Status HandleMfaEnroll(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  EnrollResult r;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaEnroll(st->store, c.user, c.config.issuer, c.now, &r);
  }
  if (!s.ok()) return s;
  s = Put(c.ok, "secret", r.base32.view());
  if (s.ok()) s = Put(c.ok, "uri", r.uri);
  WipeString(r.uri);
  return s;
}

Status HandleMfaConfirm(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> guard(c.holder.change_mutex());
  return SelfMfaConfirm(st->store, c.user, CodeOf(c), c.now);
}

}  // namespace apppass::daemon::internal
