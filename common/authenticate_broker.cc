#include "authenticate_broker.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>

#include "password.h"
#include "text.h"

namespace apppass {

namespace {

constexpr Outcome kAllOutcomes[] = {
    Outcome::kAccepted, Outcome::kUnknownUser, Outcome::kWrongPassword, Outcome::kRevoked,
    Outcome::kExpired,  Outcome::kOutOfScope,  Outcome::kBadInput,      Outcome::kUnavailable};

Decision Unavailable(std::string detail) {
  Decision d;
  d.outcome = Outcome::kUnavailable;
  d.detail = std::move(detail);
  return d;
}

}  // namespace

std::optional<Outcome> OutcomeFromName(std::string_view name) noexcept {
  for (Outcome o : kAllOutcomes)
    if (OutcomeName(o) == name) return o;
  return std::nullopt;
}

Decision DecisionFromReply(const broker::Reply& reply) {
  if (reply.type != broker::ReplyType::kOk) {
    const Status s = ReplyStatus(reply);
    return Unavailable(fmt::format("the apppass service refused to verify: {}", s.message()));
  }
  const std::string* name = reply.fields.Get("outcome");
  if (name == nullptr) return Unavailable("malformed reply from the apppass service (no outcome)");
  const std::optional<Outcome> outcome = OutcomeFromName(*name);
  if (!outcome)
    return Unavailable(fmt::format("malformed reply from the apppass service (unknown outcome {})",
                                   LogSafe(*name, 40)));
  Decision d;
  d.outcome = *outcome;
  // Absent: an older daemon, which cannot say; enrolled (fail closed, see the header).
  d.enrolled = true;
  if (const std::string* enrolled = reply.fields.Get("enrolled")) {
    if (*enrolled != "yes" && *enrolled != "no")
      return Unavailable("malformed reply from the apppass service (enrolled is not yes or no)");
    d.enrolled = *enrolled == "yes";
  }
  if (const std::string* id = reply.fields.Get("id")) d.id = *id;
  if (const std::string* label = reply.fields.Get("name")) d.name = *label;
  if (const std::string* detail = reply.fields.Get("detail")) d.detail = *detail;
  // An acceptance names the password that matched (the log line, fail2ban, last use):
  // one without is not from a daemon that verified.
  if (d.outcome == Outcome::kAccepted && d.id.empty())
    return Unavailable("malformed reply from the apppass service (accepted without an id)");
  return d;
}

AuthResult AuthenticateViaBroker(const std::string& socket, const DecisionContext& ctx,
                                 std::string_view password, std::chrono::milliseconds timeout) {
  AuthResult r;
  // Over these sizes the request would not fit a protocol line: refused here, with the
  // verifier's own words, as an in-process Verify refuses them.
  if (ctx.user.size() > kMaxUserLength || password.size() > kMaxPasswordInput) {
    const Status user = ValidateUserName(ctx.user);  // Verify checks the user first
    r.decision.outcome = Outcome::kBadInput;
    r.decision.detail = !user.ok() ? user.message() : "password longer than 512 bytes";
    r.log.push_back({DecisionSeverity(r.decision.outcome), FormatDecision(ctx, r.decision)});
    return r;
  }
  broker::Request req;
  req.kind = broker::RequestKind::kVerify;
  req.id = broker::NextRequestId();
  Status s = req.fields.Add("user", ctx.user);
  if (s.ok()) s = req.fields.Add("password", password);
  if (s.ok()) s = req.fields.Add("service", ctx.service);
  if (s.ok() && !ctx.rhost.empty()) s = req.fields.Add("rhost", ctx.rhost);
  broker::CallResult reply;
  if (s.ok()) s = broker::Call(socket, req, timeout, &reply);
  if (!s.ok()) {
    r.decision = Unavailable(s.message());
  } else if (!reply.items.empty()) {
    r.decision = Unavailable("malformed reply from the apppass service (ITEM to a VERIFY)");
  } else {
    r.decision = DecisionFromReply(reply.final);
  }
  r.log.push_back({DecisionSeverity(r.decision.outcome), FormatDecision(ctx, r.decision)});
  return r;
}

}  // namespace apppass
