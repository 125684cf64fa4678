#include "doctor/store_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <initializer_list>

#include "child.h"
#include "files.h"
#include "lmdb_env.h"
#include "secret.h"
#include "store.h"
#include "store_layout.h"
#include "text.h"

namespace apppass::doctor {

namespace {

constexpr std::chrono::milliseconds kProbeTimeout{20000};

// The file `f` of the store checked by its layout rule (OpenChecked), `missing` when it
// does not exist.
Status CheckFile(const std::string& db, StoreFile f, const std::string& missing, struct stat* st) {
  Fd fd;
  const Status s = OpenChecked(StorePath(db, f), Layout(f).rule, &fd, st);
  if (s.IsNotFound()) return Status::Unavailable(missing);
  return s;
}

// LMDB opens the reader table read-write even for a read-only environment.
Status CheckLockWritable(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid())
    return Status::Unavailable(
        fmt::format("cannot open {} for writing: {}", path, std::strerror(errno)));
  return Status::Ok();
}

// In a forked child: opens the environment in `dir` read-only without a reader slot,
// opens `tables` and, with `schema`, reads meta "schema". Reports "S VALUE" (the schema
// as written; "S" without schema) or "E MESSAGE".
Status ReadEnv(const std::string& dir, std::initializer_list<const char*> tables, bool schema,
               std::string* value) {
  const ChildResult r = RunInChild(
      [&]() -> std::string {
        LmdbEnv env;
        Status s = LmdbEnv::Open(dir, MDB_RDONLY | MDB_NOLOCK, kMapInUse, &env);
        LmdbTxn txn;
        if (s.ok()) s = LmdbTxn::Begin(env, false, &txn);
        std::string out = "S";
        for (const char* table : tables) {
          MDB_dbi dbi = 0;
          if (s.ok()) s = txn.OpenDb(table, false, &dbi);
          if (s.ok() && schema && std::strcmp(table, "meta") == 0) {
            std::string_view v;
            if (!txn.Get(dbi, "schema", &v).ok())
              return fmt::format("E {} has no schema version; not an apppass store?", dir);
            out += " " + std::string(v.substr(0, 16));
          }
        }
        return s.ok() ? out : "E " + s.message();
      },
      kProbeTimeout);
  if (!r.ok())
    return Status::Internal(fmt::format("reading {} in a child failed: {}", dir, r.Describe()));
  if (r.report.rfind("E ", 0) == 0) return Status::Unavailable(r.report.substr(2));
  *value = r.report.size() > 2 ? r.report.substr(2) : "";
  return Status::Ok();
}

}  // namespace

Status ProbeVerify(const std::string& db, int* schema) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  struct stat st {};
  Status s =
      CheckFile(db, StoreFile::kDir,
                fmt::format("store {} does not exist (create it with 'apppass init')", db), &st);
  if (s.ok())
    s = CheckFile(
        db, StoreFile::kData,
        fmt::format("{} has no data.mdb; is it an apppass store (run 'apppass init')?", db), &st);
  if (s.ok() && st.st_size == 0)
    s = Status::Unavailable(fmt::format("{}/data.mdb is empty: the store is corrupt", db));
  if (s.ok())
    s = CheckFile(db, StoreFile::kLock,
                  fmt::format("{}/lock.mdb does not exist; verifiers need it", db), &st);
  if (s.ok()) s = CheckLockWritable(StorePath(db, StoreFile::kLock));
  SecretBuffer key;
  if (s.ok()) s = LoadKey(StorePath(db, StoreFile::kKey), &key);
  std::string value;
  if (s.ok()) s = ReadEnv(db, {"meta", "creds", "ids", "user_ids", "users"}, true, &value);
  if (!s.ok()) return s;
  if (value != "1" && value != std::to_string(kSchemaVersion))
    return Status::Unavailable(
        fmt::format("store {} has schema version '{}', this apppass understands 1 to {}", db, value,
                    kSchemaVersion));
  *schema = value == "1" ? 1 : kSchemaVersion;
  return Status::Ok();
}

Status ProbeAdminKey(const std::string& db) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  SecretBuffer key;
  return LoadKey(StorePath(db, StoreFile::kMfaKey), &key, /*owner_only=*/true);
}

Status ProbeUserNames(const std::string& db, std::vector<std::string>* names) {
  constexpr std::size_t kMaxNames = 100000;
  const ChildResult r = RunInChild(
      [&]() -> std::string {
        LmdbEnv env;
        Status s = LmdbEnv::Open(db, MDB_RDONLY | MDB_NOLOCK, kMapInUse, &env);
        LmdbTxn txn;
        if (s.ok()) s = LmdbTxn::Begin(env, false, &txn);
        MDB_dbi dbi = 0;
        if (s.ok()) s = txn.OpenDb("users", false, &dbi);
        if (!s.ok()) return "E " + s.message();
        // One name a line: valid user names hold no control characters.
        std::string out = "S";
        std::size_t n = 0;
        LmdbCursor cursor(txn, dbi);
        std::string_view key, value;
        while (n < kMaxNames && cursor.Next(&key, &value)) {
          if (!ValidateUserName(key).ok()) continue;
          out += "\n";
          out += key;
          ++n;
        }
        if (!cursor.status().ok()) return "E " + cursor.status().message();
        return out;
      },
      kProbeTimeout);
  if (!r.ok())
    return Status::Internal(fmt::format("reading {} in a child failed: {}", db, r.Describe()));
  if (r.report.rfind("E ", 0) == 0) return Status::Unavailable(r.report.substr(2));
  names->clear();
  std::size_t i = r.report.find('\n');
  while (i != std::string::npos) {
    const std::size_t j = r.report.find('\n', i + 1);
    names->push_back(r.report.substr(i + 1, j == std::string::npos ? j : j - i - 1));
    i = j;
  }
  return Status::Ok();
}

Status ProbeUsage(const std::string& db) {
  const std::string dir = StorePath(db, StoreFile::kUsageDir);
  struct stat st {};
  const std::string missing = fmt::format("usage database {} is missing", dir);
  Status s = CheckFile(db, StoreFile::kUsageDir, missing, &st);
  if (s.ok()) s = CheckFile(db, StoreFile::kUsageData, missing, &st);
  if (s.ok()) s = CheckFile(db, StoreFile::kUsageLock, missing, &st);
  std::string value;
  if (s.ok()) s = ReadEnv(dir, {"usage"}, false, &value);
  return s;
}

}  // namespace apppass::doctor
