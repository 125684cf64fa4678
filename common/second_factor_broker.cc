// CheckLoginCodeViaBroker, EnrolledViaBroker, CheckAccountViaBroker (second_factor_broker.h):
// the CODE, ENROLLED and ACCOUNT requests of protocol minor 1 (docs/design.md, "Broker
// protocol"), one broker::Call each, and the reading of their replies. Everything that is
// not a well-formed OK naming a known answer is unavailable, with a detail saying why.
#include "second_factor_broker.h"

#include <fmt/format.h>

#include <charconv>
#include <utility>

#include "records.h"
#include "text.h"

namespace apppass {

namespace {

CodeDecision CodeUnavailable(std::string detail) {
  CodeDecision d;
  d.outcome = CodeOutcome::kUnavailable;
  d.detail = std::move(detail);
  return d;
}

AccountCheck AccountUnavailable(std::string detail) {
  AccountCheck a;
  a.state = AccountState::kUnavailable;
  a.detail = std::move(detail);
  return a;
}

std::string Malformed(std::string_view what) {
  return fmt::format("malformed reply from the apppass service ({})", what);
}

// Sends `req` and returns its final reply in *out: Ok only for an OK with no ITEM before
// it; else Unavailable with a detail (`what` names the request for a FAIL's message).
Status Ask(const std::string& socket, const broker::Request& req, std::string_view what,
           std::chrono::milliseconds timeout, broker::Reply* out) {
  broker::CallResult result;
  Status s = broker::Call(socket, req, timeout, &result);
  if (!s.ok()) return Status::Unavailable(s.message());
  if (!result.items.empty())
    return Status::Unavailable(
        Malformed(fmt::format("ITEM to {}", broker::RequestKindName(req.kind))));
  if (result.final.type != broker::ReplyType::kOk) {
    const Status refused = ReplyStatus(result.final);
    return Status::Unavailable(
        fmt::format("the apppass service refused to {}: {}", what, refused.message()));
  }
  *out = std::move(result.final);
  return Status::Ok();
}

// The request of `kind` for `user`, with a fresh id.
Status NewRequest(broker::RequestKind kind, std::string_view user, broker::Request* req) {
  req->kind = kind;
  req->id = broker::NextRequestId();
  return req->fields.Add("user", user);
}

// "0".."kMaxRecoveryCodes", exactly.
bool ParseCodesLeft(const std::string& text, int* out) {
  int v = -1;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty() || (text.size() > 1 && text[0] == '0') ||
      v < 0 || v > static_cast<int>(kMaxRecoveryCodes))
    return false;
  *out = v;
  return true;
}

}  // namespace

CodeDecision CheckLoginCodeViaBroker(const std::string& socket, std::string_view user,
                                     std::string_view code, std::string_view service,
                                     std::string_view rhost, std::chrono::milliseconds timeout) {
  try {
    // Input CheckLoginCode refuses for its size is refused here with its words (in its
    // order), without the daemon, as AuthenticateViaBroker does a huge user or password.
    if (code.size() > kMaxCodeInput || user.size() > kMaxUserLength) {
      CodeDecision d;
      d.outcome = CodeOutcome::kBadInput;
      d.detail =
          code.size() > kMaxCodeInput ? "the code is too long" : ValidateUserName(user).message();
      return d;
    }
    broker::Request req;
    Status s = NewRequest(broker::RequestKind::kCode, user, &req);
    if (s.ok()) s = req.fields.Add("code", code);  // into a SecretBuffer (IsSecretKey)
    if (s.ok()) s = req.fields.Add("service", service);
    if (s.ok() && !rhost.empty()) s = req.fields.Add("rhost", rhost);
    if (!s.ok()) return CodeUnavailable(s.message());
    broker::Reply reply;
    if (!(s = Ask(socket, req, "check the code", timeout, &reply)).ok())
      return CodeUnavailable(s.message());

    const std::string* name = reply.fields.Get("outcome");
    if (name == nullptr) return CodeUnavailable(Malformed("no outcome"));
    const CodeOutcome outcome = CodeOutcomeFromName(*name);
    // CodeOutcomeFromName is kUnavailable for a name it does not know: tell the two apart.
    if (CodeOutcomeName(outcome) != *name)
      return CodeUnavailable(Malformed("unknown outcome " + LogSafe(*name, 40)));
    CodeDecision d;
    d.outcome = outcome;
    if (const std::string* detail = reply.fields.Get("detail")) d.detail = *detail;
    if (outcome == CodeOutcome::kRecoveryCode) {
      // A recovery code's acceptance says how many are left (the log line, the user's
      // warning): one without is not from a daemon that checked.
      const std::string* left = reply.fields.Get("codes_left");
      if (left == nullptr || !ParseCodesLeft(*left, &d.recovery_codes_left))
        return CodeUnavailable(Malformed("recovery-code without a count of codes left"));
    }
    return d;
  } catch (...) {
    return CodeUnavailable("out of memory");
  }
}

Status EnrolledViaBroker(const std::string& socket, std::string_view user, bool* enrolled,
                         std::chrono::milliseconds timeout) {
  // Until the daemon says otherwise the user counts as enrolled: a caller that ignored
  // the status would then ask for a code, never let the next module decide alone.
  *enrolled = true;
  try {
    // No user record can have a name this long (ValidateUserName): not enrolled, as the
    // daemon answers for any name it refuses.
    if (user.size() > kMaxUserLength) {
      *enrolled = false;
      return Status::Ok();
    }
    broker::Request req;
    Status s = NewRequest(broker::RequestKind::kEnrolled, user, &req);
    if (!s.ok()) return Status::Unavailable(s.message());
    broker::Reply reply;
    if (!(s = Ask(socket, req, "say whether the user is enrolled", timeout, &reply)).ok()) return s;
    const std::string* answer = reply.fields.Get("enrolled");
    if (answer == nullptr || (*answer != "yes" && *answer != "no"))
      return Status::Unavailable(Malformed("enrolled is not yes or no"));
    *enrolled = *answer == "yes";
    return Status::Ok();
  } catch (...) {
    return Status::Unavailable("out of memory");
  }
}

AccountCheck CheckAccountViaBroker(const std::string& socket, std::string_view user,
                                   std::chrono::milliseconds timeout) {
  try {
    broker::Request req;
    Status s = NewRequest(broker::RequestKind::kAccount, user, &req);
    if (!s.ok()) return AccountUnavailable(s.message());
    broker::Reply reply;
    if (!(s = Ask(socket, req, "check the account", timeout, &reply)).ok())
      return AccountUnavailable(s.message());
    const std::string* name = reply.fields.Get("state");
    if (name == nullptr) return AccountUnavailable(Malformed("no state"));
    AccountCheck a;
    a.state = AccountStateFromName(*name);
    if (AccountStateName(a.state) != *name)
      return AccountUnavailable(Malformed("unknown state " + LogSafe(*name, 40)));
    if (const std::string* detail = reply.fields.Get("detail")) a.detail = *detail;
    return a;
  } catch (...) {
    return AccountUnavailable("out of memory");
  }
}

}  // namespace apppass
