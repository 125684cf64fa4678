#include "admin.h"

#include <sodium.h>

#include <algorithm>

#include <fmt/format.h>

#include "admin_internal.h"
#include "code_throttle.h"
#include "password.h"
#include "recovery_codes.h"
#include "text.h"
#include "totp.h"
#include "usage.h"

namespace apppass {

namespace {

std::string UserIdKey(const std::string& user, std::string_view id) {
  std::string k = user;
  k.push_back('\0');
  k.append(id);
  return k;
}

// Decodes the credential record `rec` stored under `hash`, refusing a damaged one.
Status DecodeStored(const Store& store, std::string_view hash, std::string_view rec,
                    Credential* c) {
  if (!store.CredentialIntact(hash, rec))
    return Status::Unavailable(
        "a credential record is damaged (its integrity tag does not match); run 'apppass check'");
  return DecodeCredential(rec, c);
}

// Loads every credential of `user` inside `txn`, with its hash key.
Status LoadUserCreds(const Store& store, const StoreTxn& txn, const std::string& user,
                     std::vector<std::pair<std::string, Credential>>* out) {
  LmdbCursor cur = txn.Cursor(Table::kUserIds, UserIdKey(user, ""));
  std::string_view k, v;
  while (cur.Next(&k, &v)) {
    const std::string_view id = k.substr(user.size() + 1);
    std::string_view hash, rec;
    Status s = txn.Get(Table::kIds, id, &hash);
    if (s.ok()) s = txn.Get(Table::kCreds, hash, &rec);
    if (!s.ok())
      return Status::Unavailable(fmt::format("store inconsistent: credential {} of {}: {}",
                                             LogSafe(id), LogSafe(user), s.message()));
    Credential c;
    if (!(s = DecodeStored(store, hash, rec, &c)).ok()) return s;
    out->emplace_back(std::string(hash), std::move(c));
  }
  return cur.status();
}

Status PutCred(const Store& store, const StoreTxn& txn, std::string_view hash,
               const Credential& c) {
  return txn.Put(Table::kCreds, hash, store.SealCredential(hash, EncodeCredential(c)));
}

Status AlreadyConfirmed(const std::string& user) {
  return Status::PermissionDenied(fmt::format(
      "{} already has a confirmed MFA enrollment; 'apppass mfa reset {}' first", user, user));
}

// A pending enrollment of `user` from `source`, started at `now`, without a secret yet.
UserRecord NewEnrollment(const std::string& user, std::string_view source, std::int64_t now) {
  UserRecord u;
  u.user = user;
  u.mfa = MfaState::kPending;
  u.enrolled = now;
  u.source = std::string(source);
  return u;
}

Status SealInto(const Store& store, const SecretBuffer& secret, UserRecord* u) {
  return SealSecret(store.mfa_key(), secret, &u->sealed_secret);
}

// What a create request must be, before any store access.
Status ValidateCreate(const CreateRequest& req, std::int64_t now) {
  Status s = ValidateNewUserName(req.user);
  if (!s.ok()) return s;
  if (!(s = ValidateNewLabel(req.name)).ok()) return s;
  if (req.all_services && !req.scopes.empty())
    return Status::InvalidArgument("--all-services and --scope exclude each other");
  if (req.scopes.empty() && !req.all_services)
    return Status::InvalidArgument(std::string(kChooseServices));
  if (req.scopes.size() > kMaxScopes)
    return Status::InvalidArgument(fmt::format("at most {} scopes", kMaxScopes));
  for (const auto& sc : req.scopes)
    if (!(s = ValidateScope(sc)).ok()) return s;
  if (req.expires && *req.expires <= now)
    return Status::InvalidArgument("the expiry is not in the future");
  return Status::Ok();
}

}  // namespace

namespace admin_internal {

Status RevokeLocked(const Store& store, const StoreTxn& txn, const std::string& user,
                    const RevokeSelector& sel, std::int64_t now, std::vector<std::string>* ids) {
  std::vector<std::pair<std::string, Credential>> creds;
  Status s = LoadUserCreds(store, txn, user, &creds);
  if (!s.ok()) return s;
  for (auto& [hash, c] : creds) {
    if (c.revoked) continue;
    if (!sel.all && !(!sel.id.empty() && c.id == sel.id) &&
        !(!sel.name.empty() && c.name == sel.name))
      continue;
    c.revoked = now;
    if (!(s = PutCred(store, txn, hash, c)).ok()) return s;
    ids->push_back(c.id);
  }
  return Status::Ok();
}

Status BeginUserUpdate(const Store& store, const std::string& user, StoreTxn* txn, UserRecord* u,
                       bool* found) {
  Status s = ValidateUserName(user);
  if (!s.ok()) return s;
  if (!(s = store.Begin(true, txn)).ok()) return s;
  std::string_view rec;
  s = txn->Get(Table::kUsers, user, &rec);
  *found = s.ok();
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return s;
  return DecodeUser(rec, u);
}

Status BeginNewEnrollment(const Store& store, const std::string& user, StoreTxn* txn,
                          UserRecord* old, bool* found) {
  Status s = ValidateNewUserName(user);  // enrolling makes the user known to the store
  if (!s.ok()) return s;
  if (!(s = BeginUserUpdate(store, user, txn, old, found)).ok()) return s;
  if (*found && old->mfa == MfaState::kConfirmed) return AlreadyConfirmed(user);
  return Status::Ok();
}

Status PutUser(const StoreTxn& txn, const UserRecord& u) {
  return txn.Put(Table::kUsers, u.user, EncodeUser(u));
}

Status MakeRecoveryCodes(const Store& store, UserRecord* u, std::vector<SecretBuffer>* codes) {
  if (codes == nullptr) return Status::Ok();
  return NewRecoveryCodes(store, u->user, codes, &u->recovery);
}

Status AcceptCode(const SecretBuffer& secret, std::string_view code, std::int64_t now,
                  UserRecord* u) {
  std::int64_t step = 0;
  Status s = TotpCheck(secret, code, now, u->last_step, &step);
  if (!s.ok()) return s;
  u->last_step = step;
  ClearCodeFailures(u);
  if (u->mfa != MfaState::kConfirmed) {
    u->mfa = MfaState::kConfirmed;
    u->confirmed = now;
  }
  return Status::Ok();
}

Status AcceptUserCode(const Store& store, std::string_view code, std::int64_t now, UserRecord* u) {
  SecretBuffer secret;
  Status s = UnsealSecret(store.mfa_key(), u->sealed_secret, &secret);
  if (!s.ok()) return s;
  return AcceptCode(secret, code, now, u);
}

Status EnrollLocked(const Store& store, const StoreTxn& txn, const std::string& user,
                    const std::string& issuer, std::int64_t now, EnrollResult* out) {
  SecretBuffer secret = NewTotpSecret();
  if (!secret.valid()) return Status::Internal("out of secure memory");
  UserRecord u = NewEnrollment(user, kSourceApppass, now);
  Status s = SealInto(store, secret, &u);
  if (!s.ok()) return s;
  if (!(s = PutUser(txn, u)).ok()) return s;
  if (!(s = TotpBase32(secret, &out->base32)).ok()) return s;
  out->uri = TotpUri(issuer, user, out->base32.view());
  return Status::Ok();
}

Status CreateLocked(const Store& store, const StoreTxn& txn, const CreateRequest& req,
                    int max_active, std::int64_t now, Created* out) {
  Status s = ValidateCreate(req, now);
  if (!s.ok()) return s;
  std::string_view rec;
  s = txn.Get(Table::kUsers, req.user, &rec);
  const bool enrolled = s.ok();
  if (!enrolled && !s.IsNotFound()) return s;
  UserRecord u;
  if (enrolled && !(s = DecodeUser(rec, &u)).ok()) return s;
  if (!enrolled || u.mfa != MfaState::kConfirmed)
    return Status::PermissionDenied(
        fmt::format("{} has no confirmed MFA enrollment; run 'apppass mfa enroll {}' and "
                    "'apppass mfa confirm {}' first. No app password was created.",
                    req.user, req.user, req.user));

  std::vector<std::pair<std::string, Credential>> creds;
  if (!(s = LoadUserCreds(store, txn, req.user, &creds)).ok()) return s;
  int active = 0;
  for (const auto& [h, c] : creds) {
    if (!IsActive(c, now)) continue;
    ++active;
    if (c.name == req.name)
      return Status::AlreadyExists(fmt::format(
          "{} already has an active app password named '{}' (id {})", req.user, req.name, c.id));
  }
  if (active >= max_active)
    return Status::PermissionDenied(fmt::format(
        "{} already has {} active app passwords (the limit); revoke one first", req.user, active));

  Credential c;
  c.user = req.user;
  c.name = req.name;
  c.scopes = req.scopes;
  std::sort(c.scopes.begin(), c.scopes.end());
  c.scopes.erase(std::unique(c.scopes.begin(), c.scopes.end()), c.scopes.end());
  c.all_services = req.all_services;
  c.created = now;
  c.expires = req.expires;
  std::string_view existing;
  do {  // a fresh 8-hex-digit id (a collision is rare; retry until unique)
    unsigned char raw[4];
    randombytes_buf(raw, sizeof raw);
    c.id = fmt::format("{:02x}{:02x}{:02x}{:02x}", raw[0], raw[1], raw[2], raw[3]);
    s = txn.Get(Table::kIds, c.id, &existing);
  } while (s.ok());
  if (!s.IsNotFound()) return s;

  SecretBuffer password = GeneratePassword();
  SecretBuffer normalized(kMaxPasswordInput);
  if (!password.valid() || !normalized.valid()) return Status::Internal("out of secure memory");
  if (!(s = NormalizePassword(password.view(), normalized)).ok())
    return Status::Internal("generated password does not normalize");
  unsigned char hash_bytes[kHashBytes];
  store.HashPassword(normalized, hash_bytes);
  const std::string hash(reinterpret_cast<char*>(hash_bytes), kHashBytes);
  sodium_memzero(hash_bytes, sizeof hash_bytes);
  if (txn.Get(Table::kCreds, hash, &existing).ok())  // 2^-99: but never overwrite a record
    return Status::Internal("hash collision; try again");

  if (!(s = PutCred(store, txn, hash, c)).ok()) return s;
  if (!(s = txn.Put(Table::kIds, c.id, hash)).ok()) return s;
  if (!(s = txn.Put(Table::kUserIds, UserIdKey(c.user, c.id), "")).ok()) return s;
  out->cred = std::move(c);
  out->password = std::move(password);
  return Status::Ok();
}

}  // namespace admin_internal

using namespace admin_internal;

Status MfaEnroll(const Store& store, const std::string& user, const std::string& issuer,
                 std::int64_t now, EnrollResult* out) {
  StoreTxn txn;
  UserRecord old;
  bool found = false;
  Status s = BeginNewEnrollment(store, user, &txn, &old, &found);
  if (!s.ok()) return s;
  if (!(s = EnrollLocked(store, txn, user, issuer, now, out)).ok()) return s;
  return txn.Commit();
}

Status MfaConfirm(const Store& store, const std::string& user, std::string_view code,
                  std::int64_t now, std::vector<SecretBuffer>* recovery_codes) {
  if (recovery_codes != nullptr) recovery_codes->clear();
  StoreTxn txn;
  UserRecord u;
  bool found = false;
  Status s = BeginUserUpdate(store, user, &txn, &u, &found);
  if (!s.ok()) return s;
  if (!found)
    return Status::NotFound(
        fmt::format("{} has no MFA enrollment; run 'apppass mfa enroll {}'", user, user));
  const bool pending = u.mfa != MfaState::kConfirmed;
  if (!(s = AcceptUserCode(store, code, now, &u)).ok()) return s;
  std::vector<SecretBuffer> made;
  if (pending && !(s = MakeRecoveryCodes(store, &u, recovery_codes ? &made : nullptr)).ok())
    return s;
  if (!(s = PutUser(txn, u)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  if (recovery_codes != nullptr) *recovery_codes = std::move(made);
  return Status::Ok();
}

Status MfaImport(const Store& store, const std::string& user, const ExistingTotp& existing,
                 std::string_view code, std::int64_t now,
                 std::vector<SecretBuffer>* recovery_codes) {
  if (recovery_codes != nullptr) recovery_codes->clear();
  if (existing.secret.size() < kMinImportSecretBytes ||
      existing.secret.size() > kMaxImportSecretBytes)
    return Status::InvalidArgument(fmt::format("the secret to import must be {} to {} bytes",
                                               kMinImportSecretBytes, kMaxImportSecretBytes));
  if (existing.source != kSourceGoogleAuthenticator && existing.source != kSourceOath)
    return Status::InvalidArgument("unknown source of the enrollment to import");
  StoreTxn txn;
  UserRecord old;
  bool found = false;
  Status s = BeginNewEnrollment(store, user, &txn, &old, &found);
  if (!s.ok()) return s;
  UserRecord u = NewEnrollment(user, existing.source, now);
  // Codes the other module already accepted are not accepted again: start after the
  // newest step it recorded that a code accepted now could have (later ones, from a
  // device whose clock was ahead, would only block this import).
  const std::int64_t newest_acceptable = now / kTotpStep + static_cast<std::int64_t>(kTotpWindow);
  for (std::int64_t used : existing.used_steps)
    if (used <= newest_acceptable) u.last_step = std::max(u.last_step, used);
  std::int64_t last_code_step = 0;
  if (!existing.last_code.empty() &&
      TotpCheck(existing.secret, existing.last_code, now, -1, &last_code_step).ok())
    u.last_step = std::max(u.last_step, last_code_step);
  if (!(s = AcceptCode(existing.secret, code, now, &u)).ok()) return s;
  if (!(s = SealInto(store, existing.secret, &u)).ok()) return s;
  std::vector<SecretBuffer> made;
  if (!(s = MakeRecoveryCodes(store, &u, recovery_codes ? &made : nullptr)).ok()) return s;
  if (!(s = PutUser(txn, u)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  if (recovery_codes != nullptr) *recovery_codes = std::move(made);
  return Status::Ok();
}

Status MfaGet(const Store& store, const std::string& user, UserRecord* out) {
  Status s = ValidateUserName(user);
  if (!s.ok()) return s;
  StoreTxn txn;
  if (!(s = store.Begin(false, &txn)).ok()) return s;
  std::string_view rec;
  if (!(s = txn.Get(Table::kUsers, user, &rec)).ok()) return s;
  return DecodeUser(rec, out);
}

Status MfaReset(const Store& store, const std::string& user, std::int64_t now, int* revoked) {
  Status s = ValidateUserName(user);
  if (!s.ok()) return s;
  StoreTxn txn;
  if (!(s = store.Begin(true, &txn)).ok()) return s;
  std::string_view rec;
  s = txn.Get(Table::kUsers, user, &rec);
  if (!s.ok() && !s.IsNotFound()) return s;
  const bool had_enrollment = s.ok();
  std::vector<std::string> ids;
  if (!(s = RevokeLocked(store, txn, user, RevokeSelector{.id = {}, .name = {}, .all = true}, now,
                         &ids))
           .ok())
    return s;
  if (!had_enrollment && ids.empty())
    return Status::NotFound(fmt::format("{} has no MFA enrollment and no app passwords", user));
  if (!(s = txn.Del(Table::kUsers, user)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *revoked = static_cast<int>(ids.size());
  return Status::Ok();
}

Status CreatePassword(const Store& store, const CreateRequest& req, std::int64_t now,
                      Created* out) {
  Status s = ValidateCreate(req, now);
  if (!s.ok()) return s;
  StoreTxn txn;
  if (!(s = store.Begin(true, &txn)).ok()) return s;
  Policy policy;  // its max_active binds admins too, read in the same transaction
  if (!(s = ReadPolicy(txn, &policy)).ok()) return s;
  Created made;
  if (!(s = CreateLocked(store, txn, req, policy.max_active, now, &made)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *out = std::move(made);
  return Status::Ok();
}

Status ListPasswords(const Store& store, const std::string& user, bool include_revoked,
                     std::vector<Listed>* out) {
  Status s;
  if (!user.empty() && !(s = ValidateUserName(user)).ok()) return s;
  UsageDb usage;
  const bool have_usage = UsageDb::Open(store.dir(), false, &usage).ok();
  StoreTxn txn;
  if (!(s = store.Begin(false, &txn)).ok()) return s;
  // user_ids is ordered by user then id; scan one user's prefix or everything.
  LmdbCursor cur = txn.Cursor(Table::kUserIds, user.empty() ? "" : UserIdKey(user, ""));
  std::string_view k, v;
  while (cur.Next(&k, &v)) {
    const auto nul = k.find('\0');
    if (nul == std::string_view::npos)
      return Status::Unavailable("store inconsistent: bad user_ids key");
    std::string_view hash, rec;
    s = txn.Get(Table::kIds, k.substr(nul + 1), &hash);
    if (s.ok()) s = txn.Get(Table::kCreds, hash, &rec);
    if (!s.ok()) return Status::Unavailable("store inconsistent: " + s.message());
    Listed l;
    if (!(s = DecodeStored(store, hash, rec, &l.cred)).ok()) return s;
    if (l.cred.revoked && !include_revoked) continue;
    Usage u;
    if (have_usage && usage.Get(l.cred.id, &u).ok()) l.last_use = u;
    out->push_back(std::move(l));
  }
  return cur.status();
}

Status RevokePasswords(const Store& store, const std::string& user, const RevokeSelector& sel,
                       std::int64_t now, std::vector<std::string>* ids) {
  Status s = ValidateUserName(user);
  if (!s.ok()) return s;
  StoreTxn txn;
  if (!(s = store.Begin(true, &txn)).ok()) return s;
  if (!(s = RevokeLocked(store, txn, user, sel, now, ids)).ok()) return s;
  if (ids->empty())
    return Status::NotFound(fmt::format("{} has no active app password matching that", user));
  return txn.Commit();
}

}  // namespace apppass
