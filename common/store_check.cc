#include "store_check.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin.h"
#include "child.h"
#include "files.h"
#include "lmdb_env.h"
#include "record_tag.h"
#include "records.h"
#include "secret.h"
#include "store.h"
#include "store_layout.h"
#include "text.h"
#include "totp.h"

namespace apppass {

namespace {

using nlohmann::json;

constexpr const char* kRestore = "restore data.mdb from a backup (mdb_copy of a good store)";
constexpr const char* kTables[] = {"meta", "creds", "ids", "user_ids", "users"};

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

// Without /proc, entries larger than this (far above any record's limit) are damage.
constexpr std::size_t kMaxEntryBytes = std::size_t{1} << 20;

// Where this process maps the data file of `env` ([begin, end) from /proc/self/maps,
// by inode), or {0, 0} when that cannot be read.
std::pair<std::uintptr_t, std::uintptr_t> MapRange(MDB_env* env) {
  mdb_filehandle_t fd;
  struct stat st {};
  if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS || ::fstat(fd, &st) != 0) return {0, 0};
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::uintptr_t begin = 0, end = 0;
  while (std::getline(maps, line)) {
    unsigned long long lo = 0, hi = 0, inode = 0;
    char perms[8] = {};
    unsigned long long offset = 0;
    unsigned maj = 0, min = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi, perms, &offset, &maj,
                    &min, &inode) != 7 ||
        inode != st.st_ino || makedev(maj, min) != st.st_dev)
      continue;
    if (begin == 0 || lo < begin) begin = static_cast<std::uintptr_t>(lo);
    end = std::max(end, static_cast<std::uintptr_t>(hi));
  }
  return {begin, end};
}

class Checker {
 public:
  Checker(std::string dir, const CheckOptions& opts, CheckReport* report)
      : dir_(std::move(dir)), opts_(opts), r_(*report) {}

  void Add(CheckLevel level, std::string table, std::string key, std::string message,
           std::string fix) {
    r_.findings.push_back(CheckFinding{level, std::move(table), std::move(key),
                                       std::move(message), std::move(fix)});
  }
  void Problem(std::string table, std::string key, std::string message, std::string fix = kRestore) {
    Add(CheckLevel::kProblem, std::move(table), std::move(key), std::move(message), std::move(fix));
  }
  void Warning(std::string table, std::string key, std::string message, std::string fix) {
    Add(CheckLevel::kWarning, std::move(table), std::move(key), std::move(message), std::move(fix));
  }

  // The files, checked from the parent: nothing here reads LMDB pages. Unavailable when
  // the store cannot be opened at all. Loads mfa.key into `*mfa_key` and derives the
  // record tag key into `*tag_key` when the keys are usable.
  Status CheckFiles(SecretBuffer* mfa_key, SecretBuffer* tag_key) {
    Fd fd;
    struct stat st {};
    Status s = OpenChecked(dir_, Layout(StoreFile::kDir).rule, &fd, &st);
    if (s.IsNotFound())
      return Status::Unavailable(fmt::format("store {} does not exist (create it with 'apppass init')", dir_));
    if (!s.ok()) return s;
    s = OpenChecked(StorePath(dir_, StoreFile::kData), Layout(StoreFile::kData).rule, &fd, &st);
    if (s.IsNotFound())
      return Status::Unavailable(fmt::format("{} has no data.mdb; is it an apppass store (run 'apppass init')?", dir_));
    if (!s.ok()) return s;
    // Reading needs the reader table, so that a writer cannot reuse pages being read.
    s = OpenChecked(StorePath(dir_, StoreFile::kLock), Layout(StoreFile::kLock).rule, &fd, &st);
    if (s.IsNotFound())
      return Status::Unavailable(fmt::format(
          "{}/lock.mdb (the reader table) does not exist, so verifiers cannot open the store; "
          "any other apppass command recreates it, e.g. 'apppass --db {} list'", dir_, dir_));
    if (!s.ok()) return s;
    SecretBuffer hash_key;
    CheckKey("key", false, &hash_key);
    if (hash_key.size() == kKeyBytes) (void)DeriveTagKey(hash_key, tag_key);
    CheckKey("mfa.key", true, mfa_key);
    return Status::Ok();
  }

