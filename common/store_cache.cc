#include "store_cache.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>

#include "store_layout.h"

namespace apppass {

namespace {

// One mutex for every StoreCache of the module (there is one in practice), so that one
// pthread_atfork registration covers them all: a fork() while a thread is in Get waits
// for it, and the child starts with the mutex free. Ordered before the registry's own
// mutex (registered earlier, so its prepare handler runs after this one), as in Get.
std::mutex& Mu() {
  static auto* mu = new std::mutex;  // never destroyed: the atfork handlers outlive exit
  return *mu;
}
void LockMu() { Mu().lock(); }
void UnlockMu() { Mu().unlock(); }

constexpr StoreFile kSnapshotFiles[FileSnapshot::kStoreFiles] = {
    StoreFile::kDir, StoreFile::kKey, StoreFile::kData, StoreFile::kLock};
constexpr StoreFile kUsageFiles[3] = {StoreFile::kUsageDir, StoreFile::kUsageData,
                                      StoreFile::kUsageLock};

bool SameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// The same file, with the same type, mode, owner and link count: what the file rule
// (files.h) and the registry's key (the inode of lock.mdb) depend on.
bool SameIdentity(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_mode == b.st_mode &&
         a.st_uid == b.st_uid && a.st_gid == b.st_gid && a.st_nlink == b.st_nlink;
}

// lstat of `f` in `dir`; false when it fails.
bool LstatOf(const std::string& dir, StoreFile f, struct stat* st) {
  return ::lstat(StorePath(dir, f).c_str(), st) == 0;
}

// Whether the store files are still what `snap` recorded. The directory, the key and
// data.mdb must be unchanged in every field that a replacement, a chmod or chown, an
// in-place write or a truncation changes (size, modification and change times).
// lock.mdb is written through every reader's mapping (its times move with logins), so its
// identity, type, mode, owner and size are compared.
bool StoreUnchanged(const std::string& dir, const FileSnapshot& snap) {
  for (int i = 0; i < FileSnapshot::kStoreFiles; ++i) {
    struct stat now {};
    const struct stat& was = snap.st[i];
    if (!LstatOf(dir, kSnapshotFiles[i], &now) || !SameIdentity(now, was) ||
        now.st_size != was.st_size)
      return false;
    if (kSnapshotFiles[i] != StoreFile::kLock &&
        (!SameTime(now.st_mtim, was.st_mtim) || !SameTime(now.st_ctim, was.st_ctim)))
      return false;
  }
  return true;
}

// The snapshot, taken before the open: a change after it is then seen by the next Get.
bool TakeSnapshot(const std::string& dir, FileSnapshot* snap) {
  bool all = true;
  for (int i = 0; i < FileSnapshot::kStoreFiles; ++i)
    all = LstatOf(dir, kSnapshotFiles[i], &snap->st[i]) && all;
  return all;
}

}  // namespace

StoreCache::StoreCache() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(LockMu, UnlockMu, UnlockMu); });
}

Status StoreCache::Get(const std::string& dir, std::shared_ptr<const CachedStore>* out) {
  out->reset();
  std::lock_guard<std::mutex> lock(Mu());
  const pid_t self = ::getpid();
  if (const auto it = entries_.find(dir); it != entries_.end()) {
    const CachedStore& c = *it->second;
    if (c.pid_ == self && StoreUnchanged(dir, c.files_)) {
      *out = it->second;
      return Status::Ok();
    }
    // The cache's reference goes first: when nobody else holds the store, the registry
    // closes its environment, and the open below is a whole new one, checked as ever.
    entries_.erase(it);
  }
  auto fresh = std::make_shared<CachedStore>();
  fresh->pid_ = self;
  const bool snapped = TakeSnapshot(dir, &fresh->files_);
  ++opens_;
  const Status s = Store::Open(dir, Store::Mode::kVerify, &fresh->store_);
  if (!s.ok()) return s;  // never cached: the next login tries again
  // A file that could not be lstat'ed before the open (it appeared meanwhile) leaves no
  // snapshot to compare with: used for this login, opened again for the next.
  if (snapped) entries_[dir] = fresh;
  *out = std::move(fresh);
  return Status::Ok();
}

void StoreCache::Drop(const std::string& dir) {
  std::lock_guard<std::mutex> lock(Mu());
  entries_.erase(dir);
}

std::uint64_t StoreCache::opens() const {
  std::lock_guard<std::mutex> lock(Mu());
  return opens_;
}

namespace {

// Whether the usage files are still the ones opened: the same identity, type, mode and
// owner, and a data.mdb that did not shrink (LMDB never shrinks it; a truncated file
// would fault under the map). Its size and times move with every write, of this process
// and of others. Updates the size seen.
bool UsageUnchanged(const std::string& dir, struct stat (&was)[3]) {
  for (int i = 0; i < 3; ++i) {
    struct stat now {};
    if (!LstatOf(dir, kUsageFiles[i], &now) || !SameIdentity(now, was[i])) return false;
    if (kUsageFiles[i] == StoreFile::kUsageData) {
      if (now.st_size < was[i].st_size) return false;
      was[i].st_size = now.st_size;
    }
  }
  return true;
}

}  // namespace

Status CachedStore::RecordUse(std::string_view id, const Usage& use,
                              std::int64_t min_interval) const {
  std::shared_ptr<const UsageDb> db;
  {
    std::lock_guard<std::mutex> lock(usage_mu_);
    if (usage_.db != nullptr && !UsageUnchanged(store_.dir(), usage_.st)) usage_.db.reset();
    if (usage_.db == nullptr) {
      struct stat st[3] = {};
      bool snapped = true;
      for (int i = 0; i < 3; ++i)
        snapped = LstatOf(store_.dir(), kUsageFiles[i], &st[i]) && snapped;
      auto fresh = std::make_shared<UsageDb>();
      ++usage_.opens;
      const Status s = UsageDb::Open(store_.dir(), true, fresh.get());
      if (!s.ok()) return s;
      if (snapped) {
        usage_.db = fresh;
        std::copy(st, st + 3, usage_.st);
      }
      db = std::move(fresh);
    } else {
      db = usage_.db;
    }
  }
  // Outside the mutex: a write's commit waits for the disk.
  return db->Record(id, use, min_interval);
}

std::uint64_t CachedStore::usage_opens() const {
  std::lock_guard<std::mutex> lock(usage_mu_);
  return usage_.opens;
}

}  // namespace apppass
