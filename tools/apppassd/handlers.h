// The requests apppassd answers and who may send each: one table (handlers.cc, kTable),
// in the manner of OpenSSH's monitor table. Anything not in it is refused.
//
//   kind          who may send it                                 acts on
//   VERIFY, CODE, ENROLLED, ACCOUNT
//                 root, or a member of --group (gid or SO_PEERGROUPS)   the user it names
//   LIST, MFA_STATUS, CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM, MFA_RECOVERY
//                 any uid with a passwd entry                      that uid's own user
//   POLICY_SHOW   anyone
//   POLICY_SET    root
//
// Self-service kinds never read a user from the request: the user is getpwuid_r(uid) of
// the caller (SO_PEERCRED), so another user's id or name is simply not found. Every
// change (CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM, MFA_RECOVERY, POLICY_SET), done or
// refused, is audited (audit.h); every VERIFY and CODE decision and ACCOUNT check is
// logged as the shims log it, with the caller. Each change is one store transaction
// (self_service.h, policy.h): a client that goes away mid-request leaves it done or not done, never
// half.
//
// A committed REVOKE also runs the hooks (hooks.h, as `apppass revoke` does): the worker
// runs them after sending the answer (Server, docs/design.md).
//
// Thread-safe: Handle may be called from every worker at once.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "broker_protocol.h"
#include "caller.h"
#include "hooks.h"
#include "store_holder.h"

namespace apppass::daemon {

struct HandlerConfig {
  std::string group;                // --group, for messages
  std::optional<gid_t> verify_gid;  // nullopt: the group does not exist, only root verifies
  std::string issuer;               // the TOTP issuer of self-enrollments
  std::string hooks_dir;            // --hooks-dir (hooks.h); empty: no hooks
};

// The answer to one request: ITEM lines, then the final OK or FAIL.
struct Answer {
  std::vector<broker::Reply> items;
  broker::Reply final;
  // Set when the request committed a change the hooks must hear of (a REVOKE): the
  // caller sends the answer, then calls RunHooksFor.
  std::optional<HookEvent> hooks;
};

class Handlers {
 public:
  Handlers(StoreHolder& store, HandlerConfig config) : store_(store), config_(std::move(config)) {}

  // Answers `req` from `caller`. Never throws: an unexpected error is FAIL internal.
  Answer Handle(const Caller& caller, const broker::Request& req) noexcept;

  // Runs the hooks of --hooks-dir for `answer.hooks` (nothing when unset), one warning
  // log line per failing hook; takes at most kHookTimeoutSeconds per hook. The change
  // stands whatever the hooks do. Never throws; thread-safe (SIGCHLD is SIG_DFL in
  // apppassd, hooks.h).
  void RunHooksFor(const Answer& answer) const noexcept;

 private:
  StoreHolder& store_;
  const HandlerConfig config_;
};

}  // namespace apppass::daemon
