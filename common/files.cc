#include "files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace apppass {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

std::string ModeFix(const std::string& path, const FileRule& rule) {
  return fmt::format("chmod {} {}",
                     rule.owner_only  ? "go-rwx"
                     : rule.directory ? "o-w,g-w"
                                      : "go-w,o-r",
                     path);
}

Status CheckStat(const std::string& path, const struct stat& st, const FileRule& rule) {
  if (S_ISLNK(st.st_mode))
    return Status::Unavailable(fmt::format("{} is a symbolic link; refusing to use it", path));
  if (rule.directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return Status::Unavailable(
        fmt::format("{} is not a {}", path, rule.directory ? "directory" : "regular file"));
  if (st.st_uid != 0 && st.st_uid != ::geteuid() && st.st_uid != rule.other_owner)
    return Status::Unavailable(
        rule.other_owner == static_cast<uid_t>(-1)
            ? fmt::format("{} is owned by uid {}; it must be owned by root (or by the user "
                          "running this)",
                          path, st.st_uid)
            : fmt::format("{} is owned by uid {}; it must be owned by root or uid {}", path,
                          st.st_uid, rule.other_owner));
  const mode_t forbidden = rule.owner_only
                               ? mode_t{S_IRWXG | S_IRWXO}
                               : S_IWOTH | S_IWGRP | (rule.allow_world_read ? 0 : S_IROTH);
  if ((st.st_mode & forbidden) != 0)
    return Status::Unavailable(
        fmt::format("{} has unsafe permissions {:04o}", path, st.st_mode & 07777),
        ModeFix(path, rule));
  return Status::Ok();
}

Status OpenChecked(const std::string& given, const FileRule& rule, Fd* fd, struct stat* st) {
  // "link/" would make the kernel follow "link" despite O_NOFOLLOW: drop trailing slashes.
  std::string path = given;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (rule.directory) flags |= O_DIRECTORY;
  Fd f(::open(path.c_str(), flags));
  if (!f.valid()) {
    const int e = errno;
    if (e == ENOENT) return Status::NotFound(fmt::format("{} does not exist", path));
    // O_NOFOLLOW | O_DIRECTORY on a symlink fails with ENOTDIR, not ELOOP.
    struct stat lst {};
    if (e == ELOOP || (e == ENOTDIR && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)))
      return Status::Unavailable(fmt::format("{} is a symbolic link; refusing to use it", path));
    if (e == ENOTDIR && rule.directory)
      return Status::Unavailable(fmt::format("{} is not a directory", path));
    return Status::Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(e)));
  }
  if (::fstat(f.get(), st) != 0)
    return Status::Unavailable(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  if (Status s = CheckStat(path, *st, rule); !s.ok()) return s;
  // Regular files were opened O_NONBLOCK only to avoid hanging on a FIFO.
  if (!rule.directory) {
    const int fl = ::fcntl(f.get(), F_GETFL);
    if (fl >= 0) ::fcntl(f.get(), F_SETFL, fl & ~O_NONBLOCK);
  }
  *fd = std::move(f);
  return Status::Ok();
}

Status ReadExact(int fd, unsigned char* out, std::size_t len, const std::string& path) {
  std::size_t got = 0;
  while (got < len) {
    const ssize_t r = ::read(fd, out + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::Unavailable(fmt::format("{} is truncated or unreadable", path));
    got += static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

}  // namespace apppass
