// What apppassd writes to the log: every line goes to syslog (ident "apppassd", facility
// authpriv) and, in the foreground, to stderr as well (LOG_PERROR; main.cc opens the log).
//
// The audit line: one per change request (CREATE, REVOKE, MFA_ENROLL, MFA_CONFIRM,
// MFA_RECOVERY, POLICY_SET), done or refused, in the escaped key=value format of the
// decision lines (decision_log.h, text.h LogSafe), never with a secret:
//
//   change op=create uid=1001 user=alice id=3f9a1c result=ok
//   change op=revoke uid=1001 user=alice id=3f9a1c,77b2e0 result=ok
//   change op=revoke uid=1001 user=alice result=denied detail="wrong or reused verification code"
//   change op=policy-set uid=0 user=root key=max_active value=10 result=ok
//   change op=mfa-recovery-codes uid=1001 user=alice result=ok
//
// result is "ok" or the FAIL code the caller got (broker_protocol.h ReplyCodeName);
// detail is that reply's message. Thread-safe (syslog is).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace apppass::daemon {

// One line at syslog `level` (LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR).
void Log(int level, std::string_view line);

struct ChangeEvent {
  std::string_view op;           // "create", "revoke", "mfa-enroll", "mfa-confirm",
                                 // "mfa-recovery-codes", "policy-set"
  uid_t uid = 0;                 // the caller's (SO_PEERCRED)
  std::string_view user;         // the account acted on ("" when the caller has none)
  std::vector<std::string> ids;  // credentials created or revoked
  std::string_view key, value;   // policy-set only
};

// The audit line of `ev` whose result is `result`.
std::string FormatChange(const ChangeEvent& ev, const Status& result);

// Logs FormatChange (LOG_INFO when done, LOG_NOTICE when refused).
void AuditChange(const ChangeEvent& ev, const Status& result);

}  // namespace apppass::daemon
