#include "lmdb_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "files.h"
#include "lmdb_files.h"
#include "store_layout.h"

namespace apppass {

Status LmdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  if (rc == MDB_NOTFOUND) return Status::NotFound(fmt::format("{}: not found", what));
  if (rc == MDB_MAP_FULL)
    return Status::Unavailable(
        fmt::format("{}: the store is full (LMDB map size reached); nothing was changed", what));
  if (rc == ENOSPC || rc == EDQUOT)
    return Status::Unavailable(fmt::format(
        "{}: no space left on the filesystem ({}); nothing was changed. Free some space and run "
        "it again",
        what, std::strerror(rc)));
  if (rc == EFBIG)
    return Status::Unavailable(fmt::format(
        "{}: the file may not grow: the file size limit (ulimit -f) is reached; nothing was "
        "changed. Raise the limit and run it again",
        what));
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH)
    return Status::Unavailable(fmt::format("{}: the store is corrupt or not an apppass store ({})",
                                           what, mdb_strerror(rc)));
  return Status::Unavailable(fmt::format("{}: {}", what, mdb_strerror(rc)));
}

namespace {

std::string SizeText(std::size_t bytes) {
  if (bytes % (std::size_t{1} << 30) == 0) return fmt::format("{} GiB", bytes >> 30);
  if (bytes % (std::size_t{1} << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes % (std::size_t{1} << 10) == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

// LmdbStatus for a write: a full map also names the file, its map size and, when the
// environment's owner set one (mdb_env_set_userctx, a static string), what to do.
Status WriteStatus(MDB_env* env, int rc, std::string_view what) {
  // LMDB reports a write that the filesystem cut short as EIO, not ENOSPC: a full
  // filesystem gets the same clear answer either way (tests/cli/test_full_store.sh).
  if (rc == EIO && env != nullptr) {
    const char* path = nullptr;
    struct statvfs fs {};
    if (mdb_env_get_path(env, &path) == MDB_SUCCESS && path != nullptr &&
        ::statvfs(path, &fs) == 0 && fs.f_bfree * fs.f_frsize < (std::uint64_t{64} << 10))
      rc = ENOSPC;
  }
  if (rc != MDB_MAP_FULL || env == nullptr) return LmdbStatus(rc, what);
  const char* path = nullptr;
  MDB_envinfo info{};
  mdb_env_get_path(env, &path);
  mdb_env_info(env, &info);
  const auto* hint = static_cast<const char*>(mdb_env_get_userctx(env));
  return Status::Unavailable(fmt::format(
      "{}: the store is full: {}/data.mdb reached its map size of {}; nothing was changed.{}{}",
      what, path != nullptr ? path : "?", SizeText(info.me_mapsize), hint != nullptr ? " " : "",
      hint != nullptr ? hint : ""));
}

}  // namespace

LmdbEnv::~LmdbEnv() { envreg::Release(entry_); }

LmdbEnv& LmdbEnv::operator=(LmdbEnv&& o) noexcept {
  if (this != &o) {
    envreg::Release(entry_);
    entry_ = o.entry_;
    o.entry_ = nullptr;
  }
  return *this;
}

namespace {

// DIR/lock.mdb while an environment on it is open in this process: the rule of files.h
// on its lstat, since opening it (and closing that descriptor) would drop the
// environment's locks. LMDB's own descriptor was checked when it was opened.
Status CheckLockInUse(const std::string& path, const struct stat& st) {
  return CheckStat(path, st, Layout(StoreFile::kLock).rule);
}

// Opens a new environment (the registry found none on this store in this process).
Status OpenNew(const std::string& dir, unsigned flags, std::size_t mapsize, MDB_env** out) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "creating LMDB environment");
  std::unique_ptr<MDB_env, decltype(&mdb_env_close)> holder(env, &mdb_env_close);
  if ((rc = mdb_env_set_mapsize(env, mapsize)) != MDB_SUCCESS)
    return LmdbStatus(rc, "setting map size");
  if ((rc = mdb_env_set_maxdbs(env, 8)) != MDB_SUCCESS) return LmdbStatus(rc, "setting maxdbs");
  // The checked directory, and the descriptors open before LMDB opens its files by path:
  // afterwards, what LMDB opened must be the files in this directory (lmdb_files.h).
  Fd dir_fd;
  struct stat dir_st {};
  Status s = OpenChecked(dir, Layout(StoreFile::kDir).rule, &dir_fd, &dir_st);
  if (s.IsNotFound()) return Status::Unavailable(s.message());
  if (!s.ok()) return s;
  bool known = false;
  const std::vector<int> before = OpenDescriptors(&known);
  // MDB_NOTLS: read transactions are not tied to threads (host processes own threads).
  rc = mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0600);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, fmt::format("opening store {}", dir));
  s = CheckEnvFiles(env, dir, dir_fd.get(), before, known, (flags & MDB_RDONLY) == 0);
  if (!s.ok()) return s;
  // LMDB's own descriptors must not leak into programs the host process execs.
  mdb_filehandle_t fd;
  if (mdb_env_get_fd(env, &fd) == MDB_SUCCESS && fd >= 0) {
    const int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0) fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC);
  }
  *out = holder.release();
  return Status::Ok();
}

}  // namespace

