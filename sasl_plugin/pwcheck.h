// apppass_unenrolled: pwcheck. A user without a confirmed MFA enrollment whose password is
// not one of their app passwords is checked by libsasl's own password check,
// utils->checkpass: the application's pwcheck_method (saslauthd, auxprop such as sasldb,
// or the application's own userdb callback), exactly what the stock PLAIN and LOGIN call.
// Enrolled users never get here (sasl_mechs.cc): their real password stops working the
// moment their enrollment is confirmed.
//
// The bound. libsasl 2.1.28 waits for saslauthd without any timeout (lib/checkpw.c reads
// its answer with retry_read(..., delta 0)), and an auxprop backend over the network
// (ldapdb, sql) may wait as long as its library does. A check that never returns would
// hold the login, and the server process with it, forever (Postfix: every smtpd that
// reaches it, until the process limit). A plugin cannot interrupt libsasl's call, nor give
// up on it while it still uses the connection, so the check runs in a child process
// (RunInChild, common/child.h: fork, the answer on a pipe, SIGKILL at the deadline) and the
// plugin waits for it at most kPwcheckTimeout; a check that has not answered by then is
// stopped and the login fails closed as unavailable (SASL_UNAVAIL: Postfix answers 454
// 4.7.0, try again later). What the check changes in memory (auxprop values, the
// connection's error text) stays in the child; its answer is the int libsasl returned.
//
// Costs and limits: one fork per pwcheck login (about a millisecond for an smtpd; the
// saslauthd round trip and its PAM stack cost far more); RunInChild flushes the process's
// stdout and stderr first. In a multithreaded server the child has only the calling
// thread: a lock another thread held at the fork could stall it, and the deadline ends
// that too. The password is copied once into locked memory that is wiped when the check
// returns; the child never returns into the application (_exit).
//
// Thread-safe as far as fork() is in the host process; Pwcheck itself keeps no state.
#pragma once

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <chrono>
#include <string>
#include <string_view>

#include "decision_log.h"

namespace apppass::sasl {

// How long a password check may take before the login fails as unavailable: above
// saslauthd's PAM failure delay (2 s) and its LDAP default timeout (5 s), far below an SMTP
// client's patience for an AUTH reply (minutes).
inline constexpr std::chrono::milliseconds kPwcheckTimeout{10000};

enum class PwcheckOutcome {
  kAccepted,       // SASL_OK
  kWrongPassword,  // SASL_BADAUTH
  kUnknownUser,    // SASL_NOUSER (the application's backend does not know the user)
  kUnavailable,    // any other code, no answer within the timeout, or fork/pipe failed
};

struct PwcheckResult {
  PwcheckOutcome outcome = PwcheckOutcome::kUnavailable;
  std::string detail;  // for kUnavailable: why (never the password)
};

// Checks `password` for `user` (the canonical name) with sp->utils->checkpass in a child
// process, waiting at most `timeout`. REQUIRES: neither contains a NUL byte (messages.h
// checks both), both are at most 512 bytes.
PwcheckResult Pwcheck(const sasl_server_params_t* sp, std::string_view user,
                      std::string_view password,
                      std::chrono::milliseconds timeout = kPwcheckTimeout);

// The decision line of a login the password check decided, in the format of
// decision_log.h with "path=pwcheck" after the reason (fail2ban's filter reads the
// refusals like any other):
//   accepted service=smtp user=carol rhost=192.0.2.7 path=pwcheck
//   refused service=smtp user=carol rhost=192.0.2.7 reason=wrong-password path=pwcheck
//   error service=smtp user=carol rhost=192.0.2.7 reason=unavailable path=pwcheck detail="..."
std::string FormatPwcheckDecision(const DecisionContext& ctx, const PwcheckResult& r);

// "wrong-password", "unknown-user", "unavailable" ("accepted" for kAccepted).
std::string_view PwcheckOutcomeName(PwcheckOutcome o);

}  // namespace apppass::sasl
