// What the handlers of apppassd share (handlers.cc dispatches, handlers_read.cc and
// handlers_change.cc answer): the request being answered and small field helpers.
// Internal to tools/apppassd. Thread-safety: a Call belongs to one worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit.h"
#include "broker_protocol.h"
#include "caller.h"
#include "handlers.h"
#include "records.h"
#include "sessions.h"
#include "signin_throttle.h"
#include "store_holder.h"

namespace apppass::daemon::internal {

// One request being answered.
struct Call {
  const Caller& caller;
  const std::string& user;  // kSelf: the caller's user name; else empty
  const broker::Request& req;
  const HandlerConfig& config;
  StoreHolder& holder;
  const StoreHolder::Ref& store;  // null when it could not be opened (`unavailable`)
  const Status& unavailable;
  std::int64_t now;
  std::vector<broker::Reply>* items;
  broker::Fields* ok;  // the fields of the final OK
  ChangeEvent* event;  // what the audit line says about a change
  // Minor 2 (the portal, issue 13):
  Sessions& sessions;
  SigninThrottle& throttle;
  const SecretBuffer* session;  // the session of a self-service kind sent by the portal
  std::string* reason;          // a FAIL's reason= field (portal kinds), "" for none
  std::string* audit_user;      // the user a portal kind acted on, for the audit line
};

// A refusal with FAIL's reason= (the portal's kinds): PermissionDenied `message`.
Status Denied(Call& c, std::string_view reason, std::string_view message);
// What a session remembers of the user's enrollment: its `enrolled` time and a hash of the
// sealed secret, so that a reset, a new enrollment or a replacement ends the session.
std::string EnrollmentStamp(const UserRecord& u);
// For a self-service kind sent with a session: the user's enrollment must still be the
// one the session began with (else the session ends: Denied expired).
Status CheckSessionEnrollment(Call& c);

// `key`'s value, or InvalidArgument naming it.
Status Need(const Call& c, std::string_view key, const std::string** out);
// Adds a field to a reply (Internal when memory runs out or the value is unusable).
Status Put(broker::Fields* f, std::string_view key, std::string_view value);
// "a b  c" -> {"a", "b", "c"}, and back with one space.
std::vector<std::string> SplitSpaces(std::string_view text);
std::string JoinSpaces(const std::vector<std::string>& v);
// The store, or why it cannot be opened (Unavailable).
Status StoreOf(const Call& c, const OpenedStore** out);

// The handlers: each returns the request's Status, Ok with c.ok (and c.items) filled, or
// what the FAIL says. handlers_verify.cc (the verifier kinds, each logs its decision):
Status HandleVerify(Call& c);
Status HandleCode(Call& c);
Status HandleEnrolled(Call& c);
Status HandleAccount(Call& c);
// handlers_read.cc:
Status HandleList(Call& c);
Status HandleMfaStatus(Call& c);
Status HandlePolicyShow(Call& c);
// handlers_change.cc (each audited by the dispatcher; c.event says what changed):
Status HandleCreate(Call& c);
Status HandleRevoke(Call& c);
Status HandleMfaEnroll(Call& c);
Status HandleMfaConfirm(Call& c);
Status HandleMfaRecovery(Call& c);
Status HandlePolicySet(Call& c);
Status HandleMfaReplace(Call& c);
Status HandleMfaReplaceConfirm(Call& c);
// handlers_portal.cc (the portal's uid only):
Status HandleSignin(Call& c);
Status HandleSigninCode(Call& c);
Status HandleSigninEnroll(Call& c);
Status HandleSigninConfirm(Call& c);
Status HandleSession(Call& c);
Status HandleSignout(Call& c);

}  // namespace apppass::daemon::internal
