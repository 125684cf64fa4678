#include "decision_log.h"

#include <fmt/format.h>

#include "text.h"

namespace apppass {

namespace {

std::string Head(const DecisionContext& ctx, std::string_view result) {
  return fmt::format("{} service={} user={} rhost={}", result, LogSafe(ctx.service),
                     LogSafe(ctx.user), LogSafe(ctx.rhost, 64));
}

}  // namespace

std::string FormatDecision(const DecisionContext& ctx, const Decision& d) {
  const bool error = d.outcome == Outcome::kUnavailable;
  std::string line = Head(ctx, d.outcome == Outcome::kAccepted ? "accepted"
                               : error                         ? "error"
                                                               : "refused");
  if (d.outcome != Outcome::kAccepted) line += fmt::format(" reason={}", OutcomeName(d.outcome));
  if (!d.id.empty()) line += fmt::format(" id={} name={}", LogSafe(d.id), LogSafe(d.name, 64));
  if (!d.detail.empty()) line += " detail=" + LogQuoted(d.detail);
  return line;
}

std::string FormatCodeDecision(const DecisionContext& ctx, const CodeDecision& d) {
  const bool error = d.outcome == CodeOutcome::kUnavailable;
  std::string line = Head(ctx, CodePassed(d.outcome) ? "accepted"
                               : error               ? "error"
                                                     : "refused") +
                     " factor=totp";
  if (d.outcome != CodeOutcome::kAccepted)
    line += fmt::format(" reason={}", CodeOutcomeName(d.outcome));
  if (d.outcome == CodeOutcome::kRecoveryCode)
    line += fmt::format(" codes_left={}", d.recovery_codes_left < 0 ? 0 : d.recovery_codes_left);
  const bool with_detail =
      error || d.outcome == CodeOutcome::kBadInput || d.outcome == CodeOutcome::kThrottled;
  if (with_detail && !d.detail.empty()) line += " detail=" + LogQuoted(d.detail);
  return line;
}

std::string FormatEarlyRefusal(const DecisionContext& ctx, std::string_view result,
                               std::string_view reason, std::string_view detail) {
  std::string line = Head(ctx, result) + fmt::format(" reason={}", reason);
  if (!detail.empty()) line += " detail=" + LogQuoted(detail);
  return line;
}

}  // namespace apppass
