// AuthenticateViaBroker: Authenticate (authenticate.h) for a process that does not run as
// root, which cannot open the store (issue 11): the decision is asked of apppassd with a
// VERIFY request (broker_client.h) and comes back as the same Decision, logged with the
// same line and severity as an in-process one (decision_log.h). The daemon records last
// use, so there is never a last-use warning line here.
//
// Fails closed: a daemon that is not running, does not answer within `timeout`, answers
// anything malformed, refuses the caller (FAIL denied: not in group apppass) or names an
// outcome this side does not know is Outcome::kUnavailable, with the reason in the
// decision's detail ("error ... reason=unavailable detail=\"...\"").
// Thread-safe (broker::Call is).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "authenticate.h"
#include "broker_client.h"
#include "decision_log.h"

namespace apppass {

// The outcome an OK reply names (`outcome=`), from its OutcomeName; nullopt for a name
// this side does not know.
std::optional<Outcome> OutcomeFromName(std::string_view name) noexcept;

// The decision a VERIFY's final reply stands for (pure: the part AuthenticateViaBroker
// adds to broker::Call). An OK with a known outcome is that outcome, with id= and name=
// (required for accepted) and detail=; anything else is kUnavailable, with a detail
// saying why.
// Decision::enrolled from `enrolled=yes|no` (protocol minor 1). A reply without it (a
// daemon of minor 0) counts as enrolled: unenrolled=ignore must never hand an enrolled
// user's real password to the next module because the daemon is older. Any other value
// is a malformed reply (kUnavailable).
Decision DecisionFromReply(const broker::Reply& reply);

// Asks the daemon at `socket` to verify `password` for ctx.user and ctx.service (ctx.rhost
// sent when not empty), within `timeout`, and returns the decision with its one log line.
// Never throws for a refusal or a broker failure (allocation failures may throw, as in
// Authenticate: the shims catch everything at their entry points).
AuthResult AuthenticateViaBroker(const std::string& socket, const DecisionContext& ctx,
                                 std::string_view password,
                                 std::chrono::milliseconds timeout = broker::kVerifyTimeout);

}  // namespace apppass
