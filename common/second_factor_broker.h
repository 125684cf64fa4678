// The issue-12 checks for a process that is not root (it cannot open the root-only store
// nor read /etc/shadow): the same answers as CheckLoginCode (second_factor.h), the
// enrollment probe and CheckAccount (account.h), asked of apppassd (broker_client.h) by
// the PAM module's totp mode and account=nss, and the SASL plugin's apppass_account.
//
// Fails closed: a daemon that is not running, does not answer within `timeout`, answers
// anything malformed, refuses the caller (not in group apppass) or names an outcome or
// state this side does not know gives CodeOutcome::kUnavailable /
// AccountState::kUnavailable / Unavailable, with the reason in `detail`.
// Thread-safe (broker::Call is).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "account.h"
#include "broker_client.h"
#include "second_factor.h"
#include "status.h"

namespace apppass {

// CODE: checks `code` for `user` (the daemon logs the decision line; the caller logs its
// own with FormatCodeDecision). `service` and `rhost` are for the daemon's log line.
// A user over kMaxUserLength or a code over kMaxCodeInput bytes is kBadInput at once,
// without the daemon. A recovery-code answer without a valid codes_left is malformed.
// The code travels only in SecretBuffers (broker_protocol.h).
CodeDecision CheckLoginCodeViaBroker(const std::string& socket, std::string_view user,
                                     std::string_view code, std::string_view service,
                                     std::string_view rhost,
                                     std::chrono::milliseconds timeout = broker::kVerifyTimeout);

// Whether `user` has a confirmed enrollment (for totp with unenrolled=ignore, which must
// not prompt an unenrolled user). Unavailable when the broker cannot say; *enrolled is
// then true (a caller that ignored the status would still ask for a code). A name over
// kMaxUserLength is not enrolled (the daemon's answer for any name ValidateUserName
// refuses), without asking.
Status EnrolledViaBroker(const std::string& socket, std::string_view user, bool* enrolled,
                         std::chrono::milliseconds timeout = broker::kVerifyTimeout);

// ACCOUNT: CheckAccount(user, now) as root, by the daemon.
AccountCheck CheckAccountViaBroker(const std::string& socket, std::string_view user,
                                   std::chrono::milliseconds timeout = broker::kVerifyTimeout);

}  // namespace apppass
