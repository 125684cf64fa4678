// Hooks: programs run after a change that must reach caches. One runner for the admin
// tool and the broker (apppassd).
//
// After `apppass revoke` and `apppass mfa reset`, and after a REVOKE through apppassd, have
// committed, the executable files in
// the hooks directory (default /etc/apppass/hooks.d, option --hooks-dir) run one after
// another, like run-parts(8), so that e.g. Dovecot's auth cache forgets the user at once
// (packaging/hooks.d/dovecot-auth-cache-flush).
//
// What runs: regular files whose names are only [A-Za-z0-9_-] (so *.dpkg-old, *.sample,
// editor backups and dot files are ignored) with an execute bit, in byte order of their
// names. Subdirectories and other non-regular files are ignored. A hook that is a
// symbolic link, owned by someone other than root (or the user running the program) or
// writable by group or others is not run and counts as failed. The directory itself is
// checked the same way (common/files.h); when it is unsafe no hook runs and that counts
// as a failure; when it does not exist there are no hooks.
//
// How a hook runs (posix_spawn, never through a shell):
//   argv   HOOK EVENT USER [ID...]   HOOK is the hook's absolute path; EVENT is
//          "revoke" (IDs: the app passwords revoked) or "mfa-reset" (no IDs: all of
//          USER's app passwords were revoked and the enrollment removed)
//   env    only PATH=/usr/sbin:/usr/bin:/sbin:/bin, APPPASS_EVENT, APPPASS_USER and
//          APPPASS_DB (the store directory, absolute)
//   stdin  /dev/null; stdout and stderr go to the caller's stderr (its stdout stays its own)
//   cwd    /, in its own process group; no descriptor other than 0, 1, 2 is inherited
//   time   10 s, then the hook's process group is killed with SIGKILL
//
// Trust: the directory and the hook are checked on open descriptors, then the hook is
// executed by path (a #! script cannot be run from a close-on-exec descriptor). Only
// whoever may write the directory (root or its owner, checked) could swap a hook in
// between, and they could as well edit it.
//
// Thread-safety: when SIGCHLD's disposition is SIG_DFL (apppassd sets it at start-up,
// before its threads) it is not touched and calls from several threads are fine (each
// waits only for its own children). Otherwise (SIG_IGN or a handler) it is set to SIG_DFL
// while the hooks run, which is only safe in a single-threaded program (the tool).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace apppass {

inline constexpr const char* kDefaultHooksDir = "/etc/apppass/hooks.d";
inline constexpr int kHookTimeoutSeconds = 10;
inline constexpr const char* kHookPath = "/usr/sbin:/usr/bin:/sbin:/bin";

inline constexpr const char* kHookEventRevoke = "revoke";
inline constexpr const char* kHookEventMfaReset = "mfa-reset";

struct HookEvent {
  std::string event;  // kHookEventRevoke or kHookEventMfaReset
  std::string user;
  std::vector<std::string> ids;  // credential ids, in id order; may be empty
  std::string db;                // the store directory (made absolute for the hook)
};

// Where RunHooks reports a failure: one line, no prefix, no newline (the tool prints
// "apppass: warning: LINE", apppassd logs it).
using HookWarn = std::function<void(const std::string& line)>;

// Runs the hooks in `dir` for `ev`, one at a time, and calls `warn` once for each hook
// that failed (non-zero exit, signal, timeout, could not start, refused as unsafe) or when
// the directory is refused. Takes at most timeout_seconds per hook run.
// Returns true when every hook ran and exited 0, or there were none (no directory, an
// empty one, nothing executable). Call it after the change is committed and the store
// closed: a failing hook never undoes the change.
// REQUIRES: `dir` is not empty.
bool RunHooks(const std::string& dir, const HookEvent& ev, const HookWarn& warn,
              int timeout_seconds = kHookTimeoutSeconds);

}  // namespace apppass
