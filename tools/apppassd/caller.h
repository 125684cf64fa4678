// Who is on the other end of a connection to apppassd, as the kernel says: SO_PEERCRED
// (uid, gid, pid at connect time) and SO_PEERGROUPS (the supplementary groups). Never
// anything the client sends, and never an NSS group lookup (getgrouplist): a local user
// can neither forge the kernel's answer nor make a group database say more.
// Thread-safe: pure functions and reentrant lookups (getpwuid_r, getgrnam_r).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "status.h"

namespace apppass::daemon {

struct Caller {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS)
};

// Reads the credentials of the peer of the connected UNIX socket `fd`. Unavailable when
// the kernel does not say (then the connection is closed unanswered).
Status ReadCaller(int fd, Caller* out);

// Whether `caller` has `gid` as its gid or among its supplementary groups.
bool InGroup(const Caller& caller, gid_t gid);

// The user name of `uid` (getpwuid_r); NotFound when it has no passwd entry.
Status UserNameOf(uid_t uid, std::string* out);

// The uid of user `name` (getpwnam_r), or nullopt when there is no such user.
std::optional<uid_t> UserId(const std::string& name);

// The gid of group `name` (getgrnam_r), or nullopt when there is no such group.
std::optional<gid_t> GroupId(const std::string& name);

}  // namespace apppass::daemon
