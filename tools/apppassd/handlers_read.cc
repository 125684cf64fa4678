// The handlers of self-service reads: LIST, MFA_STATUS, POLICY_SHOW (handlers.h has the
// table of who may send them), and the helpers every handler uses. The verifier kinds
// (VERIFY, CODE, ENROLLED, ACCOUNT) are in handlers_verify.cc.
#include <fmt/format.h>

#include "admin.h"
#include "handlers_internal.h"
#include "policy.h"
#include "text.h"

namespace apppass::daemon::internal {

using broker::Fields;
using broker::Reply;
using broker::ReplyType;

namespace {

// An app password's state in LIST.
std::string_view StateOf(const Credential& cred, std::int64_t now) {
  if (cred.revoked) return "revoked";
  return IsActive(cred, now) ? "active" : "expired";
}

}  // namespace

Status Need(const Call& c, std::string_view key, const std::string** out) {
  *out = c.req.fields.Get(key);
  if (*out != nullptr) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{} needs {}=", broker::RequestKindName(c.req.kind), key));
}

Status Put(Fields* f, std::string_view key, std::string_view value) {
  Status s = f->Add(key, value);
  return s.ok() ? s : Status::Internal(s.message());
}

std::vector<std::string> SplitSpaces(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = std::min(text.find(' ', i), text.size());
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

std::string JoinSpaces(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

Status StoreOf(const Call& c, const OpenedStore** out) {
  if (c.store == nullptr) return c.unavailable;
  *out = c.store.get();
  return Status::Ok();
}

Status HandleList(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  const std::string* revoked = c.req.fields.Get("revoked");
  std::vector<Listed> listed;
  if (!(s = ListPasswords(st->store, c.user, revoked != nullptr && *revoked == "yes", &listed))
           .ok())
    return s;
  for (const Listed& l : listed) {
    const Credential& cred = l.cred;
    Reply item;
    item.type = ReplyType::kItem;
    item.id = c.req.id;
    Fields& f = item.fields;
    s = Put(&f, "id", cred.id);
    if (s.ok()) s = Put(&f, "name", cred.name);
    if (s.ok()) s = Put(&f, "scopes", JoinSpaces(cred.scopes));
    if (s.ok() && cred.all_services) s = Put(&f, "all_services", "yes");
    if (s.ok()) s = Put(&f, "created", FormatIsoUtc(cred.created));
    if (s.ok() && cred.expires) s = Put(&f, "expires", FormatIsoUtc(*cred.expires));
    if (s.ok() && cred.revoked) s = Put(&f, "revoked", FormatIsoUtc(*cred.revoked));
    if (s.ok() && l.last_use) {
      s = Put(&f, "last_used", FormatIsoUtc(l.last_use->time));
      if (s.ok()) s = Put(&f, "last_service", l.last_use->service);
      if (s.ok() && !l.last_use->rhost.empty()) s = Put(&f, "last_rhost", l.last_use->rhost);
    }
    if (s.ok()) s = Put(&f, "state", StateOf(cred, c.now));
    if (!s.ok()) return s;
    c.items->push_back(std::move(item));
  }
  s = Put(c.ok, "count", std::to_string(listed.size()));
  if (s.ok()) s = Put(c.ok, "user", c.user);
  return s;
}

Status HandleMfaStatus(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  UserRecord u;
  s = MfaGet(st->store, c.user, &u);
  if (!s.ok() && !s.IsNotFound()) return s;
  const MfaState state = s.ok() ? u.mfa : MfaState::kNone;
  s = Put(c.ok, "user", c.user);
  if (s.ok()) s = Put(c.ok, "state", MfaStateName(state));
  if (state == MfaState::kNone) return s;
  if (s.ok()) s = Put(c.ok, "enrolled", FormatIsoUtc(u.enrolled));
  if (s.ok() && u.confirmed && state == MfaState::kConfirmed)
    s = Put(c.ok, "confirmed", FormatIsoUtc(*u.confirmed));
  if (s.ok()) s = Put(c.ok, "source", u.source);
  // Minor 1: how many unused recovery codes a confirmed user has (recovery_codes.h).
  if (s.ok() && state == MfaState::kConfirmed)
    s = Put(c.ok, "recovery_codes_left", std::to_string(u.recovery.size()));
  // Minor 2: a new authenticator app waits for MFA_REPLACE_CONFIRM (mfa_replace.h).
  if (s.ok() && state == MfaState::kConfirmed && !u.pending_secret.empty())
    s = Put(c.ok, "replacement_pending", FormatIsoUtc(u.pending_since));
  return s;
}

Status HandlePolicyShow(Call& c) {
  const OpenedStore* st = nullptr;
  Status s = StoreOf(c, &st);
  if (!s.ok()) return s;
  Policy p;
  if (!(s = ReadPolicy(st->store, &p)).ok()) return s;
  for (std::string_view key : kPolicyKeys)
    if (!(s = Put(c.ok, key, PolicyValueText(p, key))).ok()) return s;
  return s;
}

}  // namespace apppass::daemon::internal
