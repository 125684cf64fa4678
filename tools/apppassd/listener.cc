#include "listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace apppass::daemon {

namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

Status Errno(std::string_view what, const std::string& path, int err) {
  return Status::Unavailable(fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// The fd systemd passed (sd_listen_fds(3), for the one socket of apppassd.socket), or -1.
int ActivatedFd() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  const bool ours = pid != nullptr && fds != nullptr &&
                    std::strtol(pid, nullptr, 10) == static_cast<long>(getpid()) &&
                    std::strtol(fds, nullptr, 10) >= 1;
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!ours) return -1;
  struct stat st {};
  int type = 0;
  socklen_t len = sizeof type;
  if (fstat(kListenFdsStart, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      getsockopt(kListenFdsStart, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    return -1;
  fcntl(kListenFdsStart, F_SETFD, FD_CLOEXEC);
  return kListenFdsStart;
}

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// Whether a daemon answers on the socket file `path`.
bool SomeoneListens(const sockaddr_un& addr) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  return connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

Listener::~Listener() {
  if (path_.empty()) return;
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    unlink(path_.c_str());
}

Status Listener::Open(const std::string& path) {
  const int passed = ActivatedFd();
  if (passed < 0) return Bind(path);
  fd_ = Fd(passed);
  activated_ = true;
  return Status::Ok();
}

Status Listener::Bind(const std::string& path) {
  sockaddr_un addr;
  if (!FillAddress(path, &addr))
    return Status::InvalidArgument(
        fmt::format("--socket: a path of 1 to {} bytes", sizeof addr.sun_path - 1));
  const std::string parent = path.substr(0, path.find_last_of('/') + 1);
  if (!parent.empty() && parent != "/" && mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
    return Errno("cannot create the socket's directory", parent, errno);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status::Unavailable(
          fmt::format("{} exists and is not a socket: not replacing it", path));
    if (SomeoneListens(addr))
      return Status::Unavailable(fmt::format("another apppassd already answers on {}", path));
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
      return Errno("cannot remove the stale socket", path, errno);
  }
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Errno("socket for", path, errno);
  // Created 0600 (no one connects before the mode is right), then opened to everyone.
  const mode_t old = umask(0177);
  const int rc = bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  umask(old);
  if (rc != 0) return Errno("cannot bind", path, bind_errno);
  if (lstat(path.c_str(), &st) != 0) return Errno("cannot stat", path, errno);
  path_ = path;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (chmod(path.c_str(), 0666) != 0) return Errno("cannot chmod", path, errno);
  if (listen(fd.get(), SOMAXCONN) != 0) return Errno("cannot listen on", path, errno);
  fd_ = std::move(fd);
  return Status::Ok();
}

}  // namespace apppass::daemon
