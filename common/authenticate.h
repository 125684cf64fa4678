// Authenticate: the one call both shims make for a login, after they have read their
// options and the user's name and password. It verifies (verifier.h), decides how severe
// the decision's log line is, records the last use of an accepted password (usage.h) and
// warns when that fails. A shim then only maps the result to its own return codes and
// writes the lines with its own logger:
//
//   decision                 line                                severity
//   accepted                 "accepted service=... id=..."       kInfo
//   refused (any reason)     "refused service=... reason=..."    kNotice
//   unavailable              "error service=... reason=unavailable detail=..."   kError
//   last use not recorded    "could not record last use of id=...: ..."           kWarning
//
// Last use is bookkeeping, not a security control: a failure to record it never changes
// the decision. Thread-safe when `store` may be verified from several threads at once
// (store.h) and `record_use` may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "decision_log.h"
#include "status.h"
#include "store.h"
#include "usage.h"
#include "verifier.h"

namespace apppass {

// How severe a log line is; each shim maps it to its logger's levels (PAM: syslog
// LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR; SASL: SASL_LOG_NOTE, _FAIL, _WARN, _ERR).
enum class LogSeverity { kInfo, kNotice, kWarning, kError };

// The severity of a decision's line: accepted kInfo, unavailable kError, refused kNotice.
LogSeverity DecisionSeverity(Outcome o);

struct LogLine {
  LogSeverity severity = LogSeverity::kError;
  std::string text;  // without a prefix; never contains the password
};

// Records the last use of credential `id`: the shim's way (the SASL plugin's open usage
// database, the PAM module's kept one: store_cache.h). Empty: last use is not recorded.
using RecordUse = std::function<Status(std::string_view id, const Usage& use)>;

struct AuthRequest {
  // The store opened for verifying, or nullptr when it could not be opened; then
  // `unavailable` says why, and the decision is kUnavailable.
  const Store* store = nullptr;
  std::string_view unavailable;
  // The service is the scope checked (the shim's scope option, or its service name).
  DecisionContext ctx;
  std::string_view password;  // as the client sent it
  std::int64_t now = 0;       // seconds since the epoch
};

struct AuthResult {
  Decision decision;
  std::vector<LogLine> log;  // in order: the decision, then the warning if any
};

// REQUIRES: req.store is open, or nullptr. Never throws for a refusal or a store error
// (allocation failures may throw: the shims catch everything at their entry points).
AuthResult Authenticate(const AuthRequest& req, const RecordUse& record_use);

}  // namespace apppass
