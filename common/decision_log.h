// The one log line written per authentication decision, shared by the PAM module and
// the SASL plugin so that one fail2ban filter reads both:
//
//   accepted service=imap user=alice rhost=192.0.2.7 id=4f2a9c1e name=iPhone
//   refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password
//   refused service=imap user=alice rhost=192.0.2.7 reason=revoked id=4f2a9c1e name=iPhone
//   error service=imap user=alice rhost=- reason=unavailable detail="..."
//
// Field values are escaped (text.h LogSafe), so a user name cannot forge fields; a
// missing value is "-". The password is never an argument. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "verifier.h"

namespace apppass {

struct DecisionContext {
  std::string_view service;
  std::string_view user;
  std::string_view rhost;
};

// "accepted", "refused" or "error" followed by the fields.
std::string FormatDecision(const DecisionContext& ctx, const Decision& d);

// A refusal that happened before verification (bad option, no user, ...).
std::string FormatEarlyRefusal(const DecisionContext& ctx, std::string_view result,
                               std::string_view reason, std::string_view detail);

}  // namespace apppass
