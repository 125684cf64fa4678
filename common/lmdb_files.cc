#include "lmdb_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "files.h"
#include "store_layout.h"

namespace apppass {

namespace {

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Status Changed(const std::string& path) {
  return Status::Unavailable(
      fmt::format("{} changed while it was being opened; refusing to use it", path));
}

// The rule every store file obeys (files.h, store_layout.h: root's alone), checked on
// LMDB's own descriptor (the same for data.mdb and lock.mdb of either environment).
Status CheckSafe(const struct stat& st, const std::string& path) {
  if (!S_ISREG(st.st_mode)) return Changed(path);
  return CheckStat(path, st, Layout(StoreFile::kLock).rule);
}

}  // namespace

std::vector<int> OpenDescriptors(bool* known) {
  std::vector<int> fds;
  *known = false;
  DIR* d = ::opendir("/proc/self/fd");  // O_CLOEXEC
  if (d == nullptr) return fds;
  const int self = ::dirfd(d);  // the listing's own descriptor is not one of ours
  errno = 0;
  while (const struct dirent* e = ::readdir(d)) {
    int fd = -1;
    const char* end = e->d_name + std::strlen(e->d_name);
    const auto [p, ec] = std::from_chars(e->d_name, end, fd);
    if (ec == std::errc() && p == end && fd != self) fds.push_back(fd);
    errno = 0;
  }
  const bool ok = errno == 0;
  ::closedir(d);
  if (!ok) return {};
  std::sort(fds.begin(), fds.end());
  *known = true;
  return fds;
}

Status CheckEnvFiles(MDB_env* env, const std::string& dir, int dir_fd,
                     const std::vector<int>& before, bool known, bool write) {
  const std::string data_path = dir + "/data.mdb";
  const std::string lock_path = dir + "/lock.mdb";
  // What the checked directory holds now: never a symlink (AT_SYMLINK_NOFOLLOW).
  struct stat data {
  }, lock{}, st{};
  if (::fstatat(dir_fd, "data.mdb", &data, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(data.st_mode))
    return Changed(data_path);
  const bool have_lock =
      ::fstatat(dir_fd, "lock.mdb", &lock, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(lock.st_mode);

  mdb_filehandle_t fd = -1;
  if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS || fd < 0 || ::fstat(fd, &st) != 0 ||
      !SameFile(st, data))
    return Changed(data_path);
  Status s = CheckSafe(st, data_path);
  if (!s.ok()) return s;
  // A data file shorter than the pages its meta page claims would fault (SIGBUS, a crash
  // of the host process) on the first read of a missing page: refuse it now.
  MDB_envinfo info{};
  MDB_stat ms{};
  if (mdb_env_info(env, &info) != MDB_SUCCESS || mdb_env_stat(env, &ms) != MDB_SUCCESS)
    return Status::Unavailable(fmt::format("cannot read the size of {}", data_path));
  const auto needed = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * ms.ms_psize;
  // The size now, after the meta page was read: a writer grows the file before it
  // publishes a meta page that needs it, so a store being written is never "truncated".
  if (::fstat(fd, &st) != 0 || !SameFile(st, data)) return Changed(data_path);
  if (static_cast<std::uint64_t>(st.st_size) < needed)
    return Status::Unavailable(fmt::format(
        "{} is truncated ({} bytes; its pages need {}): the store is corrupt, restore it "
        "from a backup",
        data_path, st.st_size, needed));
  if (!known) return Status::Ok();

  bool known_after = false;
  const std::vector<int> after = OpenDescriptors(&known_after);
  if (!known_after) return Status::Ok();
  int data_fds = 0, lock_fds = 0, others = 0;
  for (const int f : after) {
    if (std::binary_search(before.begin(), before.end(), f)) continue;
    if (::fstat(f, &st) != 0) {
      ++others;
    } else if (SameFile(st, data)) {
      ++data_fds;
    } else if (have_lock && SameFile(st, lock)) {
      ++lock_fds;
      if (!(s = CheckSafe(st, lock_path)).ok()) return s;
    } else {
      ++others;  // another thread's, or LMDB's own through a swapped path
    }
  }
  // A writer opens data.mdb twice (pages, then meta pages through an O_DSYNC descriptor).
  if (data_fds < (write ? 2 : 1)) return Changed(data_path);
  // No lock file at all is LMDB's way on a read-only filesystem; one that is not the
  // directory's lock.mdb is a swap.
  if (lock_fds == 0 && others > 0) return Changed(lock_path);
  return Status::Ok();
}

}  // namespace apppass
