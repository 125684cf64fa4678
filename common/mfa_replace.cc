#include "mfa_replace.h"

#include "admin_internal.h"
#include "code_throttle.h"
#include "self_service.h"
#include "totp.h"

namespace apppass {

using namespace admin_internal;

namespace {

// Begins the write transaction and reads `user`'s confirmed enrollment into `*u`.
Status BeginConfirmed(const Store& store, const std::string& user, StoreTxn* txn, UserRecord* u) {
  bool found = false;
  Status s = BeginUserUpdate(store, user, txn, u, &found);
  if (!s.ok()) return s;
  if (!found || u->mfa != MfaState::kConfirmed) return Status::PermissionDenied(kNoMfaMessage);
  return Status::Ok();
}

// The refusal of a wrong code, whatever TotpCheck said; the lockout keeps its message.
Status WrongCode(const Status& s) {
  if (s.code() == Status::Code::kPermissionDenied && !IsCodeThrottled(s))
    return Status::PermissionDenied(kWrongCodeMessage);
  return s;
}

}  // namespace

Status SelfMfaReplace(const Store& store, const std::string& user, const SecretBuffer& code,
                      const std::string& issuer, std::int64_t now, EnrollResult* out) {
  StoreTxn txn;
  UserRecord u;
  Status s = BeginConfirmed(store, user, &txn, &u);
  if (!s.ok()) return s;
  if (!(s = WrongCode(CheckCodeThrottled(store, &txn, code.view(), now, &u))).ok()) return s;
  SecretBuffer secret = NewTotpSecret();
  if (!secret.valid()) return Status::Internal("out of secure memory");
  std::string sealed;
  if (!(s = SealSecret(store.mfa_key(), secret, &sealed)).ok()) return s;
  u.pending_secret = std::move(sealed);
  u.pending_since = now;
  if (!(s = PutUser(txn, u)).ok()) return s;
  EnrollResult r;
  if (!(s = TotpBase32(secret, &r.base32)).ok()) return s;
  r.uri = TotpUri(issuer, user, r.base32.view());
  if (!(s = txn.Commit()).ok()) return s;
  *out = std::move(r);
  return Status::Ok();
}

Status SelfMfaReplaceConfirm(const Store& store, const std::string& user,
                             const SecretBuffer& new_code, std::int64_t now) {
  StoreTxn txn;
  UserRecord u;
  Status s = BeginConfirmed(store, user, &txn, &u);
  if (!s.ok()) return s;
  if (u.pending_secret.empty()) return Status::PermissionDenied(kNoReplacementMessage);
  if (!(s = CodeThrottleCheck(u, now)).ok()) return s;  // locked out: nothing compared
  // The code is checked against the new secret, which has spent no step yet.
  UserRecord swapped = u;
  swapped.sealed_secret = u.pending_secret;
  swapped.last_step = -1;
  s = AcceptUserCode(store, new_code.view(), now, &swapped);
  if (s.code() == Status::Code::kPermissionDenied) {
    // Counted in the transaction that checked the lockout, as CheckCodeThrottled does;
    // the record written is the old one, the replacement still pending.
    CountCodeFailure(&u, now);
    Status w = PutUser(txn, u);
    if (w.ok()) w = txn.Commit();
    return w.ok() ? Status::PermissionDenied(kWrongCodeMessage) : w;
  }
  if (!s.ok()) return s;
  swapped.pending_secret.clear();
  swapped.pending_since = 0;
  swapped.enrolled = now;
  swapped.confirmed = now;
  swapped.source = std::string(kSourceApppass);
  if (!(s = PutUser(txn, swapped)).ok()) return s;
  return txn.Commit();
}

}  // namespace apppass
