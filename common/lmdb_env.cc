#include "lmdb_env.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace apppass {

Status LmdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  if (rc == MDB_NOTFOUND) return Status::NotFound(fmt::format("{}: not found", what));
  if (rc == MDB_MAP_FULL)
    return Status::Unavailable(fmt::format(
        "{}: the store is full (LMDB map size reached); nothing was changed", what));
  if (rc == ENOSPC)
    return Status::Unavailable(fmt::format("{}: no space left on device; nothing was changed", what));
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH)
    return Status::Unavailable(fmt::format("{}: the store is corrupt or not an apppass store ({})",
                                           what, mdb_strerror(rc)));
  return Status::Unavailable(fmt::format("{}: {}", what, mdb_strerror(rc)));
}

LmdbEnv::~LmdbEnv() {
  if (env_ != nullptr) mdb_env_close(env_);
}

LmdbEnv& LmdbEnv::operator=(LmdbEnv&& o) noexcept {
  if (this != &o) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = o.env_;
    o.env_ = nullptr;
  }
  return *this;
}

Status LmdbEnv::Open(const std::string& dir, unsigned flags, std::size_t mapsize, LmdbEnv* out) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "creating LMDB environment");
  LmdbEnv holder;
  holder.env_ = env;
  if ((rc = mdb_env_set_mapsize(env, mapsize)) != MDB_SUCCESS)
    return LmdbStatus(rc, "setting map size");
  if ((rc = mdb_env_set_maxdbs(env, 8)) != MDB_SUCCESS) return LmdbStatus(rc, "setting maxdbs");
  // MDB_NOTLS: read transactions are not tied to threads (host processes own threads).
  rc = mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0640);
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, fmt::format("opening store {}", dir));
  // LMDB's own descriptors must not leak into programs the host process execs.
  mdb_filehandle_t fd;
  if (mdb_env_get_fd(env, &fd) == MDB_SUCCESS && fd >= 0) {
    const int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0) fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC);
  }
  *out = std::move(holder);
  return Status::Ok();
}

LmdbTxn& LmdbTxn::operator=(LmdbTxn&& o) noexcept {
  if (this != &o) {
    Abort();
    txn_ = o.txn_;
    o.txn_ = nullptr;
  }
  return *this;
}

Status LmdbTxn::Begin(const LmdbEnv& env, bool write, LmdbTxn* out) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    MDB_envinfo info{};
    mdb_env_info(env.get(), &info);
    // Keep this environment's size if it is larger, else map what is now in use.
    rc = mdb_env_set_mapsize(env.get(), write ? info.me_mapsize : kMapInUse);
    if (rc == MDB_SUCCESS) rc = mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  }
  if (rc != MDB_SUCCESS) return LmdbStatus(rc, "starting transaction");
  out->Abort();
  out->txn_ = txn;
  return Status::Ok();
}

Status LmdbTxn::Commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  if (txn == nullptr) return Status::Internal("commit without transaction");
  return LmdbStatus(mdb_txn_commit(txn), "committing");
}

void LmdbTxn::Abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

Status LmdbTxn::OpenDb(const char* name, bool create, MDB_dbi* dbi) const {
  const int rc = mdb_dbi_open(txn_, name, create ? MDB_CREATE : 0, dbi);
  if (rc == MDB_NOTFOUND)
    return Status::Unavailable(fmt::format("the store has no '{}' table; is it an apppass store "
                                           "(run 'apppass init')?", name));
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
  return LmdbStatus(mdb_put(txn_, dbi, &k, &v, 0), "writing the store");
}

Status LmdbTxn::Del(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return Status::Ok();
  return LmdbStatus(rc, "deleting from the store");
}

LmdbPrefixCursor::LmdbPrefixCursor(const LmdbTxn& txn, MDB_dbi dbi, std::string prefix)
    : prefix_(std::move(prefix)) {
  const int rc = mdb_cursor_open(txn.get(), dbi, &cursor_);
  if (rc != MDB_SUCCESS) {
    cursor_ = nullptr;
    status_ = LmdbStatus(rc, "opening cursor");
  }
}

LmdbPrefixCursor::~LmdbPrefixCursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

bool LmdbPrefixCursor::Next(std::string_view* key, std::string_view* value) {
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
