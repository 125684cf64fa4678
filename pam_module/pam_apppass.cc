// pam_apppass.so: the PAM entry points, a thin shim over the core call (authenticate.h):
// it reads its options (pam_options.h), the user and the password, calls Authenticate and
// maps the result to PAM codes and syslog levels.
//
// Where the decision is made: a module running as root (euid 0: Dovecot's auth worker,
// su, sshd) opens the store `db=` itself, as before issue 11; any other process cannot
// (the store is root-only) and asks apppassd on `broker=` (default
// /run/apppass/apppassd.sock) with a deadline of 1.5 s (authenticate_broker.h). Either
// way the decision, its PAM code and its log line are the same; a broker that is not
// running, hangs or answers garbage is PAM_AUTHINFO_UNAVAIL, like a store that cannot be
// opened. Decided at each authentication (geteuid() then).
//
// pam_sm_authenticate succeeds only for an active app password of PAM_USER that is valid
// for the service (PAM_SERVICE, or scope=NAME). Everything else is a refusal:
//   PAM_AUTH_ERR          wrong, revoked, expired or out-of-scope password, unknown user,
//                         unusable user name or password, no user or password given
//   PAM_AUTHINFO_UNAVAIL  the store cannot be used (missing, unsafe, corrupt, ...), or,
//                         not as root, apppassd does not answer right within 1.5 s
//   PAM_SERVICE_ERR       the module's own configuration is wrong (unknown option)
// The module never returns PAM_IGNORE from authenticate, so no stack can pass through it
// by accident. One syslog line (LOG_AUTHPRIV) per decision, never with the password.
// No exception leaves an entry point: each one catches everything and refuses.
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "authenticate.h"
#include "authenticate_broker.h"
#include "decision_log.h"
#include "pam_options.h"
#include "store.h"
#include "usage.h"

namespace {

using apppass::DecisionContext;

// pam data key: set after a successful authentication so acct_mgmt knows who it was.
constexpr const char* kAcceptedUser = "pam_apppass_accepted_user";

const char* Item(pam_handle_t* pamh, int type) {
  const void* v = nullptr;
  if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || v == nullptr) return nullptr;
  return static_cast<const char*>(v);
}

void FreeData(pam_handle_t*, void* data, int) { std::free(data); }

// One line to syslog, facility authpriv.
void Syslog(pam_handle_t* pamh, int level, const std::string& line) {
  pam_syslog(pamh, LOG_AUTHPRIV | level, "%s", line.c_str());
}

int SyslogLevel(apppass::LogSeverity severity) {
  switch (severity) {
    case apppass::LogSeverity::kInfo: return LOG_INFO;
    case apppass::LogSeverity::kNotice: return LOG_NOTICE;
    case apppass::LogSeverity::kWarning: return LOG_WARNING;
    case apppass::LogSeverity::kError: break;
  }
  return LOG_ERR;
}

// The decision of a module running as root: the store opened for this login.
apppass::AuthResult AuthenticateInProcess(const apppass::ModuleOptions& opts,
                                          const DecisionContext& ctx, const char* password) {
  apppass::Store store;
  const apppass::Status s = apppass::Store::Open(opts.db, apppass::Store::Mode::kVerify, &store);
  apppass::RecordUse record_use;
  if (!opts.no_usage)
    record_use = [&opts](std::string_view id, const apppass::Usage& use) {
      // Opened per login: nothing of the store stays in the host between logins.
      return apppass::UsageDb::RecordIn(opts.db, id, use, opts.usage_interval);
    };
  return apppass::Authenticate({.store = s.ok() ? &store : nullptr,
                                .unavailable = s.message(),
                                .ctx = ctx,
                                .password = password,
                                .now = std::time(nullptr)},
                               record_use);
}

