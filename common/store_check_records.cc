// The record invariants of CheckStore (store_check_internal.h), within and across the
// tables: meta, creds, ids, user_ids, users, the counts per user, and invisible
// characters in names.
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "admin.h"
#include "record_tag.h"
#include "store.h"
#include "store_check_internal.h"
#include "text.h"
#include "totp.h"

namespace apppass::internal {

namespace {

std::string Hex(std::string_view bytes, std::size_t max_bytes = 8) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max_bytes; ++i)
    out += fmt::format("{:02x}", static_cast<unsigned char>(bytes[i]));
  return out;
}

// How a credential record is named in findings: by its id and user when they decode.
std::string HashKey(std::string_view hash) { return "hash " + Hex(hash); }

bool IsCredentialId(std::string_view id) {
  if (id.size() != 8) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

void StoreChecker::CheckMeta() {
  for (const auto& [k, v] : meta_) {
    if (k == "schema") {
      if (v == "1")
        Warning("meta", "schema",
                "schema version 1: credential records carry no integrity tags, so damage to "
                "one is not detected",
                fmt::format("any admin command upgrades the store to schema {}, e.g. 'apppass "
                            "--db {} list'",
                            kSchemaVersion, dir_));
      else if (v != std::to_string(kSchemaVersion))
        Problem("meta", "schema",
                fmt::format("schema version is {}, this apppass understands 1 to {}: verifiers "
                            "refuse the store",
                            LogQuoted(v, 32), kSchemaVersion),
                "if a newer apppass wrote it, upgrade apppass; else " + std::string(kRestore));
    } else if (k == "map_size") {
      if (!apppass::ParseMapSize(v))
        Problem("meta", "map_size",
                fmt::format("map_size {} is not a size from {} to {} bytes", LogQuoted(v, 32),
                            kMinMapSize, kMaxMapSize),
                fmt::format("set it again: apppass --db {} init --map-size 1G", dir_));
    } else if (k == "policy") {
      Policy p;
      const Status st = DecodePolicy(v, &p);
      if (!st.ok())
        Problem("meta", "policy",
                std::string(st.summary()) + ": self-service and create are refused",
                fmt::format("apppass --db {} policy reset, then set the policy again", dir_));
    } else {
      Warning("meta", LogSafe(k), fmt::format("unknown setting {}", LogSafe(k)),
              "a newer apppass may have written it; else it is ignored");
    }
  }
  if (!meta_.contains("schema"))
    Problem("meta", "schema", "the store has no schema version: verifiers refuse it");
}

// A credential's name in findings: "id ID (user USER)".
std::string StoreChecker::Who(const Credential& c) {
  return fmt::format("id {} (user {})", LogSafe(c.id, 16), LogSafe(c.user));
}

void StoreChecker::CheckCreds() {
  std::map<std::string, std::string> first_hash_of_id;
  for (const auto& [hash, rec] : creds_) {
    if (hash.size() != kHashBytes) {
      Problem("creds", HashKey(hash),
              fmt::format("a credential key is {} bytes long, not a {}-byte hash", hash.size(),
                          kHashBytes));
      continue;
    }
    // Schema 1 records carry no tag (the warning on meta/schema says so).
    const bool tagged = meta_.contains("schema") && meta_.at("schema") != "1";
    const bool have_key = tag_key_ != nullptr && tag_key_->size() == kTagKeyBytes;
    if (tagged && !(have_key && RecordSealed(*tag_key_, hash, rec))) {
      if (have_key)
        Problem("creds", HashKey(hash),
                "a credential record is damaged (its integrity tag does not match): "
                "verifying its password fails as unavailable");
      continue;  // without a readable key the finding on 'key' says it all
    }
    Credential c;
    Status s = DecodeCredential(rec, &c);
    if (!s.ok()) {
      const bool newer = s.message().find("newer than") != std::string::npos;
      Problem("creds", HashKey(hash),
              fmt::format("a credential record does not decode: {}; verifying its password fails",
                          s.message()),
              newer ? "upgrade apppass to the version that wrote it" : kRestore);
      continue;
    }
    decoded_.emplace(hash, c);
    ++r_.credentials;
    if (c.revoked) ++r_.revoked;
    else if (c.expires && *c.expires <= opts_.now) ++r_.expired;
    else ++r_.active;
    const std::string who = Who(c);
    if (!IsCredentialId(c.id)) Problem("creds", who, "the id is not 8 lowercase hex digits");
    if (!ValidateLabel(c.name).ok())
      Problem("creds", who, fmt::format("the label {} is not valid", LogQuoted(c.name, 64)));
    for (const auto& sc : c.scopes)
      if (!ValidateScope(sc).ok())
        Problem("creds", who, fmt::format("the scope {} is not valid", LogQuoted(sc, 40)));
    // Made before create required --scope or --all-services: it still verifies for every
    // service, but nobody chose that. A warning (the store is intact), only while it can
    // verify.
    if (c.scopes.empty() && !c.all_services && IsActive(c, opts_.now))
      Warning("creds", who,
              fmt::format("the app password {} has no scopes and was not made with "
                          "--all-services (made before create required one): it is valid for "
                          "every service",
                          LogQuoted(c.name, 64)),
              fmt::format("revoke it and create it again with --scope (e.g. --scope imap --scope "
                          "smtp) or --all-services: apppass revoke {} {}",
                          LogSafe(c.user), LogSafe(c.id, 16)));
    auto [it, fresh] = first_hash_of_id.emplace(c.id, hash);
    if (!fresh)
      Problem("creds", who,
              fmt::format("two credential records ({} and {}) have this id", HashKey(it->second),
                          HashKey(hash)));
    const auto id = ids_.find(c.id);
    if (id == ids_.end())
      Problem("creds", who,
              "has no ids entry: the password still verifies, but cannot be listed or revoked",
              std::string(kRestore) + "; until then 'apppass mfa reset' does not revoke it either");
    else if (id->second != hash)
      Problem(
          "creds", who,
          fmt::format("ids points to another record ({}) for this id: the password still verifies, "
                      "but cannot be listed or revoked",
                      HashKey(id->second)));
    if (!user_ids_.contains(c.user + '\0' + c.id))
      Problem("creds", who,
              "is missing from user_ids: it is not listed for its user, and revoking the user's "
              "passwords skips it");
    if (!c.revoked) {
      const auto u = users_.find(c.user);
      UserRecord rec_u;
      if (u == users_.end())
        Problem(
            "creds", who,
            "is not revoked, but its user has no MFA enrollment (create requires a confirmed one, "
            "mfa reset revokes first)",
            fmt::format("apppass revoke {} {}", LogSafe(c.user), LogSafe(c.id, 16)));
      else if (DecodeUser(u->second, &rec_u).ok() && rec_u.mfa != MfaState::kConfirmed)
        Problem("creds", who,
                fmt::format("is not revoked, but its user's MFA enrollment is {}, not confirmed",
                            MfaStateName(rec_u.mfa)),
                fmt::format("apppass revoke {} {}", LogSafe(c.user), LogSafe(c.id, 16)));
    }
  }
}

void StoreChecker::CheckIds() {
  for (const auto& [id, hash] : ids_) {
    const std::string key = LogSafe(id, 32);
    if (!IsCredentialId(id))
      Problem("ids", key, "the key is not a credential id (8 lowercase hex digits)");
    const auto c = creds_.find(hash);
    if (hash.size() != kHashBytes || c == creds_.end()) {
      Problem("ids", key,
              "points to no credential record: listing and revoking this user's "
              "passwords fail with 'store inconsistent'");
      continue;
    }
    const auto d = decoded_.find(hash);
    if (d != decoded_.end() && d->second.id != id)
      Problem("ids", key,
              fmt::format("points to the record of another id ({})", LogSafe(d->second.id, 16)));
  }
}

void StoreChecker::CheckUserIds() {
  for (const auto& [k, v] : user_ids_) {
    const auto nul = k.find('\0');
    if (nul == std::string::npos || k.find('\0', nul + 1) != std::string::npos) {
      Problem("user_ids", LogSafe(k),
              "the key is not USER NUL ID: listing everyone's passwords fails");
      continue;
    }
    const std::string user = k.substr(0, nul), id = k.substr(nul + 1);
    const std::string key = LogSafe(user) + "/" + LogSafe(id, 16);
    if (!v.empty())
      Warning("user_ids", key, "the value is not empty", "none needed: it is ignored");
    const auto h = ids_.find(id);
    if (h == ids_.end()) {
      Problem("user_ids", key,
              "names an id that ids does not have: listing and revoking this user's "
              "passwords fail with 'store inconsistent'");
      continue;
    }
    const auto d = decoded_.find(h->second);
    if (d != decoded_.end() && d->second.user != user)
      Problem("user_ids", key,
              fmt::format("lists the credential of another user ({}) under this one: that user "
                          "could revoke it, and its own user cannot",
                          LogSafe(d->second.user)));
  }
}

void StoreChecker::CheckUsers(const SecretBuffer& mfa_key) {
  for (const auto& [k, v] : users_) {
    const std::string key = LogSafe(k);
    UserRecord u;
    Status s = DecodeUser(v, &u);
    if (!s.ok()) {
      const bool newer = s.message().find("newer than") != std::string::npos;
      Problem("users", key, fmt::format("the MFA enrollment does not decode: {}", s.message()),
              newer ? "upgrade apppass to the version that wrote it"
                    : fmt::format("apppass mfa reset {} and enroll again", key));
      continue;
    }
    ++r_.users;
    if (u.user != k)
      Problem("users", key, fmt::format("the record names another user ({})", LogSafe(u.user)),
              fmt::format("apppass mfa reset {} and enroll again", key));
    if (u.mfa == MfaState::kNone) {
      Warning("users", key, "an enrollment record in state 'none'",
              fmt::format("apppass mfa reset {}", key));
      continue;
    }
    if (u.mfa == MfaState::kConfirmed && !u.confirmed)
      Problem("users", key, "confirmed, but without a confirmation time",
              fmt::format("apppass mfa reset {} and enroll again", key));
    if (mfa_key.size() == kKeyBytes) {
      SecretBuffer secret;
      if (!UnsealSecret(mfa_key, u.sealed_secret, &secret).ok())
        Problem(
            "users", key, "the TOTP secret does not open with mfa.key (wrong key, or damaged)",
            fmt::format("restore the matching mfa.key, or 'apppass mfa reset {}' and enroll again",
                        key));
      // A replacement authenticator waiting for its code (mfa_replace.h).
      if (!u.pending_secret.empty() && !UnsealSecret(mfa_key, u.pending_secret, &secret).ok())
        Problem("users", key,
                "the pending replacement TOTP secret does not open with mfa.key (wrong key, or "
                "damaged)",
                fmt::format("replace the authenticator again, or 'apppass mfa reset {}'", key));
    }
    if (!u.pending_secret.empty() && u.mfa != MfaState::kConfirmed)
      Problem("users", key, "a replacement authenticator pending beside an unconfirmed enrollment",
              fmt::format("apppass mfa reset {} and enroll again", key));
  }
}

void StoreChecker::CheckCounts() {
  std::map<std::string, int> active;
  std::map<std::pair<std::string, std::string>, std::string> labels;  // (user, label) -> id
  for (const auto& [hash, c] : decoded_) {
    if (!IsActive(c, opts_.now)) continue;
    ++active[c.user];
    auto [it, fresh] = labels.emplace(std::pair{c.user, c.name}, c.id);
    if (!fresh)
      Problem(
          "creds", Who(c),
          fmt::format("has the same label {} as active id {} of this user (create refuses that)",
                      LogQuoted(c.name, 64), LogSafe(it->second, 16)),
          fmt::format("revoke one of them: apppass revoke {} {}", LogSafe(c.user),
                      LogSafe(c.id, 16)));
  }
  // The cap in force (the stored policy's, else the default); a corrupt policy is
  // reported by CheckMeta.
  Policy policy;
  if (auto it = meta_.find("policy"); it != meta_.end()) (void)DecodePolicy(it->second, &policy);
  for (const auto& [user, n] : active)
    if (n > policy.max_active)
      Warning("creds", LogSafe(user),
              fmt::format("{} active app passwords, more than the limit of {} (policy max_active)",
                          n, policy.max_active),
              "revoke the unused ones, or raise the limit: apppass policy set max_active N");
}

// Names made before ValidateNewUserName and ValidateNewLabel refused invisible
// characters. The store is intact, so these are warnings. Revoked credentials are
// skipped: they no longer verify, and nothing is left to fix about them.
void StoreChecker::CheckInvisible() {
  std::set<std::string> users;
  for (const auto& [k, v] : users_) users.insert(k);
  for (const auto& [hash, c] : decoded_) {
    if (c.revoked) continue;
    users.insert(c.user);
    if (const auto cp = FindInvisible(c.name))
      Warning(
          "creds", Who(c),
          fmt::format("the label {} contains U+{:04X}, a character that is invisible or "
                      "changes how the text around it is shown, so it can look like another label",
                      LogQuoted(c.name, 64), static_cast<unsigned>(*cp)),
          fmt::format("revoke it and create a new one with a visible name: apppass revoke {} {}",
                      LogSafe(c.user), LogSafe(c.id, 16)));
  }
  for (const auto& user : users)
    if (const auto cp = FindInvisible(user))
      Warning(
          "users", LogSafe(user),
          fmt::format("the user name contains U+{:04X}, a character that is invisible or "
                      "changes how the text around it is shown, so it can look like another name",
                      static_cast<unsigned>(*cp)),
          fmt::format("renaming is not supported: revoke its app passwords and reset its MFA "
                      "enrollment (apppass mfa reset {} does both); recreate the account "
                      "under a visible name",
                      LogSafe(user)));
}

}  // namespace apppass::internal
