#include "self_service.h"

#include <algorithm>

#include <fmt/format.h>

#include "admin_internal.h"
#include "code_throttle.h"
#include "text.h"

namespace apppass {

using namespace admin_internal;

namespace {

// Checks `code` for `*u` under the throttle (code_throttle.h) in `*txn`, begun by
// BeginUserUpdate with nothing written yet, and writes the spent step into it. A wrong
// code is counted (committed on its own: no change was written) and answered with one
// message whatever TotpCheck said; the lockout keeps its own.
Status SpendCode(const Store& store, StoreTxn* txn, const SecretBuffer& code, std::int64_t now,
                 UserRecord* u) {
  Status s = CheckCodeThrottled(store, txn, code.view(), now, u);
  if (s.code() == Status::Code::kPermissionDenied && !IsCodeThrottled(s))
    return Status::PermissionDenied(kWrongCodeMessage);
  if (!s.ok()) return s;
  return PutUser(*txn, *u);
}

// Begins the write transaction of a change by `user` and spends `code` in it: the user's
// enrollment must be confirmed and `code` a current one not used before. The caller's
// change and the code's use commit together, or neither does.
// `*u` (when given) is the user's enrollment as written, the code spent.
// `code` null: the second factor was a portal session (SecondFactor::Session); only the
// confirmed enrollment is checked, nothing spent.
Status BeginWithCode(const Store& store, const std::string& user, const SecretBuffer* code,
                     std::int64_t now, StoreTxn* txn, UserRecord* spent = nullptr) {
  UserRecord u;
  bool found = false;
  Status s = BeginUserUpdate(store, user, txn, &u, &found);
  if (!s.ok()) return s;
  if (!found || u.mfa != MfaState::kConfirmed) return Status::PermissionDenied(kNoMfaMessage);
  if (code != nullptr && !(s = SpendCode(store, txn, *code, now, &u)).ok()) return s;
  if (spent != nullptr) *spent = std::move(u);
  return Status::Ok();
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) {
    if (!out.empty()) out += ' ';
    out += x;
  }
  return out;
}

// What `req` asks for, against `policy`: the scopes, and the absolute expiry into
// `*expires` (nullopt: never).
Status CheckAgainstPolicy(const Policy& policy, const SelfCreateRequest& req, std::int64_t now,
                          std::optional<std::int64_t>* expires) {
  const std::string allowed = Joined(policy.self_service_scopes);
  if (req.scopes.empty())
    return Status::InvalidArgument(
        fmt::format("choose the services the app password is for (one or more of: {})", allowed));
  for (const auto& sc : req.scopes)
    if (std::find(policy.self_service_scopes.begin(), policy.self_service_scopes.end(), sc) ==
        policy.self_service_scopes.end())
      return Status::InvalidArgument(fmt::format("scope {} is not one you may choose (allowed: {})",
                                                 LogQuoted(sc, 40), allowed));

  std::optional<std::int64_t> lifetime;
  if (req.never) {
    if (req.expires) return Status::InvalidArgument("an expiry and 'never' at once");
    if (policy.max_expiry)
      return Status::InvalidArgument(fmt::format("the longest expiry allowed is {}; 'never' is not",
                                                 DurationText(*policy.max_expiry)));
  } else if (req.expires) {
    // ParseDuration's range: positive, at most 100 years (no overflow below).
    if (*req.expires <= 0 || !ParseDuration(std::to_string(*req.expires)))
      return Status::InvalidArgument("the expiry must be a duration such as 90d");
    if (policy.max_expiry && *req.expires > *policy.max_expiry)
      return Status::InvalidArgument(
          fmt::format("the longest expiry allowed is {}", DurationText(*policy.max_expiry)));
    lifetime = req.expires;
  } else {
    lifetime = EffectiveDefaultExpiry(policy);
  }
  expires->reset();
  if (lifetime) *expires = now + *lifetime;
  return Status::Ok();
}

}  // namespace

Status SelfCreate(const Store& store, const std::string& user, const SelfCreateRequest& req,
                  const SecretBuffer& code, std::int64_t now, Created* out) {
  return SelfCreate(store, user, req, SecondFactor::Code(code), now, out);
}

