// The handlers that change the store: CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM,
// MFA_RECOVERY (the caller's own account, self_service.h: a TOTP code each but for
// MFA_ENROLL, checked in the same transaction as the change) and POLICY_SET (root,
// policy.h). One at a time (StoreHolder's change
// mutex); the dispatcher (handlers.cc) audits each, done or refused.
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "handlers_internal.h"
#include "mfa_replace.h"
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

// CREATE's and REVOKE's second factor: the portal's session when the request came with
// one (the dispatcher checked it), else the code.
SecondFactor FactorOf(const Call& c) {
  return c.session != nullptr ? SecondFactor::Session() : SecondFactor::Code(CodeOf(c));
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

// New recovery codes as the answer: one ITEM with recovery_code= (a secret key: held in
// SecretBuffers only, broker_protocol.h) per code, then count= on the OK. Nothing when
// `codes` is empty (an MFA_CONFIRM that re-checked a confirmed enrollment).
Status PutRecoveryCodes(Call& c, const std::vector<SecretBuffer>& codes) {
  if (codes.empty()) return Status::Ok();
  for (const SecretBuffer& code : codes) {
    broker::Reply item;
    item.type = broker::ReplyType::kItem;
    item.id = c.req.id;
    if (Status s = Put(&item.fields, "recovery_code", code.view()); !s.ok()) return s;
    c.items->push_back(std::move(item));
  }
  return Put(c.ok, "count", std::to_string(codes.size()));
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
    s = SelfCreate(st->store, c.user, req, FactorOf(c), c.now, &created);
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
    s = SelfRevoke(st->store, c.user, sel, FactorOf(c), c.now, &ids);
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
  std::vector<SecretBuffer> codes;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaConfirm(st->store, c.user, CodeOf(c), c.now, &codes);
  }
  if (!s.ok()) return s;
  // Confirming a pending enrollment made the user's recovery codes: shown this once.
  return PutRecoveryCodes(c, codes);
}

Status HandleMfaRecovery(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  std::vector<SecretBuffer> codes;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfRecoveryCodes(st->store, c.user, CodeOf(c), c.now, &codes);
  }
  if (!s.ok()) return s;
  return PutRecoveryCodes(c, codes);
}

Status HandleMfaReplace(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  EnrollResult r;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaReplace(st->store, c.user, CodeOf(c), c.config.issuer, c.now, &r);
  }
  if (!s.ok()) return s;
  s = Put(c.ok, "secret", r.base32.view());
  if (s.ok()) s = Put(c.ok, "uri", r.uri);
  if (s.ok()) s = Put(c.ok, "issuer", c.config.issuer);
  if (s.ok()) s = Put(c.ok, "account", c.user);
  WipeString(r.uri);
  return s;
}

Status HandleMfaReplaceConfirm(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  UserRecord u;
  {
    std::lock_guard<std::mutex> guard(c.holder.change_mutex());
    s = SelfMfaReplaceConfirm(st->store, c.user, CodeOf(c), c.now);
    if (s.ok()) s = MfaGet(st->store, c.user, &u);
  }
  if (!s.ok()) return s;
  // The user's other portal sessions end at their next use (their stamp is the old
  // enrollment's); the one that made the change goes on with the new one.
  if (c.session != nullptr) c.sessions.SetStamp(c.session->view(), EnrollmentStamp(u));
  return s;
}

}  // namespace apppass::daemon::internal
