// The requests apppassd answers and who may send each: one table (handlers.cc, kTable),
// in the manner of OpenSSH's monitor table. Anything not in it is refused.
//
//   kind          who may send it                                 acts on
//   VERIFY, CODE, ENROLLED, ACCOUNT
//                 root, or a member of --group (gid or SO_PEERGROUPS)   the user it names
//   LIST, MFA_STATUS, CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM, MFA_RECOVERY
//                 any uid with a passwd entry                      that uid's own user
//   MFA_REPLACE, MFA_REPLACE_CONFIRM (minor 2)
//                 as the self-service kinds above
//   POLICY_SHOW   anyone
//   POLICY_SET    root
//   SIGNIN, SIGNIN_CODE, SIGNIN_ENROLL, SIGNIN_CONFIRM, SESSION, SIGNOUT (minor 2)
//                 the portal's uid only (--portal-user)                 the user signing in
//
// The portal (issue 13): its uid sends the self-service kinds on behalf of a signed-in
// user with `session=`; the user is then the session's (sessions.h), never the request's
// nor the portal's own, and the session is touched; without a live session, or when the
// user's enrollment is no longer the one the session began with, the answer is FAIL denied
// with reason=expired. With a session CREATE and REVOKE take no code (self_service.h
// SecondFactor). The sign-in kinds and their log lines are in handlers_portal.cc.
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
#include "sessions.h"
#include "signin_throttle.h"
#include "store_holder.h"

namespace apppass::daemon {

struct HandlerConfig {
  std::string group;                // --group, for messages
  std::optional<gid_t> verify_gid;  // nullopt: the group does not exist, only root verifies
  std::string issuer;               // the TOTP issuer of self-enrollments
  std::string hooks_dir;            // --hooks-dir (hooks.h); empty: no hooks
  std::optional<uid_t> portal_uid;  // --portal-user's uid; nullopt: no portal (its kinds
                                    // are refused for everyone)
  std::string portal_user;          // --portal-user, for messages
  std::string portal_service = "apppass-web";  // --portal-pam-service
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
  Sessions sessions_;        // the portal's sessions and pending sign-ins
  SigninThrottle throttle_;  // the portal's sign-in failures
};

}  // namespace apppass::daemon