  void CheckKey(const char* name, bool owner_only, SecretBuffer* out) {
    const std::string path = dir_ + "/" + name;
    SecretBuffer key;
    Status s = LoadKey(path, &key, owner_only);
    if (s.ok()) {
      if (out != nullptr) *out = std::move(key);
      return;
    }
    Problem("files", name, s.message(),
            std::string_view(name) == "key"
                ? "restore the key file from a backup: without it no app password verifies"
                : "restore mfa.key from a backup, or 'apppass mfa reset' each user and enroll again");
  }

  // Everything that reads data.mdb and usage/data.mdb. Runs in the forked child.
  Status CheckContents(const SecretBuffer& mfa_key, const SecretBuffer& tag_key) {
    tag_key_ = &tag_key;
    LmdbEnv env;
    Status s = LmdbEnv::Open(dir_, MDB_RDONLY, kMapInUse, &env);
    if (!s.ok()) return s;
    LmdbTxn txn;
    if (!(s = LmdbTxn::Begin(env, false, &txn)).ok()) return s;
    WalkTables(txn);
    CheckMeta();
    CheckCreds();
    CheckIds();
    CheckUserIds();
    CheckUsers(mfa_key);
    CheckCounts();
    txn.Abort();
    CheckUsage();
    return Status::Ok();
  }

 private:
  using Table = std::map<std::string, std::string>;