Status LmdbEnv::Open(const std::string& dir, unsigned flags, std::size_t mapsize, LmdbEnv* out,
                     bool lock_must_exist) {
  envreg::OpenSpec spec;
  spec.dir = dir;
  spec.read_only = (flags & MDB_RDONLY) != 0;
  // A read-only LMDB would create a missing lock.mdb owned by whoever runs first.
  spec.lock_may_be_missing = !spec.read_only && !lock_must_exist;
  spec.check_lock = [](const std::string& path, const struct stat& st, bool may_open) {
    if (!may_open) return CheckLockInUse(path, st);
    // The reader table: root's alone, like every store file (store_layout.h).
    Fd fd;
    struct stat opened {};
    return OpenChecked(path, Layout(StoreFile::kLock).rule, &fd, &opened);
  };
  spec.open = [&](MDB_env** env) { return OpenNew(dir, flags, mapsize, env); };
  envreg::Entry* entry = nullptr;
  Status s = envreg::Acquire(spec, &entry);
  if (!s.ok()) return s;
  LmdbEnv env;
  env.entry_ = entry;
  *out = std::move(env);
  return Status::Ok();
}

Status LmdbEnv::SetMapSize(std::size_t size) const {
  int rc = MDB_SUCCESS;
  Status s = envreg::WithExclusive(
      entry_, [size](MDB_env* env) { return mdb_env_set_mapsize(env, size); }, &rc);
  if (!s.ok()) return s;
  return LmdbStatus(rc, "setting the map size");
}

LmdbTxn& LmdbTxn::operator=(LmdbTxn&& o) noexcept {
  if (this != &o) {
    Abort();
    txn_ = o.txn_;
    entry_ = o.entry_;
    dbi_locked_ = o.dbi_locked_;
    o.txn_ = nullptr;
    o.entry_ = nullptr;
    o.dbi_locked_ = false;
  }
  return *this;
}

void LmdbTxn::End() {
  if (dbi_locked_) envreg::UnlockDbiOpen(entry_);
  dbi_locked_ = false;
  if (entry_ != nullptr) envreg::DropShared(entry_);
  entry_ = nullptr;
}