int Authenticate(pam_handle_t* pamh, int argc, const char** argv) {
  const char* pam_service = Item(pamh, PAM_SERVICE);
  const char* rhost = Item(pamh, PAM_RHOST);
  DecisionContext ctx{pam_service ? pam_service : "", "", rhost ? rhost : ""};

  apppass::ModuleOptions opts;
  std::vector<std::string_view> args(argv, argv + (argc > 0 ? argc : 0));
  apppass::Status s = apppass::ParseModuleOptions(args, &opts);
  if (!s.ok()) {
    Syslog(pamh, LOG_ERR, apppass::FormatEarlyRefusal(ctx, "error", "bad-option", s.message()));
    return PAM_SERVICE_ERR;
  }
  if (!opts.scope.empty()) ctx.service = opts.scope;
  // Only root may open the store; everyone else asks the broker.
  const bool via_broker = geteuid() != 0;
  if (opts.debug)
    pam_syslog(pamh, LOG_AUTHPRIV | LOG_DEBUG,
               "debug db=%s scope=%s (from %s) usage=%s interval=%ld verify=%s%s", opts.db.c_str(),
               std::string(ctx.service).c_str(),
               opts.scope.empty() ? "PAM_SERVICE" : "scope option", opts.no_usage ? "off" : "on",
               static_cast<long>(opts.usage_interval), via_broker ? "broker " : "in-process",
               via_broker ? opts.broker.c_str() : "");

  const char* user = nullptr;
  int rc = pam_get_user(pamh, &user, nullptr);
  if (rc != PAM_SUCCESS || user == nullptr) {
    Syslog(pamh, LOG_NOTICE,
           apppass::FormatEarlyRefusal(ctx, "refused", "no-user", pam_strerror(pamh, rc)));
    return PAM_AUTH_ERR;
  }
  ctx.user = user;
  // pam_get_authtok honours use_first_pass / try_first_pass from our arguments.
  const char* password = nullptr;
  rc = pam_get_authtok(pamh, PAM_AUTHTOK, &password, nullptr);
  if (rc != PAM_SUCCESS || password == nullptr) {
    Syslog(pamh, LOG_NOTICE,
           apppass::FormatEarlyRefusal(ctx, "refused", "no-password", pam_strerror(pamh, rc)));
    return PAM_AUTH_ERR;
  }

  const apppass::AuthResult r = via_broker
                                    ? apppass::AuthenticateViaBroker(opts.broker, ctx, password)
                                    : AuthenticateInProcess(opts, ctx, password);
  for (const apppass::LogLine& line : r.log) Syslog(pamh, SyslogLevel(line.severity), line.text);
  if (r.decision.outcome == apppass::Outcome::kUnavailable) return PAM_AUTHINFO_UNAVAIL;
  if (r.decision.outcome != apppass::Outcome::kAccepted) return PAM_AUTH_ERR;

  char* copy = strdup(user);
  if (copy == nullptr || pam_set_data(pamh, kAcceptedUser, copy, FreeData) != PAM_SUCCESS) {
    std::free(copy);
    return PAM_BUF_ERR;
  }
  return PAM_SUCCESS;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int, int argc,
                                                               const char** argv) {
  try {
    return Authenticate(pamh, argc, argv);
  } catch (...) {
    Syslog(pamh, LOG_ERR, "error reason=internal detail=\"unexpected exception\"");
    return PAM_AUTHINFO_UNAVAIL;
  }
}

// No credentials to establish: an app password grants no Kerberos ticket or the like.
__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t*, int, int, const char**) {
  return PAM_SUCCESS;
}

// Succeeds for the user this module authenticated in this transaction (Dovecot calls
// acct_mgmt right after authenticate). For anyone else it has no opinion (PAM_IGNORE):
// account policy belongs to pam_unix and friends, and a stack of only ignoring modules
// is denied by libpam.
__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int, int,
                                                            const char**) {
  try {
    const void* data = nullptr;
    const char* user = nullptr;
    if (pam_get_data(pamh, kAcceptedUser, &data) != PAM_SUCCESS || data == nullptr)
      return PAM_IGNORE;
    if (pam_get_user(pamh, &user, nullptr) != PAM_SUCCESS || user == nullptr ||
        std::strcmp(user, static_cast<const char*>(data)) != 0)
      return PAM_IGNORE;
    return PAM_SUCCESS;
  } catch (...) {
    return PAM_AUTH_ERR;
  }
}

}  // extern "C"
