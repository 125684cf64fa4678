// The process-wide registry of open LMDB environments: one environment per store file per
// process, shared by every part of apppass loaded into that process.
//
// Why. LMDB 0.9 keeps its reader table consistent with fcntl() locks on lock.mdb, and
// POSIX drops all of a process's fcntl locks on a file as soon as any descriptor of that
// file is closed. So a process must never have the same environment open twice, nor
// open()/close() lock.mdb while an environment on it is open: closing the second one drops
// the first one's locks, and the next process to open the store then believes it is alone,
// reinitialises the reader table under live readers (or another process's reader check
// clears their slots) and a writer may reuse pages that are still being read. A Cyrus SASL
// server that also authenticates through PAM loads both pam_apppass.so and libapppass.so;
// each links the core statically with hidden symbols, so a registry inside the core would
// exist once per module. This one lives in the private shared library libapppass-shared.so
// (installed in LIBDIR/apppass, found through the modules' RUNPATH), which the dynamic
// linker loads once per process whoever needs it.
//
// What it does. Environments are keyed by the identity (st_dev, st_ino) of DIR/lock.mdb,
// found with lstat (no descriptor), refcounted, and closed when the last user releases
// them. Each records the process that opened it: after fork() a child never uses an
// inherited environment. The first registry call in the child closes every inherited one
// (safe in the child: it holds none of the parent's fcntl locks, and LMDB 0.9.24's
// mdb_env_close clears only reader slots of the calling pid; tests/process checks both),
// before it opens any environment of its own; handles still pointing at them fail closed.
// Transactions hold an environment's lock shared and mdb_env_set_mapsize, which needs no
// transaction active in the process, holds it exclusive; mdb_dbi_open, which LMDB allows
// in one transaction of a process at a time, has its own mutex.
//
// Thread-safe. Used through LmdbEnv and LmdbTxn (lmdb_env.h), never directly, except by
// tests, which read List().
#pragma once

#include <lmdb.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "status.h"

#define APPPASS_SHARED_API __attribute__((visibility("default")))

namespace apppass::envreg {

struct Entry;  // one environment; opaque

struct OpenSpec {
  std::string dir;        // the directory holding data.mdb and lock.mdb
  bool read_only = true;  // MDB_RDONLY; a read-only request may share a writable one
  // Whether lock.mdb may be missing (LMDB then creates it); otherwise NotFound.
  bool lock_may_be_missing = false;
  // Checks DIR/lock.mdb, whose lstat is `st`, before it is used. `may_open` is false when
  // an environment on that very file is open in this process: the check must then not
  // open it (closing the descriptor would drop that environment's locks).
  std::function<Status(const std::string& lock_path, const struct stat& st, bool may_open)>
      check_lock;
  // Opens a new environment on `dir`; called with the registry locked.
  std::function<Status(MDB_env** out)> open;
};

// Finds this process's environment on DIR/lock.mdb or opens one. On success `*out` holds
// a reference, to be given back with Release. Unavailable when the file changed while it
// was being opened, or a writable environment is asked for while a read-only one is open.
APPPASS_SHARED_API Status Acquire(const OpenSpec& spec, Entry** out);
// Gives back a reference; the last one closes the environment. Null is ignored.
APPPASS_SHARED_API void Release(Entry* e);
// The environment, or nullptr when `e` was opened by another process (inherited across
// fork) or is null.
APPPASS_SHARED_API MDB_env* EnvOf(const Entry* e);

// A transaction's hold on `e` (shared; re-entrant within a thread). Unavailable when `e`
// is not this process's.
APPPASS_SHARED_API Status HoldShared(Entry* e);
APPPASS_SHARED_API void DropShared(Entry* e);
// Runs `fn` with no transaction of this process active on `e` (for mdb_env_set_mapsize).
// Unavailable when the calling thread itself holds `e` (it would wait for itself).
APPPASS_SHARED_API Status WithExclusive(Entry* e, const std::function<int(MDB_env*)>& fn, int* rc);
// Serializes transactions that call mdb_dbi_open on `e`.
APPPASS_SHARED_API void LockDbiOpen(Entry* e);
APPPASS_SHARED_API void UnlockDbiOpen(Entry* e);

// For tests and diagnostics: every environment the registry knows in this process.
struct EnvInfo {
  std::string dir;
  dev_t dev = 0;
  ino_t ino = 0;
  pid_t pid = 0;  // the process that opened it
  int refs = 0;
  bool read_only = true;
  bool open = false;  // false: inherited from a parent and closed here
};
APPPASS_SHARED_API std::vector<EnvInfo> List();
// How many environments this process has opened, and how often one was shared instead.
APPPASS_SHARED_API std::uint64_t OpenedCount();
APPPASS_SHARED_API std::uint64_t SharedCount();

}  // namespace apppass::envreg