  // Reads every entry of `dbi` into `*out`, checking the order and the count, and that
  // each key and value LMDB returns lies inside the map (a damaged node can claim any
  // size; copying it would run off the map).
  void Walk(const LmdbTxn& txn, MDB_dbi dbi, const std::string& name, Table* out) {
    const auto [map_begin, map_end] = MapRange(mdb_txn_env(txn.get()));
    const auto inside = [&, b = map_begin, e = map_end](const MDB_val& v) {
      const auto p = reinterpret_cast<std::uintptr_t>(v.mv_data);
      if (b == 0) return v.mv_size <= kMaxEntryBytes;  // no /proc: at least no absurd size
      return v.mv_size == 0 || (p >= b && p <= e && v.mv_size <= e - p);
    };
    MDB_stat st{};
    int rc = mdb_stat(txn.get(), dbi, &st);
    if (rc != MDB_SUCCESS) {
      Problem("lmdb", name, fmt::format("table {} cannot be read: {}", name, mdb_strerror(rc)));
      return;
    }
    MDB_cursor* cur = nullptr;
    if ((rc = mdb_cursor_open(txn.get(), dbi, &cur)) != MDB_SUCCESS) {
      Problem("lmdb", name, fmt::format("table {} cannot be read: {}", name, mdb_strerror(rc)));
      return;
    }
    MDB_val k{}, v{};
    std::size_t n = 0;
    std::string prev;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (!inside(k) || !inside(v)) {
        Problem("lmdb", name, fmt::format("table {} is damaged: entry {} claims {} bytes beyond the end "
                                          "of data.mdb", name, n + 1, inside(k) ? v.mv_size : k.mv_size));
        mdb_cursor_close(cur);
        return;
      }
      std::string key(FromVal(k));
      // Keys out of order mean damaged pages (and would make a loop run forever).
      if (n > 0 && key <= prev) {
        Problem("lmdb", name, fmt::format("table {} is damaged: keys out of order after {} entries", name, n));
        mdb_cursor_close(cur);
        return;
      }
      ++n;
      out->emplace(key, std::string(FromVal(v)));
      prev = std::move(key);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
      Problem("lmdb", name, fmt::format("table {} is damaged: reading stopped after {} entries: {}", name,
                                        n, mdb_strerror(rc)));
      return;
    }
    if (n != st.ms_entries)
      Problem("lmdb", name, fmt::format("table {} is damaged: {} entries read, LMDB counts {}", name, n,
                                        st.ms_entries));
  }

  void WalkTables(const LmdbTxn& txn) {
    MDB_dbi main = 0;
    Table names;
    if (mdb_dbi_open(txn.get(), nullptr, 0, &main) == MDB_SUCCESS) Walk(txn, main, "(main)", &names);
    for (const auto& [name, v] : names) {
      bool known = false;
      for (const char* t : kTables) known = known || name == t;
      if (!known)
        Warning("lmdb", LogSafe(name), fmt::format("data.mdb has a table apppass does not use: {}", LogSafe(name)),
                "none needed if you put it there; apppass ignores it");
    }
    Table* dest[] = {&meta_, &creds_, &ids_, &user_ids_, &users_};
    for (std::size_t i = 0; i < std::size(kTables); ++i) {
      MDB_dbi dbi = 0;
      const int rc = mdb_dbi_open(txn.get(), kTables[i], 0, &dbi);
      if (rc == MDB_NOTFOUND) {
        Problem("lmdb", kTables[i], fmt::format("the table {} is missing: not an apppass store, or damaged", kTables[i]));
        continue;
      }
      if (rc != MDB_SUCCESS) {
        Problem("lmdb", kTables[i], fmt::format("the table {} cannot be opened: {}", kTables[i], mdb_strerror(rc)));
        continue;
      }
      Walk(txn, dbi, kTables[i], dest[i]);
    }
  }

  void CheckMeta() {
    for (const auto& [k, v] : meta_) {
      if (k == "schema") {
        if (v == "1")
          Warning("meta", "schema",
                  "schema version 1: credential records carry no integrity tags, so damage to "
                  "one is not detected",
                  fmt::format("any admin command upgrades the store to schema {}, e.g. 'apppass "
                              "--db {} list'", kSchemaVersion, dir_));
        else if (v != std::to_string(kSchemaVersion))
          Problem("meta", "schema",
                  fmt::format("schema version is {}, this apppass understands 1 to {}: verifiers refuse the store",
                              LogQuoted(v, 32), kSchemaVersion),
                  "if a newer apppass wrote it, upgrade apppass; else " + std::string(kRestore));
      } else if (k == "map_size") {
        if (!apppass::ParseMapSize(v))
          Problem("meta", "map_size",
                  fmt::format("map_size {} is not a size from {} to {} bytes", LogQuoted(v, 32),
                              kMinMapSize, kMaxMapSize),
                  fmt::format("set it again: apppass --db {} init --map-size 1G", dir_));
      } else {
        Warning("meta", LogSafe(k), fmt::format("unknown setting {}", LogSafe(k)),
                "a newer apppass may have written it; else it is ignored");
      }
    }
    if (!meta_.contains("schema"))
      Problem("meta", "schema", "the store has no schema version: verifiers refuse it");
  }

  // A credential's name in findings: "id ID (user USER)".
  static std::string Who(const Credential& c) {
    return fmt::format("id {} (user {})", LogSafe(c.id, 16), LogSafe(c.user));
  }

  void CheckCreds() {
    std::map<std::string, std::string> first_hash_of_id;
    for (const auto& [hash, rec] : creds_) {
      if (hash.size() != kHashBytes) {
        Problem("creds", HashKey(hash),
                fmt::format("a credential key is {} bytes long, not a {}-byte hash", hash.size(), kHashBytes));
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
                fmt::format("a credential record does not decode: {}; verifying its password fails", s.message()),
                newer ? "upgrade apppass to the version that wrote it" : kRestore);
        continue;
      }
      decoded_.emplace(hash, c);
      ++r_.credentials;
      if (c.revoked)
        ++r_.revoked;
      else if (c.expires && *c.expires <= opts_.now)
        ++r_.expired;
      else
        ++r_.active;
      const std::string who = Who(c);
      if (!IsCredentialId(c.id))
        Problem("creds", who, "the id is not 8 lowercase hex digits");
      if (!ValidateLabel(c.name).ok())
        Problem("creds", who, fmt::format("the label {} is not valid", LogQuoted(c.name, 64)));
      for (const auto& sc : c.scopes)
        if (!ValidateScope(sc).ok())
          Problem("creds", who, fmt::format("the scope {} is not valid", LogQuoted(sc, 40)));
      auto [it, fresh] = first_hash_of_id.emplace(c.id, hash);
      if (!fresh)
        Problem("creds", who, fmt::format("two credential records ({} and {}) have this id", HashKey(it->second),
                                          HashKey(hash)));
      const auto id = ids_.find(c.id);
      if (id == ids_.end())
        Problem("creds", who,
                "has no ids entry: the password still verifies, but cannot be listed or revoked",
                std::string(kRestore) + "; until then 'apppass mfa reset' does not revoke it either");
      else if (id->second != hash)
        Problem("creds", who,
                fmt::format("ids points to another record ({}) for this id: the password still verifies, "
                            "but cannot be listed or revoked", HashKey(id->second)));
      if (!user_ids_.contains(c.user + '\0' + c.id))
        Problem("creds", who,
                "is missing from user_ids: it is not listed for its user, and revoking the user's "
                "passwords skips it");
      if (!c.revoked) {
        const auto u = users_.find(c.user);
        UserRecord rec_u;
        if (u == users_.end())
          Problem("creds", who,
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

  void CheckIds() {
    for (const auto& [id, hash] : ids_) {
      const std::string key = LogSafe(id, 32);
      if (!IsCredentialId(id)) Problem("ids", key, "the key is not a credential id (8 lowercase hex digits)");
      const auto c = creds_.find(hash);
      if (hash.size() != kHashBytes || c == creds_.end()) {
        Problem("ids", key, "points to no credential record: listing and revoking this user's "
                            "passwords fail with 'store inconsistent'");
        continue;
      }
      const auto d = decoded_.find(hash);
      if (d != decoded_.end() && d->second.id != id)
        Problem("ids", key, fmt::format("points to the record of another id ({})", LogSafe(d->second.id, 16)));
    }
  }

  void CheckUserIds() {
    for (const auto& [k, v] : user_ids_) {
      const auto nul = k.find('\0');
      if (nul == std::string::npos || k.find('\0', nul + 1) != std::string::npos) {
        Problem("user_ids", LogSafe(k), "the key is not USER NUL ID: listing everyone's passwords fails");
        continue;
      }
      const std::string user = k.substr(0, nul), id = k.substr(nul + 1);
      const std::string key = LogSafe(user) + "/" + LogSafe(id, 16);
      if (!v.empty()) Warning("user_ids", key, "the value is not empty", "none needed: it is ignored");
      const auto h = ids_.find(id);
      if (h == ids_.end()) {
        Problem("user_ids", key, "names an id that ids does not have: listing and revoking this user's "
                                 "passwords fail with 'store inconsistent'");
        continue;
      }
      const auto d = decoded_.find(h->second);
      if (d != decoded_.end() && d->second.user != user)
        Problem("user_ids", key,
                fmt::format("lists the credential of another user ({}) under this one: that user "
                            "could revoke it, and its own user cannot", LogSafe(d->second.user)));
    }
  }

  void CheckUsers(const SecretBuffer& mfa_key) {
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
          Problem("users", key, "the TOTP secret does not open with mfa.key (wrong key, or damaged)",
                  fmt::format("restore the matching mfa.key, or 'apppass mfa reset {}' and enroll again", key));
      }
    }
  }

  void CheckCounts() {
    std::map<std::string, int> active;
    std::map<std::pair<std::string, std::string>, std::string> labels;  // (user, label) -> id
    for (const auto& [hash, c] : decoded_) {
      if (!IsActive(c, opts_.now)) continue;
      ++active[c.user];
      auto [it, fresh] = labels.emplace(std::pair{c.user, c.name}, c.id);
      if (!fresh)
        Problem("creds", Who(c),
                fmt::format("has the same label {} as active id {} of this user (create refuses that)",
                            LogQuoted(c.name, 64), LogSafe(it->second, 16)),
                fmt::format("revoke one of them: apppass revoke {} {}", LogSafe(c.user), LogSafe(c.id, 16)));
    }
    for (const auto& [user, n] : active)
      if (n > kDefaultMaxActive)
        Warning("creds", LogSafe(user),
                fmt::format("{} active app passwords, more than the default limit of {}", n, kDefaultMaxActive),
                "none needed if 'create --max-active' allowed it; else revoke the unused ones");
  }

  void CheckUsage() {
    const std::string udir = StorePath(dir_, StoreFile::kUsageDir);
    struct stat st {};
    if (::lstat(udir.c_str(), &st) != 0) {
      Warning("usage", "usage", "the usage database (DIR/usage) is missing: last use is not recorded",
              "restore DIR/usage from a backup, or move in the usage directory of a fresh "
              "'apppass init' made elsewhere");
      return;
    }
    Fd fd;
    Status s = OpenChecked(StorePath(dir_, StoreFile::kUsageData),
                           Layout(StoreFile::kUsageData).rule, &fd, &st);
    if (s.ok())
      s = OpenChecked(StorePath(dir_, StoreFile::kUsageLock), Layout(StoreFile::kUsageLock).rule,
                      &fd, &st);
    LmdbEnv env;
    if (s.ok()) s = LmdbEnv::Open(udir, MDB_RDONLY, kMapInUse, &env);
    LmdbTxn txn;
    if (s.ok()) s = LmdbTxn::Begin(env, false, &txn);
    MDB_dbi dbi = 0;
    if (s.ok()) s = txn.OpenDb("usage", false, &dbi);
    if (!s.ok()) {
      Warning("usage", "usage", "the usage database cannot be read: " + s.message(),
              "last use is not shown; see apppass(8), THE STORE");
      return;
    }
    Table usage;
    Walk(txn, dbi, "usage", &usage);
    for (const auto& [id, v] : usage) {
      ++r_.usage_records;
      Usage u;
      if (!DecodeUsage(v, &u).ok())
        Warning("usage", LogSafe(id, 32), "a last-use record does not decode", "none needed: it is rewritten at the next use");
      else if (!ids_.contains(id))
        Warning("usage", LogSafe(id, 32), "a last-use record of an id the store does not have",
                "none needed: it is never shown");
    }
  }

  std::string dir_;
  CheckOptions opts_;
  CheckReport& r_;
  Table meta_, creds_, ids_, user_ids_, users_;
  std::map<std::string, Credential> decoded_;  // hash -> credential, for records that decode
  const SecretBuffer* tag_key_ = nullptr;       // record_tag.h; set by CheckContents
};

