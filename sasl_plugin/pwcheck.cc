#include "pwcheck.h"

#include <fmt/format.h>

#include <charconv>

#include "child.h"
#include "secret.h"
#include "text.h"

namespace apppass::sasl {

namespace {

PwcheckResult Unavailable(std::string detail) {
  return {PwcheckOutcome::kUnavailable, std::move(detail)};
}

std::string CodeText(int rc) {
  switch (rc) {
    case SASL_FAIL: return "SASL_FAIL";
    case SASL_NOMECH: return "SASL_NOMECH (no such pwcheck_method)";
    case SASL_NOMEM: return "SASL_NOMEM";
    case SASL_BADPARAM: return "SASL_BADPARAM";
    case SASL_UNAVAIL: return "SASL_UNAVAIL";
    case SASL_TRYAGAIN: return "SASL_TRYAGAIN";
    case SASL_NOVERIFY: return "SASL_NOVERIFY";
    case SASL_DISABLED: return "SASL_DISABLED";
    case SASL_EXPIRED: return "SASL_EXPIRED";
    default: return fmt::format("code {}", rc);
  }
}

}  // namespace

std::string_view PwcheckOutcomeName(PwcheckOutcome o) {
  switch (o) {
    case PwcheckOutcome::kAccepted: return "accepted";
    case PwcheckOutcome::kWrongPassword: return "wrong-password";
    case PwcheckOutcome::kUnknownUser: return "unknown-user";
    case PwcheckOutcome::kUnavailable: break;
  }
  return "unavailable";
}

PwcheckResult Pwcheck(const sasl_server_params_t* sp, std::string_view user,
                      std::string_view password, std::chrono::milliseconds timeout) {
  if (sp->utils == nullptr || sp->utils->checkpass == nullptr)
    return Unavailable("the SASL library offers no password check");
  // libsasl's verifiers read C strings: NUL-terminated copies, the password's in locked
  // memory that is wiped when this returns (the child's copy dies with the child).
  const std::string name(user);
  SecretBuffer pw(password.size() + 1);
  if (!pw.valid() || !pw.assign(password) || !pw.push_back('\0'))
    return Unavailable("out of secure memory");
  const sasl_utils_t* utils = sp->utils;
  // In the child: libsasl's check, and its answer as the report (common/child.h).
  const ChildResult c = RunInChild(
      [&]() {
        const int rc = utils->checkpass(
            utils->conn, name.c_str(), static_cast<unsigned>(name.size()),
            reinterpret_cast<const char*>(pw.data()), static_cast<unsigned>(password.size()));
        return std::to_string(rc);
      },
      timeout, 64);
  if (c.end == ChildResult::End::kTimedOut)
    return Unavailable(fmt::format(
        "the password check (pwcheck_method) did not answer within {} s and was stopped; "
        "is saslauthd hung?",
        std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  int rc = 0;
  const std::string& r = c.report;
  if (!c.ok() || std::from_chars(r.data(), r.data() + r.size(), rc).ptr != r.data() + r.size() ||
      r.empty())
    return Unavailable(
        fmt::format("the password check process: {}", c.ok() ? "no answer" : c.Describe()));
  switch (rc) {
    case SASL_OK: return {PwcheckOutcome::kAccepted, ""};
    case SASL_BADAUTH: return {PwcheckOutcome::kWrongPassword, ""};
    case SASL_NOUSER: return {PwcheckOutcome::kUnknownUser, ""};
    default:
      return Unavailable(fmt::format(
          "the password check (pwcheck_method) failed: {}; is saslauthd running, is the "
          "sasldb readable?",
          CodeText(rc)));
  }
}

std::string FormatPwcheckDecision(const DecisionContext& ctx, const PwcheckResult& r) {
  const bool accepted = r.outcome == PwcheckOutcome::kAccepted;
  const bool error = r.outcome == PwcheckOutcome::kUnavailable;
  std::string line = fmt::format("{} service={} user={} rhost={}",
                                 accepted ? "accepted"
                                 : error  ? "error"
                                          : "refused",
                                 LogSafe(ctx.service), LogSafe(ctx.user), LogSafe(ctx.rhost, 64));
  if (!accepted) line += fmt::format(" reason={}", PwcheckOutcomeName(r.outcome));
  line += " path=pwcheck";
  if (!r.detail.empty()) line += " detail=" + LogQuoted(r.detail);
  return line;
}

}  // namespace apppass::sasl
