#include "store_holder.h"

#include <sys/stat.h>
#include <syslog.h>

#include <vector>

#include <fmt/format.h>

#include "audit.h"
#include "store_layout.h"

namespace apppass::daemon {

namespace {

struct Identity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool exists = false;
};

Identity IdentityOf(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, true};
}

bool Same(const Identity& id, dev_t dev, ino_t ino) {
  return id.exists && id.dev == dev && id.ino == ino;
}

}  // namespace

Status StoreHolder::Get(Ref* out) {
  const Identity lock = IdentityOf(StorePath(dir_, StoreFile::kLock));
  const Identity data = IdentityOf(StorePath(dir_, StoreFile::kData));
  std::lock_guard<std::mutex> guard(mu_);
  if (current_ != nullptr && Same(lock, current_->lock_dev, current_->lock_ino) &&
      Same(data, current_->data_dev, current_->data_ino)) {
    *out = current_;
    return Status::Ok();
  }
  if (current_ != nullptr)
    Log(LOG_NOTICE, fmt::format("store {} changed on disk: reopening", dir_));
  // Let go of the old one first: with lock.mdb unchanged the registry would hand the old
  // environment (on the old data.mdb) to the new Store while anyone still held it.
  current_.reset();
  Status s = Open(&current_);
  if (!s.ok()) return s;
  *out = current_;
  return Status::Ok();
}

Status StoreHolder::Open(Ref* out) {
  auto opened = std::make_shared<OpenedStore>();
  // The identities before opening: a file replaced while it is being opened makes the next
  // Get reopen, never keep a store whose files are not the ones checked.
  const Identity lock = IdentityOf(StorePath(dir_, StoreFile::kLock));
  const Identity data = IdentityOf(StorePath(dir_, StoreFile::kData));
  std::vector<std::string> tightened;
  Status s = Store::Open(dir_, Store::Mode::kAdmin, &opened->store, &tightened);
  // A store made by an older apppass: the admin open made it root's alone (store_modes.h).
  for (const auto& line : tightened) Log(LOG_NOTICE, "made root-only: " + line);
  if (!s.ok()) return s;
  opened->lock_dev = lock.dev;
  opened->lock_ino = lock.ino;
  opened->data_dev = data.dev;
  opened->data_ino = data.ino;
  s = UsageDb::Open(dir_, true, &opened->usage);
  opened->usage_open = s.ok();
  if (!s.ok())
    Log(LOG_WARNING,
        fmt::format("last use will not be recorded: {} (logins are not affected)", s.message()));
  Log(LOG_INFO, fmt::format("store {} opened", dir_));
  *out = std::move(opened);
  return Status::Ok();
}

void StoreHolder::Invalidate(const Ref& ref) {
  std::lock_guard<std::mutex> guard(mu_);
  if (current_ == ref) current_.reset();
}

}  // namespace apppass::daemon
