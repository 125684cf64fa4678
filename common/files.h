// Safe opening of the store's files: no symlinks, no FIFOs, trusted owner, no write
// access for anyone the owner does not trust.
//
// Every check is made on the open descriptor (O_NOFOLLOW, then fstat), so what was
// checked is what is read. Descriptors are close-on-exec. Thread-safe.
#pragma once

#include <sys/stat.h>

#include <string>

#include "status.h"

namespace apppass {

struct FileRule {
  bool directory = false;  // expect a directory (else a regular file)
  // No access of any kind for its group or for everyone (the store: store_layout.h).
  bool owner_only = false;
  bool allow_world_read = true;  // an OTP state file to import: never readable by everyone
  // Also trusted as the owner, besides root and the effective uid (a user's own OTP
  // state file, read by 'mfa import'). -1: nobody else.
  uid_t other_owner = static_cast<uid_t>(-1);
};

// An owned file descriptor; closes on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The one owner of the file-safety rule: checks what `st` (an fstat of an open
// descriptor, or an lstat) says about `path` against `rule`: not a symbolic link, the
// type, the owner (root, the effective uid, or rule.other_owner) and the mode (no write
// by others, nor by the group; no reads the rule forbids; nothing at all
// for group and others when owner_only). Unavailable with
// a message naming the path and, for an unsafe mode, its fix (Status::fix(): the chmod
// that removes exactly the forbidden kind of access). Pure: no system calls but geteuid.
Status CheckStat(const std::string& path, const struct stat& st, const FileRule& rule);

// The chmod that makes a file breaking `rule`'s mode safe ("chmod o-rwx PATH").
std::string ModeFix(const std::string& path, const FileRule& rule);

// Opens `path` read-only (without following a final symlink and without blocking on a
// FIFO), then checks it against `rule`: type, owner (root or the effective uid), and
// mode. On success `*fd` holds the open descriptor and `*st` its fstat.
// (The owner may also be `rule.other_owner`.)
// Returns NotFound when it does not exist, Unavailable with a message naming the path
// and the fix for everything else.
Status OpenChecked(const std::string& path, const FileRule& rule, Fd* fd, struct stat* st);

// Reads exactly `len` bytes from `fd` into `out`. Unavailable on a short read.
Status ReadExact(int fd, unsigned char* out, std::size_t len, const std::string& path);

}  // namespace apppass
