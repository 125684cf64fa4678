#include "authenticate.h"

#include <fmt/format.h>

namespace apppass {

LogSeverity DecisionSeverity(Outcome o) {
  switch (o) {
    case Outcome::kAccepted: return LogSeverity::kInfo;
    case Outcome::kUnavailable: return LogSeverity::kError;
    default: return LogSeverity::kNotice;
  }
}

AuthResult Authenticate(const AuthRequest& req, const RecordUse& record_use) {
  AuthResult r;
  if (req.store != nullptr) {
    r.decision = Verify(*req.store, req.ctx.user, req.password, req.ctx.service, req.now);
  } else {
    r.decision.outcome = Outcome::kUnavailable;
    r.decision.detail = std::string(req.unavailable);
  }
  r.log.push_back({DecisionSeverity(r.decision.outcome), FormatDecision(req.ctx, r.decision)});
  if (r.decision.outcome != Outcome::kAccepted || !record_use) return r;
  const Usage use{.time = req.now,
                  .service = std::string(req.ctx.service),
                  .rhost = std::string(req.ctx.rhost)};
  const Status s = record_use(r.decision.id, use);
  if (!s.ok())
    r.log.push_back({LogSeverity::kWarning, fmt::format("could not record last use of id={}: {}",
                                                        r.decision.id, s.message())});
  return r;
}

}  // namespace apppass
