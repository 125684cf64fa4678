// The LMDB level of CheckStore (store_check_internal.h): every table walked with a cursor,
// and the usage database.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "files.h"
#include "store.h"
#include "store_check_internal.h"
#include "store_layout.h"
#include "text.h"
#include "usage.h"

namespace apppass::internal {

namespace {

constexpr const char* kTables[] = {"meta", "creds", "ids", "user_ids", "users"};

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

}  // namespace

// Reads every entry of `dbi` into `*out`, checking the order and the count, and that
// each key and value LMDB returns lies inside the map (a damaged node can claim any
// size; copying it would run off the map).
void StoreChecker::Walk(const LmdbTxn& txn, MDB_dbi dbi, const std::string& name, Table* out) {
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
  LmdbCursor cur(txn, dbi);
  if (!cur.status().ok()) {
    Problem("lmdb", name, fmt::format("table {} cannot be read: {}", name, cur.status().message()));
    return;
  }
  MDB_val k{}, v{};
  std::size_t n = 0;
  std::string prev;
  for (rc = cur.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = cur.Get(&k, &v, MDB_NEXT)) {
    if (!inside(k) || !inside(v)) {
      Problem("lmdb", name,
              fmt::format("table {} is damaged: entry {} claims {} bytes beyond the end "
                          "of data.mdb",
                          name, n + 1, inside(k) ? v.mv_size : k.mv_size));
      return;
    }
    std::string key(FromVal(k));
    // Keys out of order mean damaged pages (and would make a loop run forever).
    if (n > 0 && key <= prev) {
      Problem("lmdb", name,
              fmt::format("table {} is damaged: keys out of order after {} entries", name, n));
      return;
    }
    ++n;
    out->emplace(key, std::string(FromVal(v)));
    prev = std::move(key);
  }
  if (rc != MDB_NOTFOUND) {
    Problem("lmdb", name,
            fmt::format("table {} is damaged: reading stopped after {} entries: {}", name, n,
                        mdb_strerror(rc)));
    return;
  }
  if (n != st.ms_entries)
    Problem("lmdb", name,
            fmt::format("table {} is damaged: {} entries read, LMDB counts {}", name, n,
                        st.ms_entries));
}

void StoreChecker::WalkTables(const LmdbTxn& txn) {
  MDB_dbi main = 0;
  Table names;
  if (mdb_dbi_open(txn.get(), nullptr, 0, &main) == MDB_SUCCESS) Walk(txn, main, "(main)", &names);
  for (const auto& [name, v] : names) {
    bool known = false;
    for (const char* t : kTables) known = known || name == t;
    if (!known)
      Warning("lmdb", LogSafe(name),
              fmt::format("data.mdb has a table apppass does not use: {}", LogSafe(name)),
              "none needed if you put it there; apppass ignores it");
  }
  Table* dest[] = {&meta_, &creds_, &ids_, &user_ids_, &users_};
  for (std::size_t i = 0; i < std::size(kTables); ++i) {
    MDB_dbi dbi = 0;
    const int rc = mdb_dbi_open(txn.get(), kTables[i], 0, &dbi);
    if (rc == MDB_NOTFOUND) {
      Problem("lmdb", kTables[i],
              fmt::format("the table {} is missing: not an apppass store, or damaged", kTables[i]));
      continue;
    }
    if (rc != MDB_SUCCESS) {
      Problem("lmdb", kTables[i],
              fmt::format("the table {} cannot be opened: {}", kTables[i], mdb_strerror(rc)));
      continue;
    }
    Walk(txn, dbi, kTables[i], dest[i]);
  }
}

void StoreChecker::CheckUsage() {
  const std::string udir = StorePath(dir_, StoreFile::kUsageDir);
  struct stat st {};
  if (::lstat(udir.c_str(), &st) != 0) {
    Warning("usage", "usage", "the usage database (DIR/usage) is missing: last use is not recorded",
            "restore DIR/usage from a backup, or move in the usage directory of a fresh "
            "'apppass init' made elsewhere");
    return;
  }
  Fd fd;
  Status s = OpenChecked(StorePath(dir_, StoreFile::kUsageData), Layout(StoreFile::kUsageData).rule,
                         &fd, &st);
  if (s.ok())
    s = OpenChecked(StorePath(dir_, StoreFile::kUsageLock), Layout(StoreFile::kUsageLock).rule, &fd,
                    &st);
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
      Warning("usage", LogSafe(id, 32), "a last-use record does not decode",
              "none needed: it is rewritten at the next use");
    else if (!ids_.contains(id))
      Warning("usage", LogSafe(id, 32), "a last-use record of an id the store does not have",
              "none needed: it is never shown");
  }
}

}  // namespace apppass::internal