// The child's report, sent to the parent as JSON.
json ToJson(const CheckReport& r) {
  json f = json::array();
  for (const auto& x : r.findings)
    f.push_back({{"level", static_cast<int>(x.level)}, {"table", x.table}, {"key", x.key},
                 {"message", x.message}, {"fix", x.fix}});
  return {{"users", r.users}, {"credentials", r.credentials}, {"active", r.active},
          {"revoked", r.revoked}, {"expired", r.expired}, {"usage", r.usage_records},
          {"findings", f}};
}

void FromJson(const json& j, CheckReport* r) {
  r->users = j.at("users").get<std::size_t>();
  r->credentials = j.at("credentials").get<std::size_t>();
  r->active = j.at("active").get<std::size_t>();
  r->revoked = j.at("revoked").get<std::size_t>();
  r->expired = j.at("expired").get<std::size_t>();
  r->usage_records = j.at("usage").get<std::size_t>();
  for (const auto& x : j.at("findings"))
    r->findings.push_back(CheckFinding{static_cast<CheckLevel>(x.at("level").get<int>()),
                                       x.at("table").get<std::string>(), x.at("key").get<std::string>(),
                                       x.at("message").get<std::string>(), x.at("fix").get<std::string>()});
}

// The child: reads the store and reports {"ok":..., "message":..., "report":...}.
std::string ChildReport(const std::string& dir, const CheckOptions& opts,
                        const SecretBuffer& mfa_key, const SecretBuffer& tag_key) {
  CheckReport report;
  Checker checker(dir, opts, &report);
  const Status s = checker.CheckContents(mfa_key, tag_key);
  json j = {{"ok", s.ok()}, {"message", s.message()}};
  if (s.ok()) j["report"] = ToJson(report);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const char* CheckLevelName(CheckLevel level) {
  return level == CheckLevel::kProblem ? "problem" : "warning";
}

std::size_t CheckReport::Count(CheckLevel level) const {
  std::size_t n = 0;
  for (const auto& f : findings) n += f.level == level;
  return n;
}

Status CheckStore(const std::string& dir, const CheckOptions& opts, CheckReport* out) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  CheckReport report;
  Checker checker(dir, opts, &report);
  SecretBuffer mfa_key, tag_key;
  Status s = checker.CheckFiles(&mfa_key, &tag_key);
  if (!s.ok()) return s;

  const ChildResult run = RunInChild(
      [&] { return ChildReport(dir, opts, mfa_key, tag_key); },
      std::chrono::seconds(opts.timeout_seconds), std::numeric_limits<std::size_t>::max());
  if (run.end == ChildResult::End::kNotRun) return Status::Internal(run.error);

  const std::string what = "data.mdb";
  if (run.end == ChildResult::End::kTimedOut) {
    checker.Problem("lmdb", what,
                    fmt::format("reading the store did not finish within {} s (damaged pages that loop?)",
                                opts.timeout_seconds));
  } else if (run.end == ChildResult::End::kSignaled) {
    checker.Problem("lmdb", what,
                    fmt::format("store pages are corrupt (reading them crashed with {})",
                                SignalName(run.signal)));
  } else if (!run.ok()) {
    checker.Problem("lmdb", what,
                    fmt::format("reading the store failed (the checking process exited with status {})",
                                run.exit_status));
  } else {
    const json j = json::parse(run.report, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok"))
      return Status::Internal("the checking process sent an unreadable report");
    if (!j["ok"].get<bool>()) return Status::Unavailable(j.value("message", std::string("cannot open the store")));
    try {
      CheckReport child;
      FromJson(j.at("report"), &child);
      report.users = child.users;
      report.credentials = child.credentials;
      report.active = child.active;
      report.revoked = child.revoked;
      report.expired = child.expired;
      report.usage_records = child.usage_records;
      for (auto& f : child.findings) report.findings.push_back(std::move(f));
    } catch (...) {
      return Status::Internal("the checking process sent an unreadable report");
    }
  }
  *out = std::move(report);
  return Status::Ok();
}

std::string FormatCheckText(const std::string& dir, const CheckReport& r) {
  std::string out;
  for (const auto& f : r.findings) {
    out += fmt::format("{}: {}{}{}: {}", CheckLevelName(f.level), f.table, f.key.empty() ? "" : " ",
                       f.key, f.message);
    if (!f.fix.empty()) out += "; fix: " + f.fix;
    out += '\n';
  }
  const std::size_t problems = r.Count(CheckLevel::kProblem), warnings = r.Count(CheckLevel::kWarning);
  out += fmt::format(
      "store {}: {} user{}, {} app password{} ({} active, {} revoked, {} expired), {} problem{}, "
      "{} warning{}\n",
      dir, r.users, r.users == 1 ? "" : "s", r.credentials, r.credentials == 1 ? "" : "s", r.active,
      r.revoked, r.expired, problems, problems == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
  return out;
}

std::string FormatCheckJson(const std::string& dir, const CheckReport& r) {
  json f = json::array();
  for (const auto& x : r.findings)
    f.push_back({{"status", CheckLevelName(x.level)}, {"table", x.table}, {"key", x.key},
                 {"message", x.message}, {"fix", x.fix}});
  const json j = {{"store", dir},
                  {"users", r.users},
                  {"credentials",
                   {{"total", r.credentials}, {"active", r.active}, {"revoked", r.revoked}, {"expired", r.expired}}},
                  {"usage_records", r.usage_records},
                  {"problems", r.Count(CheckLevel::kProblem)},
                  {"warnings", r.Count(CheckLevel::kWarning)},
                  {"findings", f}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace apppass
