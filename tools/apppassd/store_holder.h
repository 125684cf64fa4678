// StoreHolder: apppassd's one store, opened for administration (root only), with the
// usage database opened for recording last use.
//
// Opened lazily, so the daemon may start before `apppass init`, and reopened when
// DIR/lock.mdb or DIR/data.mdb is no longer the file that was opened (an lstat of each
// per request: st_dev and st_ino) or after an operation found it Unavailable (Invalidate).
// One Store serves every request: LMDB read transactions run side by side, and the
// process's environment registry (env_registry.h) would refuse a writable environment
// beside a read-only one anyway. Changes are serialized by change_mutex().
//
// Thread-safe. A Ref keeps the store it holds open while the holder moves on to a new one.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "status.h"
#include "store.h"
#include "usage.h"

namespace apppass::daemon {

struct OpenedStore {
  Store store;
  UsageDb usage;
  bool usage_open = false;  // false: last use is not recorded (logged once at open)
  dev_t lock_dev = 0, data_dev = 0;
  ino_t lock_ino = 0, data_ino = 0;
};

class StoreHolder {
 public:
  using Ref = std::shared_ptr<const OpenedStore>;

  explicit StoreHolder(std::string dir) : dir_(std::move(dir)) {}

  // The store, opened now when there is none yet or its files changed. Unavailable (with
  // why: missing, unsafe, corrupt) when it cannot be opened; the next call tries again.
  Status Get(Ref* out);
  // `ref` turned out unusable (an operation on it was Unavailable): the next Get opens
  // the store again. Does nothing when the holder has moved on already.
  void Invalidate(const Ref& ref);
  // Held by every change (one writer at a time, admin.h).
  std::mutex& change_mutex() { return change_mu_; }
  const std::string& dir() const { return dir_; }

 private:
  Status Open(Ref* out);

  const std::string dir_;
  std::mutex mu_;  // guards current_ and opening
  Ref current_;
  std::mutex change_mu_;
};

}  // namespace apppass::daemon
