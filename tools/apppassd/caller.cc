#include "caller.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace apppass::daemon {

namespace {

// A buffer size for the *_r lookups: sysconf's hint, at least 4 KiB.
std::size_t LookupBufferSize(int name) {
  const long hint = sysconf(name);
  return hint > 4096 ? static_cast<std::size_t>(hint) : 4096;
}

}  // namespace

Status ReadCaller(int fd, Caller* out) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return Status::Unavailable(fmt::format("SO_PEERCRED: {}", std::strerror(errno)));
  Caller c;
  c.uid = cred.uid;
  c.gid = cred.gid;
  c.pid = cred.pid;
  // SO_PEERGROUPS says how much room it needs (ERANGE) when the buffer is too small.
  std::vector<gid_t> groups(32);
  for (int attempt = 0; attempt < 3; ++attempt) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      c.groups = std::move(groups);
      *out = std::move(c);
      return Status::Ok();
    }
    if (errno != ERANGE) break;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return Status::Unavailable(fmt::format("SO_PEERGROUPS: {}", std::strerror(errno)));
}

bool InGroup(const Caller& caller, gid_t gid) {
  return caller.gid == gid ||
         std::find(caller.groups.begin(), caller.groups.end(), gid) != caller.groups.end();
}

Status UserNameOf(uid_t uid, std::string* out) {
  std::vector<char> buf(LookupBufferSize(_SC_GETPW_R_SIZE_MAX));
  for (;;) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    const int rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0)
      return Status::Unavailable(
          fmt::format("cannot look up the user of uid {}: {}", uid, std::strerror(rc)));
    if (found == nullptr || found->pw_name == nullptr || *found->pw_name == '\0')
      return Status::NotFound(fmt::format("uid {} has no user name", uid));
    *out = found->pw_name;
    return Status::Ok();
  }
}

std::optional<gid_t> GroupId(const std::string& name) {
  std::vector<char> buf(LookupBufferSize(_SC_GETGR_R_SIZE_MAX));
  for (;;) {
    struct group gr {};
    struct group* found = nullptr;
    const int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return found->gr_gid;
  }
}

std::optional<uid_t> UserId(const std::string& name) {
  std::vector<char> buf(LookupBufferSize(_SC_GETPW_R_SIZE_MAX));
  for (;;) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    const int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return found->pw_uid;
  }
}

}  // namespace apppass::daemon
