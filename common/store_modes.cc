#include "store_modes.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "files.h"

namespace apppass {

namespace {

// Calls `visit(entry, fd, st)` for each entry of the layout that exists as the layout's
// type and is owned by root, with an O_PATH descriptor opened without following a
// symbolic link from its parent's descriptor. Stops at the first error `visit` returns.
Status ForEachRootEntry(
    const std::string& dir,
    const std::function<Status(const StoreEntry&, int fd, const struct stat&)>& visit) {
  std::string top = dir;
  while (top.size() > 1 && top.back() == '/') top.pop_back();
  Fd dir_fd, usage_fd;
  for (const StoreEntry& e : kStoreLayout) {
    Fd fd;
    if (e.id == StoreFile::kDir) {
      fd = Fd(::open(top.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    } else {
      const bool in_usage = std::strncmp(e.rel, "usage/", 6) == 0;
      const Fd& parent = in_usage ? usage_fd : dir_fd;
      if (!parent.valid()) continue;
      fd =
          Fd(::openat(parent.get(), in_usage ? e.rel + 6 : e.rel, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!fd.valid()) continue;  // missing: opening the store says so
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) continue;
    if (e.directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) continue;
    if (st.st_uid != 0) continue;  // another owner: files.h refuses it
    if (Status s = visit(e, fd.get(), st); !s.ok()) return s;
    if (e.id == StoreFile::kDir) dir_fd = std::move(fd);
    if (e.id == StoreFile::kUsageDir) usage_fd = std::move(fd);
  }
  return Status::Ok();
}

bool Loose(const StoreEntry& e, const struct stat& st) {
  return (st.st_mode & 07777) != e.mode || st.st_gid != 0;
}

// The bits the apppass before issue 11 refused on `f` (its FileRule of each entry).
mode_t OldForbidden(StoreFile f) {
  switch (f) {
    case StoreFile::kKey: return S_IWGRP | S_IWOTH | S_IROTH;
    case StoreFile::kMfaKey: return S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;
    case StoreFile::kDir:
    case StoreFile::kUsageDir:
    case StoreFile::kData: return S_IWGRP | S_IWOTH;
    case StoreFile::kLock:
    case StoreFile::kUsageData:
    case StoreFile::kUsageLock: return S_IWOTH;
  }
  return 07777;
}

LooseEntry Describe(const std::string& dir, const StoreEntry& e, const struct stat& st) {
  const auto mode = static_cast<mode_t>(st.st_mode & 07777);
  return LooseEntry{e.id, StorePath(dir, e.id), st.st_gid, mode, (mode & OldForbidden(e.id)) == 0};
}

std::string GroupText(gid_t gid) {
  struct group gr {};
  struct group* found = nullptr;
  char buf[1024];
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &found) == 0 && found != nullptr)
    return found->gr_name;
  return std::to_string(gid);
}

// chmod of the file `fd` (O_PATH) refers to: through /proc/self/fd, which names that very
// file; without /proc, by a descriptor opened from the parent and checked to be the same.
int ChmodPath(int fd, const std::string& path, const struct stat& st, mode_t mode) {
  const std::string proc = fmt::format("/proc/self/fd/{}", fd);
  if (::chmod(proc.c_str(), mode) == 0) return 0;
  if (errno != ENOENT) return -1;
  Fd f(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                                (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)));
  struct stat now {};
  if (!f.valid() || ::fstat(f.get(), &now) != 0) return -1;
  if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
    errno = ESTALE;
    return -1;
  }
  return ::fchmod(f.get(), mode);
}

}  // namespace

std::vector<LooseEntry> FindLooseEntries(const std::string& dir) {
  std::vector<LooseEntry> out;
  (void)ForEachRootEntry(dir, [&](const StoreEntry& e, int, const struct stat& st) {
    if (Loose(e, st)) out.push_back(Describe(dir, e, st));
    return Status::Ok();
  });
  return out;
}

std::string DescribeTightening(const LooseEntry& e) {
  return fmt::format("{}: {:04o} root:{} -> {:04o} root:root", e.path, e.mode, GroupText(e.gid),
                     Layout(e.file).mode);
}

Status TightenStore(const std::string& dir, std::vector<std::string>* changes) {
  return ForEachRootEntry(dir, [&](const StoreEntry& e, int fd, const struct stat& st) {
    if (!Loose(e, st)) return Status::Ok();
    const LooseEntry was = Describe(dir, e, st);
    if (!was.tightenable) return Status::Ok();  // refused as unsafe when opened
    // The mode first: group and everyone lose their access at once.
    if (ChmodPath(fd, was.path, st, e.mode) != 0 ||
        (st.st_gid != 0 && ::fchownat(fd, "", 0, 0, AT_EMPTY_PATH) != 0))
      return Status::Unavailable(fmt::format("cannot make {} root's alone ({:04o} root:root): {}",
                                             was.path, e.mode, std::strerror(errno)));
    changes->push_back(DescribeTightening(was));
    return Status::Ok();
  });
}

}  // namespace apppass
