// StoreCache: the stores a long-lived verifier keeps open between logins, one per store
// directory per process (pam_apppass.so: libpam unloads the module after every
// transaction, so it is linked -z nodelete and keeps its one StoreCache for good).
//
// What a login costs. Store::Open checks the directory and every file on an open
// descriptor, reads the key, opens LMDB, lists /proc/self/fd to mark LMDB's descriptors
// close-on-exec and checks them: about 200 system calls. A cached store costs four lstat
// calls (Get): the directory, key, data.mdb and lock.mdb are compared with what they were
// right after the successful open (FileSnapshot). Any difference, or any lstat that
// fails, drops the entry and opens the store again through Store::Open, which applies
// every rule of today and fails exactly as it would have: an open failure is returned
// and never cached. Why four lstat calls suffice is in docs/design.md, "PAM state across
// transactions".
//
// Last use. An entry's writable UsageDb (usage.h) is opened by the first accepted login
// that records one (RecordUse) and kept; the throttle then reads the environment already
// mapped and writes at most once per interval per password. A refused login never calls
// RecordUse, so it opens nothing beyond the store. The usage files are revalidated the
// same way on that path only (identity, type, mode, owner; a data.mdb that shrank), and a
// failure there is the caller's warning, never its decision.
//
// fork: an entry opened by another process is never used (the registry refuses its
// transactions anyway); Get drops it and the child opens its own.
//
// Thread-safety: Get, Drop and RecordUse may be called from many threads at once. Get
// holds a mutex (one for every StoreCache of the module) for the lstat calls and, when
// needed, the reopen; the caller then verifies outside it, on the shared_ptr snapshot,
// which keeps its store open until its last holder lets go, so a reopen in one thread
// never closes the store another one verifies with. RecordUse holds the entry's usage
// mutex for its lstat calls (and a reopen), never for the write. A fork() while another
// thread is in Get waits for it (pthread_atfork), so the child's mutex is free.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "status.h"
#include "store.h"
#include "usage.h"

namespace apppass {

// lstat of the files a cached store depends on, taken right after it was opened.
struct FileSnapshot {
  static constexpr int kStoreFiles = 4;  // DIR, DIR/key, DIR/data.mdb, DIR/lock.mdb
  struct stat st[kStoreFiles] = {};
};

// One store opened for verifying (kVerify) by this process, with its last-use database.
// Immutable but for the usage handle, which has its own mutex.
class CachedStore {
 public:
  const Store& store() const { return store_; }
  pid_t pid() const { return pid_; }

  // Records `use` for credential `id` (UsageDb::Record: at most one write per interval).
  // Opens DIR/usage for writing on the first call and keeps it; later calls lstat its
  // three entries and reopen when one changed. Thread-safe.
  Status RecordUse(std::string_view id, const Usage& use, std::int64_t min_interval) const;
  // For tests: how often this entry opened its usage database.
  std::uint64_t usage_opens() const;

 private:
  friend class StoreCache;
  struct UsageState {
    std::shared_ptr<const UsageDb> db;  // null until opened (or after a failed check)
    struct stat st[3] = {};             // usage/, usage/data.mdb, usage/lock.mdb
    std::uint64_t opens = 0;
  };

  Store store_;
  pid_t pid_ = 0;
  FileSnapshot files_;
  mutable std::mutex usage_mu_;
  mutable UsageState usage_;  // guarded by usage_mu_
};

class StoreCache {
 public:
  StoreCache();
  StoreCache(const StoreCache&) = delete;
  StoreCache& operator=(const StoreCache&) = delete;

  // The store `dir` opened for verifying by this process, still made of the files it was
  // opened from; or, when it cannot be (re)opened, Store::Open's status (Unavailable and
  // its message), and `*out` null.
  Status Get(const std::string& dir, std::shared_ptr<const CachedStore>* out);
  // Forgets `dir`: the next Get opens it again. For a caller about to open the same store
  // for administration in this process (the registry refuses a writable environment
  // while a read-only one is open): once no snapshot is held, the environment closes.
  void Drop(const std::string& dir);

  // For tests: how many times Get called Store::Open.
  std::uint64_t opens() const;

 private:
  // Guarded by the module's cache mutex (store_cache.cc).
  std::map<std::string, std::shared_ptr<const CachedStore>> entries_;
  std::uint64_t opens_ = 0;
};

}  // namespace apppass
