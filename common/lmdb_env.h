// Small RAII layer over LMDB returning Status. Move-only handles; a transaction aborts
// in its destructor unless committed; cursors close before their transaction ends.
// An LmdbEnv may be shared by threads; a transaction belongs to one thread. An LmdbEnv
// is a reference to the process's one environment on that store (env_registry.h): two
// LmdbEnv of the same store in a process, in any module, share it. After fork() an
// inherited LmdbEnv refuses every transaction: open a new one in the child.
#pragma once

#include <lmdb.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "env_registry.h"
#include "status.h"

namespace apppass {

// Converts an LMDB return code into a Status, naming `what` was being done.
Status LmdbStatus(int rc, std::string_view what);

inline MDB_val ToVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view FromVal(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A map size smaller than any store: LMDB rounds it up to the pages in use.
inline constexpr std::size_t kMapInUse = 1;

class LmdbEnv {
 public:
  LmdbEnv() = default;
  ~LmdbEnv();
  LmdbEnv(LmdbEnv&& o) noexcept : entry_(o.entry_) { o.entry_ = nullptr; }
  LmdbEnv& operator=(LmdbEnv&& o) noexcept;
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  // Opens the environment in directory `dir` (data.mdb and lock.mdb inside).
  // `flags` are MDB_* env flags (MDB_RDONLY for verifiers). `mapsize` is the address
  // space to map: kMapInUse maps only the pages in use (readers), which matters in
  // hosts with an address-space limit (Dovecot's auth worker: 256 MiB by default).
  // Sets FD_CLOEXEC on LMDB's descriptors. When this process has the store open already
  // (same lock.mdb), shares that environment (a read-only request may share a writable
  // one, not the reverse) and `mapsize` is not applied. DIR/lock.mdb is checked like the
  // store's other files, and without opening it when it is in use here. NotFound when
  // it is missing and `flags` has MDB_RDONLY or `lock_must_exist` is set (else LMDB
  // creates it).
  static Status Open(const std::string& dir, unsigned flags, std::size_t mapsize, LmdbEnv* out,
                     bool lock_must_exist = false);
  // The environment; nullptr when empty or opened before a fork by the parent.
  MDB_env* get() const { return envreg::EnvOf(entry_); }
  envreg::Entry* entry() const { return entry_; }
  // Maps `size` bytes (mdb_env_set_mapsize) once no transaction of this process is active
  // on the environment. Unavailable if this thread has one open.
  Status SetMapSize(std::size_t size) const;

 private:
  envreg::Entry* entry_ = nullptr;
};

class LmdbTxn {
 public:
  LmdbTxn() = default;
  ~LmdbTxn() { Abort(); }
  // REQUIRES of both moves: no cursor open on either transaction.
  LmdbTxn(LmdbTxn&& o) noexcept : txn_(o.txn_), entry_(o.entry_), dbi_locked_(o.dbi_locked_) {
    o.txn_ = nullptr;
    o.entry_ = nullptr;
    o.dbi_locked_ = false;
  }
  LmdbTxn& operator=(LmdbTxn&& o) noexcept;
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;

  // Begins a transaction. When another process grew the store beyond this
  // environment's map (MDB_MAP_RESIZED), adopts the size in use and retries. Until it
  // ends the transaction holds the environment shared (env_registry.h).
  static Status Begin(const LmdbEnv& env, bool write, LmdbTxn* out);
  // Commits; the handle is empty afterwards whatever the result. Internal (and aborted)
  // while a cursor on it is open.
  Status Commit();
  void Abort();
  MDB_txn* get() const { return txn_; }

  // Opens (or with `create`, creates) the named database. Until this transaction ends no
  // other transaction of the process may open one (LMDB's rule for mdb_dbi_open).
  Status OpenDb(const char* name, bool create, MDB_dbi* dbi) const;
  // Ok and `*value` set (valid until the transaction ends), NotFound, or an error.
  Status Get(MDB_dbi dbi, std::string_view key, std::string_view* value) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value) const;
  // Ok when deleted or absent.
  Status Del(MDB_dbi dbi, std::string_view key) const;

 private:
  void End();  // after commit or abort: gives back the environment
  friend class LmdbCursor;
  MDB_txn* txn_ = nullptr;
  envreg::Entry* entry_ = nullptr;
  mutable bool dbi_locked_ = false;
  mutable int cursors_ = 0;  // LmdbCursors open on this transaction
};

// A cursor on one table of a transaction: the one way apppass searches and walks LMDB.
// Closed on destruction. REQUIRES: destroyed before its transaction ends (declare it
// after the LmdbTxn, or in an inner scope); LmdbTxn::Commit refuses while one is open.
// Belongs to its transaction's thread. Neither copied nor moved.
class LmdbCursor {
 public:
  // Iterating with Next() visits the keys that start with `prefix` ("" : every key).
  LmdbCursor(const LmdbTxn& txn, MDB_dbi dbi, std::string prefix = {});
  ~LmdbCursor();
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;

  // Ok, or why the cursor did not open or the last Next() failed.
  const Status& status() const { return status_; }

  // The next key with the prefix, in key order; false at the end or on an error (then
  // status() says which). Views are valid until the transaction ends or writes.
  bool Next(std::string_view* key, std::string_view* value);

  // LMDB's own steps, for code that handles LMDB's return codes itself. Each returns
  // mdb_cursor_get's code (EINVAL when the cursor did not open).
  int Get(MDB_val* key, MDB_val* val, MDB_cursor_op op) {
    return cursor_ == nullptr ? EINVAL : mdb_cursor_get(cursor_, key, val, op);
  }
  // The first record whose key is >= `*key`, or past the last key the first record: the
  // record itself when it exists, else a neighbour. MDB_NOTFOUND for an empty table.
  int SeekOrFirst(MDB_val* key, MDB_val* val) {
    if (cursor_ == nullptr) return EINVAL;
    int rc = mdb_cursor_get(cursor_, key, val, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cursor_, key, val, MDB_FIRST);
    return rc;
  }
  // Replaces the value of the record under the cursor (write transactions).
  int PutCurrent(std::string_view key, std::string_view value) {
    MDB_val k = ToVal(key), v = ToVal(value);
    return cursor_ == nullptr ? EINVAL : mdb_cursor_put(cursor_, &k, &v, MDB_CURRENT);
  }

 private:
  const LmdbTxn& txn_;
  MDB_cursor* cursor_ = nullptr;
  std::string prefix_;
  bool started_ = false;
  Status status_;
};

}  // namespace apppass
