#include "account.h"

#include <pwd.h>
#include <shadow.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace apppass {

std::string_view AccountStateName(AccountState s) {
  switch (s) {
    case AccountState::kOk: return "ok";
    case AccountState::kUnknown: return "unknown-account";
    case AccountState::kLocked: return "account-locked";
    case AccountState::kExpired: return "account-expired";
    case AccountState::kUnavailable: break;
  }
  return "unavailable";
}

AccountState AccountStateFromName(std::string_view name) {
  for (AccountState s :
       {AccountState::kOk, AccountState::kUnknown, AccountState::kLocked, AccountState::kExpired})
    if (AccountStateName(s) == name) return s;
  return AccountState::kUnavailable;
}

namespace {

bool LockedField(const char* pw) { return pw != nullptr && (pw[0] == '!' || pw[0] == '*'); }

// "not found" as the NSS _r functions report it: no entry, rc 0 or one of the errno values
// glibc documents for an unknown name.
bool NotFound(int rc) { return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF; }

}  // namespace

AccountCheck CheckAccount(std::string_view user, std::int64_t now) {
  AccountCheck out;
  if (user.empty() || user.find('\0') != std::string_view::npos) {
    out.state = AccountState::kUnknown;
    return out;
  }
  const std::string name(user);
  std::vector<char> buf(16384);
  passwd pw{}, *pwp = nullptr;
  int rc;
  while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &pwp)) == ERANGE &&
         buf.size() < (1u << 20))
    buf.resize(buf.size() * 2);
  if (pwp == nullptr) {
    if (NotFound(rc)) {
      out.state = AccountState::kUnknown;
    } else {
      out.detail = std::string("looking up the user: ") + std::strerror(rc);
    }
    return out;
  }
  const bool passwd_locked = LockedField(pw.pw_passwd);
  // A process that is not root cannot read /etc/shadow, and glibc may then report the
  // entry as absent: never judge a locked account by that.
  if (geteuid() != 0) {
    out.detail = "cannot read the shadow entry (not root)";
    return out;
  }

  std::vector<char> sbuf(16384);
  spwd sp{}, *spp = nullptr;
  // getspnam_r reports failures in errno as well as its result (glibc).
  errno = 0;
  while ((rc = getspnam_r(name.c_str(), &sp, sbuf.data(), sbuf.size(), &spp)) == ERANGE &&
         sbuf.size() < (1u << 20))
    sbuf.resize(sbuf.size() * 2);
  if (spp == nullptr) {
    const int err = rc != 0 ? rc : errno;
    if (err == EACCES || err == EPERM) {
      out.detail = "cannot read the shadow entry (not root)";
      return out;
    }
    if (!NotFound(err)) {
      out.detail = std::string("looking up the shadow entry: ") + std::strerror(err);
      return out;
    }
    out.state = passwd_locked ? AccountState::kLocked : AccountState::kOk;
    return out;
  }
  if (LockedField(sp.sp_pwdp)) {
    out.state = AccountState::kLocked;
    return out;
  }
  const long today = static_cast<long>(now / 86400);
  if (sp.sp_expire >= 0 && today >= sp.sp_expire) {
    out.state = AccountState::kExpired;
    return out;
  }
  out.state = AccountState::kOk;
  return out;
}

}  // namespace apppass