Status SelfCreate(const Store& store, const std::string& user, const SelfCreateRequest& req,
                  const SecondFactor& factor, std::int64_t now, Created* out) {
  StoreTxn txn;
  Status s = BeginWithCode(store, user, factor.code, now, &txn);
  if (!s.ok()) return s;
  Policy policy;
  if (!(s = ReadPolicy(txn, &policy)).ok()) return s;
  CreateRequest creq{.user = user, .name = req.name, .scopes = req.scopes, .expires = {}};
  if (!(s = CheckAgainstPolicy(policy, req, now, &creq.expires)).ok()) return s;
  Created made;
  if (!(s = CreateLocked(store, txn, creq, policy.max_active, now, &made)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *out = std::move(made);
  return Status::Ok();
}

Status SelfRevoke(const Store& store, const std::string& user, const RevokeSelector& sel,
                  const SecretBuffer& code, std::int64_t now, std::vector<std::string>* ids) {
  return SelfRevoke(store, user, sel, SecondFactor::Code(code), now, ids);
}

Status SelfRevoke(const Store& store, const std::string& user, const RevokeSelector& sel,
                  const SecondFactor& factor, std::int64_t now, std::vector<std::string>* ids) {
  const int chosen = (sel.id.empty() ? 0 : 1) + (sel.name.empty() ? 0 : 1) + (sel.all ? 1 : 0);
  if (chosen != 1)
    return Status::InvalidArgument("name one app password (its id or its name), or all");
  StoreTxn txn;
  Status s = BeginWithCode(store, user, factor.code, now, &txn);
  if (!s.ok()) return s;
  std::vector<std::string> revoked;
  if (!(s = RevokeLocked(store, txn, user, sel, now, &revoked)).ok()) return s;
  // Another user's id or name is just not among this user's: the same answer.
  if (revoked.empty()) return Status::NotFound("no active app password of yours matches that");
  if (!(s = txn.Commit()).ok()) return s;
  *ids = std::move(revoked);
  return Status::Ok();
}

Status SelfMfaEnroll(const Store& store, const std::string& user, const std::string& issuer,
                     std::int64_t now, EnrollResult* out) {
  StoreTxn txn;
  UserRecord old;
  bool found = false;
  Status s = BeginNewEnrollment(store, user, &txn, &old, &found);
  if (s.code() == Status::Code::kPermissionDenied)
    return Status::PermissionDenied(kAlreadyEnrolledMessage);
  if (!s.ok()) return s;
  Policy policy;  // read in the same transaction as the enrollment it allows
  if (!(s = ReadPolicy(txn, &policy)).ok()) return s;
  if (!policy.self_enroll) return Status::PermissionDenied(kSelfEnrollOffMessage);
  if (!(s = EnrollLocked(store, txn, user, issuer, now, out)).ok()) return s;
  return txn.Commit();
}

Status SelfMfaConfirm(const Store& store, const std::string& user, const SecretBuffer& code,
                      std::int64_t now, std::vector<SecretBuffer>* recovery_codes) {
  if (recovery_codes != nullptr) recovery_codes->clear();
  StoreTxn txn;
  UserRecord u;
  bool found = false;
  Status s = BeginUserUpdate(store, user, &txn, &u, &found);
  if (!s.ok()) return s;
  if (!found) return Status::PermissionDenied(kNoMfaMessage);
  const bool pending = u.mfa != MfaState::kConfirmed;
  if (!(s = SpendCode(store, &txn, code, now, &u)).ok()) return s;
  std::vector<SecretBuffer> made;
  if (pending && recovery_codes != nullptr) {
    // The codes go into the record SpendCode wrote: the same transaction, written again.
    if (!(s = MakeRecoveryCodes(store, &u, &made)).ok()) return s;
    if (!(s = PutUser(txn, u)).ok()) return s;
  }
  if (!(s = txn.Commit()).ok()) return s;
  if (recovery_codes != nullptr) *recovery_codes = std::move(made);
  return Status::Ok();
}

Status SelfRecoveryCodes(const Store& store, const std::string& user, const SecretBuffer& code,
                         std::int64_t now, std::vector<SecretBuffer>* codes) {
  StoreTxn txn;
  UserRecord u;
  Status s = BeginWithCode(store, user, &code, now, &txn, &u);
  if (!s.ok()) return s;
  std::vector<SecretBuffer> made;
  if (!(s = MakeRecoveryCodes(store, &u, &made)).ok()) return s;
  if (!(s = PutUser(txn, u)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *codes = std::move(made);
  return Status::Ok();
}

}  // namespace apppass