Status LmdbTxn::Begin(const LmdbEnv& env, bool write, LmdbTxn* out) {
  out->Abort();
  envreg::Entry* entry = env.entry();
  // Refuses an environment inherited across fork (or none).
  Status s = envreg::HoldShared(entry);
  if (!s.ok()) return s;
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  // Another process grew the store beyond this environment's map. Remapping needs no
  // transaction of this process active on the environment, whichever module or thread
  // holds it, hence the exclusive hold; more growth meanwhile means another round.
  for (int round = 0; rc == MDB_MAP_RESIZED && round < 3; ++round) {
    envreg::DropShared(entry);
    int map_rc = MDB_SUCCESS;
    s = envreg::WithExclusive(
        entry,
        [write](MDB_env* e) {
          MDB_envinfo info{};
          mdb_env_info(e, &info);
          // Keep this environment's size if it is larger, else map what is now in use.
          return mdb_env_set_mapsize(e, write ? info.me_mapsize : kMapInUse);
        },
        &map_rc);
    if (!s.ok()) return s;
    if (map_rc != MDB_SUCCESS) return LmdbStatus(map_rc, "mapping the store's new size");
    if (!(s = envreg::HoldShared(entry)).ok()) return s;
    rc = mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  }
  // A process killed inside a read transaction keeps its reader slot until someone calls
  // mdb_reader_check (LMDB never does on its own): free the dead ones and retry once.
  int dead_readers = 0;
  if (rc == MDB_READERS_FULL && mdb_reader_check(env.get(), &dead_readers) == MDB_SUCCESS &&
      dead_readers > 0)
    rc = mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) {
    envreg::DropShared(entry);
    return LmdbStatus(rc, "starting transaction");
  }
  out->txn_ = txn;
  out->entry_ = entry;
  return Status::Ok();
}

Status LmdbTxn::Commit() {
  if (cursors_ != 0) {
    Abort();
    return Status::Internal("commit with a cursor still open (a bug in apppass)");
  }
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  if (txn == nullptr) return Status::Internal("commit without transaction");
  MDB_env* env = mdb_txn_env(txn);
  const int rc = mdb_txn_commit(txn);
  End();
  return WriteStatus(env, rc, "committing");
}

void LmdbTxn::Abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
  End();
}

Status LmdbTxn::OpenDb(const char* name, bool create, MDB_dbi* dbi) const {
  if (!dbi_locked_ && entry_ != nullptr) {
    envreg::LockDbiOpen(entry_);
    dbi_locked_ = true;
  }
  const int rc = mdb_dbi_open(txn_, name, create ? MDB_CREATE : 0, dbi);
  if (rc == MDB_NOTFOUND)
    return Status::Unavailable(
        fmt::format("the store has no '{}' table; is it an apppass store "
                    "(run 'apppass init')?",
                    name));
  return LmdbStatus(rc, fmt::format("opening table {}", name));
}

Status LmdbTxn::Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const {
  MDB_val k = ToVal(key), v{};
  const int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_SUCCESS) *value = FromVal(v);
  if (rc == MDB_NOTFOUND) return Status::NotFound("not found");
  return LmdbStatus(rc, "reading the store");
}

Status LmdbTxn::Put(MDB_dbi dbi, std::string_view key, std::string_view value) const {
  MDB_val k = ToVal(key), v = ToVal(value);
  return WriteStatus(mdb_txn_env(txn_), mdb_put(txn_, dbi, &k, &v, 0), "writing the store");
}

Status LmdbTxn::Del(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return Status::Ok();
  return WriteStatus(mdb_txn_env(txn_), rc, "deleting from the store");
}

LmdbCursor::LmdbCursor(const LmdbTxn& txn, MDB_dbi dbi, std::string prefix)
    : txn_(txn), prefix_(std::move(prefix)) {
  const int rc = mdb_cursor_open(txn.get(), dbi, &cursor_);
  if (rc != MDB_SUCCESS) {
    cursor_ = nullptr;
    status_ = LmdbStatus(rc, "opening cursor");
    return;
  }
  ++txn_.cursors_;
}

LmdbCursor::~LmdbCursor() {
  if (cursor_ == nullptr) return;
  mdb_cursor_close(cursor_);
  --txn_.cursors_;
}

bool LmdbCursor::Next(std::string_view* key, std::string_view* value) {
  if (cursor_ == nullptr) return false;
  MDB_val k = ToVal(prefix_), v{};
  int rc;
  if (!started_) {
    started_ = true;
    rc = prefix_.empty() ? mdb_cursor_get(cursor_, &k, &v, MDB_FIRST)
                         : mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
  } else {
    rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
  }
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) {
    status_ = LmdbStatus(rc, "scanning the store");
    return false;
  }
  *key = FromVal(k);
  *value = FromVal(v);
  return key->substr(0, prefix_.size()) == prefix_;
}

}  // namespace apppass
