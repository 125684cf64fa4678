// libapppass-shared.so: see env_registry.h. Everything here is one per process.
#include "env_registry.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace apppass::envreg {

struct Entry {
  std::string dir;
  dev_t dev = 0;
  ino_t ino = 0;
  pid_t pid = 0;           // immutable: the process that opened it
  MDB_env* env = nullptr;  // null once closed as inherited
  bool read_only = true;
  int refs = 0;         // guarded by the registry's mutex
  pthread_rwlock_t rw;  // transactions shared, map resizes exclusive
  std::mutex dbi_mu;
};

namespace {

// How many environments one process may have open at once (a store and its usage
// database each count; a process uses one or two stores).
constexpr int kMaxEnvs = 32;

// Trivially destructible and never on the heap: libpam unloads the module, and with it
// this library, at every pam_end, so the registry must neither leak nor be destroyed
// while another library's destructor may still release a handle at exit.
struct Registry {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pid_t pid = 0;          // the process `open` belongs to
  Entry* open[kMaxEnvs];  // this process's environments
  int nopen = 0;
  Entry* inherited[kMaxEnvs];  // a parent's, closed here, still referenced
  int ninherited = 0;
  std::uint64_t opened = 0, shared = 0;
};
Registry g_registry;

Registry& R() { return g_registry; }

class Locked {
 public:
  Locked() { pthread_mutex_lock(&R().mu); }
  ~Locked() { pthread_mutex_unlock(&R().mu); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

// fork() while another thread holds the mutex would leave it locked in the child.
void Prepare() { pthread_mutex_lock(&R().mu); }
void Unlock() { pthread_mutex_unlock(&R().mu); }
[[maybe_unused]] const int kAtFork = [] {
  R().pid = ::getpid();
  return ::pthread_atfork(Prepare, Unlock, Unlock);
}();

void Remove(Entry** list, int* n, const Entry* e) {
  for (int i = 0; i < *n; ++i)
    if (list[i] == e) {
      list[i] = list[--*n];
      return;
    }
}

// In a child: closes every environment inherited from the parent, before the child opens
// one of its own (closing one later would drop the new one's locks: same file). The
// child holds none of the parent's fcntl locks and mdb_env_close clears only reader slots
// of the calling pid, so the parent is not affected. REQUIRES: mu held.
void DropInherited(Registry& r) {
  const pid_t self = ::getpid();
  if (r.pid == self) return;
  for (int i = 0; i < r.nopen; ++i) {
    Entry* e = r.open[i];
    if (e->env != nullptr) mdb_env_close(e->env);
    e->env = nullptr;
    // Its rwlock and mutex may look held (by a thread that does not exist here): never
    // touched again, and the entry is only freed (or, past kMaxEnvs, left alone).
    if (e->refs == 0) delete e;
    else if (r.ninherited < kMaxEnvs) r.inherited[r.ninherited++] = e;
  }
  r.nopen = 0;
  r.pid = self;
}

// Per thread: the environments this thread holds shared, so that nested transactions
// do not lock twice (the rwlock prefers writers, so a second read lock could wait behind
// a waiting resize that waits for the first). Trivially destructible on purpose: no TLS
// destructor pins the library.
struct Held {
  Entry* e;
  int depth;
};
constexpr int kMaxHeld = 8;
// initial-exec: a dlopen'ed library's other TLS is allocated with malloc on first use,
// and glibc aborts the process when that fails ("cannot allocate memory for thread-local
// data", found by tests/faults' allocation sweep); initial-exec TLS comes from the static
// TLS space glibc reserves for dlopen, never from malloc.
__attribute__((tls_model("initial-exec"))) thread_local Held t_held[kMaxHeld];
__attribute__((tls_model("initial-exec"))) thread_local int t_nheld = 0;

Held* FindHeld(const Entry* e) {
  for (int i = 0; i < t_nheld; ++i)
    if (t_held[i].e == e) return &t_held[i];
  return nullptr;
}

Status NotThisProcess(const Entry* e) {
  return Status::Unavailable(
      fmt::format("the store {} was opened by process {} before a fork; it must be opened again in "
                  "this process",
                  e != nullptr ? e->dir : "?", e != nullptr ? e->pid : 0));
}

}  // namespace

Status Acquire(const OpenSpec& spec, Entry** out) {
  *out = nullptr;
  Registry& r = R();
  Locked lock;
  DropInherited(r);
  const std::string lock_path = spec.dir + "/lock.mdb";
  struct stat st {};
  bool missing = false;
  if (::lstat(lock_path.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::Unavailable(
          fmt::format("cannot stat {}: {}", lock_path, std::strerror(errno)));
    if (!spec.lock_may_be_missing)
      return Status::NotFound(fmt::format("{} does not exist", lock_path));
    missing = true;
  }
  if (!missing) {
    Entry** const end = r.open + r.nopen;
    Entry** const it = std::find_if(r.open + 0, end, [&](const Entry* e) {
      return e->dev == st.st_dev && e->ino == st.st_ino;
    });
    Status s = spec.check_lock(lock_path, st, it == end);
    if (!s.ok()) return s;
    if (it != end) {
      Entry* e = *it;
      if (e->read_only && !spec.read_only)
        return Status::Unavailable(fmt::format(
            "the store {} is open read-only in this process; close it before opening it "
            "for writing",
            spec.dir));
      ++e->refs;
      ++r.shared;
      *out = e;
      return Status::Ok();
    }
  }
  if (r.nopen == kMaxEnvs)
    return Status::Unavailable(
        fmt::format("cannot open {}: too many stores open in this process", spec.dir));
  MDB_env* env = nullptr;
  Status s = spec.open(&env);
  if (!s.ok()) return s;
  // The key must be the file LMDB locks. The opener compared LMDB's descriptors with the
  // directory; a lock.mdb swapped since our lstat (only root can) would make this a second
  // environment on a file already open here. Then the new one is left open: closing it
  // would drop the other one's locks.
  struct stat now {};
  const bool same = ::lstat(lock_path.c_str(), &now) == 0 && S_ISREG(now.st_mode) &&
                    (missing || (now.st_dev == st.st_dev && now.st_ino == st.st_ino));
  const bool clash = same && std::any_of(r.open + 0, r.open + r.nopen, [&](const Entry* e) {
                       return e->dev == now.st_dev && e->ino == now.st_ino;
                     });
  if (!same || clash)
    return Status::Unavailable(
        fmt::format("{} changed while it was being opened; refusing to use it", lock_path));
  auto* e = new Entry;
  e->dir = spec.dir;
  e->dev = now.st_dev;
  e->ino = now.st_ino;
  e->pid = ::getpid();
  e->env = env;
  e->read_only = spec.read_only;
  e->refs = 1;
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  // Writers first: a map resize must not starve behind a steady stream of verifications.
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&e->rw, &attr);
  pthread_rwlockattr_destroy(&attr);
  r.open[r.nopen++] = e;
  ++r.opened;
  *out = e;
  return Status::Ok();
}

void Release(Entry* e) {
  if (e == nullptr) return;
  Registry& r = R();
  Locked lock;
  DropInherited(r);
  if (--e->refs > 0) return;
  if (std::find(r.open + 0, r.open + r.nopen, e) != r.open + r.nopen) {
    Remove(r.open, &r.nopen, e);
    // The last user is gone, so no transaction is active on it and no other environment
    // on this lock.mdb exists in this process: closing drops nothing of anyone else's.
    mdb_env_close(e->env);
    pthread_rwlock_destroy(&e->rw);
  } else {
    Remove(r.inherited, &r.ninherited, e);
  }
  delete e;
}

MDB_env* EnvOf(const Entry* e) {
  if (e == nullptr || e->pid != ::getpid()) return nullptr;
  return e->env;
}

Status HoldShared(Entry* e) {
  if (EnvOf(e) == nullptr) return NotThisProcess(e);
  if (Held* h = FindHeld(e)) {
    ++h->depth;
    return Status::Ok();
  }
  if (t_nheld == kMaxHeld)
    return Status::Internal("too many stores with transactions open in one thread");
  const int rc = pthread_rwlock_rdlock(&e->rw);
  if (rc != 0)
    return Status::Unavailable(
        fmt::format("cannot lock the store {}: {}", e->dir, std::strerror(rc)));
  t_held[t_nheld++] = Held{e, 1};
  return Status::Ok();
}

void DropShared(Entry* e) {
  Held* h = FindHeld(e);
  if (h == nullptr || --h->depth > 0) return;
  pthread_rwlock_unlock(&e->rw);
  *h = t_held[--t_nheld];
}

Status WithExclusive(Entry* e, const std::function<int(MDB_env*)>& fn, int* rc) {
  *rc = MDB_SUCCESS;
  if (EnvOf(e) == nullptr) return NotThisProcess(e);
  if (FindHeld(e) != nullptr)
    return Status::Unavailable(fmt::format(
        "the store {} cannot be remapped while this thread has a transaction open on it", e->dir));
  const int lrc = pthread_rwlock_wrlock(&e->rw);
  if (lrc != 0)
    return Status::Unavailable(
        fmt::format("cannot lock the store {}: {}", e->dir, std::strerror(lrc)));
  *rc = fn(e->env);
  pthread_rwlock_unlock(&e->rw);
  return Status::Ok();
}

void LockDbiOpen(Entry* e) { e->dbi_mu.lock(); }
void UnlockDbiOpen(Entry* e) { e->dbi_mu.unlock(); }

std::vector<EnvInfo> List() {
  Registry& r = R();
  Locked lock;
  std::vector<EnvInfo> out;
  for (const auto& [list, n] : {std::pair{r.open, r.nopen}, std::pair{r.inherited, r.ninherited}})
    for (int i = 0; i < n; ++i) {
      const Entry* e = list[i];
      out.push_back(EnvInfo{e->dir, e->dev, e->ino, e->pid, e->refs, e->read_only,
                            e->env != nullptr && e->pid == ::getpid()});
    }
  return out;
}

std::uint64_t OpenedCount() {
  Locked lock;
  return R().opened;
}

std::uint64_t SharedCount() {
  Locked lock;
  return R().shared;
}

}  // namespace apppass::envreg
