// The one log line written per authentication decision, shared by the PAM module and
// the SASL plugin so that one fail2ban filter reads both:
//
//   accepted service=imap user=alice rhost=192.0.2.7 id=4f2a9c1e name=iPhone
//   refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password
//   refused service=imap user=alice rhost=192.0.2.7 reason=revoked id=4f2a9c1e name=iPhone
//   error service=imap user=alice rhost=- reason=unavailable detail="..."
//
// The TOTP step of a login (second_factor.h) adds factor=totp:
//
//   accepted service=sshd user=alice rhost=- factor=totp
//   accepted service=sshd user=alice rhost=- factor=totp reason=recovery-code codes_left=9
//   refused service=sshd user=alice rhost=- factor=totp reason=wrong-code
//   refused service=sshd user=alice rhost=- factor=totp reason=throttled detail="..."
//   error service=sshd user=alice rhost=- factor=totp reason=unavailable detail="..."
//
// Field values are escaped (text.h LogSafe), so a user name cannot forge fields; a
// missing value is "-". The password is never an argument. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "second_factor.h"
#include "verifier.h"

namespace apppass {

struct DecisionContext {
  std::string_view service;
  std::string_view user;
  std::string_view rhost;
};

// "accepted", "refused" or "error" followed by the fields.
std::string FormatDecision(const DecisionContext& ctx, const Decision& d);

// The line of one TOTP-step decision: "accepted" for accepted and recovery-code (with
// codes_left), "error" for unavailable, "refused" otherwise; detail only for
// unavailable, bad-input and throttled. The code is never an argument.
std::string FormatCodeDecision(const DecisionContext& ctx, const CodeDecision& d);

// A refusal that happened before verification (bad option, no user, ...).
std::string FormatEarlyRefusal(const DecisionContext& ctx, std::string_view result,
                               std::string_view reason, std::string_view detail);

}  // namespace apppass
