// pam_apppass.so: the PAM entry points, a thin shim over the core calls: it reads its
// options (pam_options.h), the user and what they typed, asks the core (authenticate.h,
// second_factor.h, account.h) and maps the result to PAM codes and syslog levels.
//
// Where the decision is made: a module running as root (euid 0: Dovecot's auth worker,
// su, sshd) opens the store `db=` itself, as before issue 11; any other process cannot
// (the store is root-only) and asks apppassd on `broker=` (default
// /run/apppass/apppassd.sock) with a deadline of 1.5 s (authenticate_broker.h,
// second_factor_broker.h). Either way the decision, its PAM code and its log line are the
// same; a broker that is not running, hangs or answers garbage is PAM_AUTHINFO_UNAVAIL,
// like a store that cannot be opened. Decided at each call (geteuid() then).
//
// State across transactions: the module is linked -z nodelete, so the dlclose at pam_end
// leaves it loaded, and as root it keeps the store it verified with for the process's
// next transactions (store_cache.h; docs/design.md, "PAM state across transactions").
// Each login lstats the store's directory, key, data.mdb and lock.mdb: any change (a
// replaced, tightened, truncated or rewritten file, another key) opens the store again
// with every check of a first open, and fails exactly as that would; a forked child opens
// its own. The usage database is opened by the first accepted login and kept: last use is
// written at most once per interval per password (time only), and a refused login opens
// nothing beyond the store. totp mode opens the store for writing per transaction.
//
// pam_sm_authenticate has two modes.
// Password mode (the default) succeeds only for an active app password of PAM_USER that is
// valid for the service (PAM_SERVICE, or scope=NAME). Everything else is a refusal:
//   PAM_AUTH_ERR          wrong, revoked, expired or out-of-scope password, unknown user,
//                         unusable user name or password, no user or password given
//   PAM_AUTHINFO_UNAVAIL  the store cannot be used (missing, unsafe, corrupt, ...), or,
//                         not as root, apppassd does not answer right within 1.5 s
//   PAM_SERVICE_ERR       the module's own configuration is wrong (unknown option)
//   PAM_IGNORE            only with unenrolled=ignore: a user without a confirmed MFA
//                         enrollment whose password is not one of their app passwords
//                         (refused as unknown-user, wrong-password, revoked, expired or
//                         out-of-scope), so that the next module (pam_unix) decides. Never
//                         for an enrolled user, never for bad input nor an unusable store.
// totp mode (`totp`, after the password module) asks "Verification code: " (echo off)
// through the conversation and checks it with CheckLoginCode (second_factor.h): a current
// code of the user's confirmed enrollment or an unused recovery code is PAM_SUCCESS;
// wrong, reused, throttled, malformed, not enrolled (unenrolled=deny), no answer
// PAM_AUTH_ERR; an unusable store PAM_AUTHINFO_UNAVAIL. With unenrolled=ignore a user
// without a confirmed enrollment gets PAM_IGNORE before any prompt. The typed code is
// wiped after use.
// Without unenrolled=ignore the module never returns PAM_IGNORE from authenticate, so no
// stack can pass through it by accident.
//
// pam_sm_acct_mgmt: by default it succeeds for the user this module authenticated with an
// app password in this transaction and has no opinion (PAM_IGNORE) on anyone else. With
// account=nss it checks every user by NSS and shadow (account.h): PAM_SUCCESS,
// PAM_USER_UNKNOWN, PAM_PERM_DENIED (locked), PAM_ACCT_EXPIRED, or PAM_AUTH_ERR when the
// state cannot be read.
//
// One syslog line (LOG_AUTHPRIV) per decision, never with the password or the code.
// No exception leaves an entry point: each one catches everything and refuses.
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <sodium.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "account.h"
#include "admin.h"
#include "authenticate.h"
#include "authenticate_broker.h"
#include "decision_log.h"
#include "pam_options.h"
#include "second_factor.h"
#include "second_factor_broker.h"
#include "store.h"
#include "store_cache.h"
#include "text.h"
#include "usage.h"

namespace {

using apppass::AccountPolicy;
using apppass::CodeDecision;
using apppass::CodeOutcome;
using apppass::DecisionContext;
using apppass::UnenrolledPolicy;

// pam data key: set after a successful authentication so acct_mgmt knows who it was.
constexpr const char* kAcceptedUser = "pam_apppass_accepted_user";

// What totp mode asks (and what the documentation and the tests quote).
constexpr const char* kCodePrompt = "Verification code: ";

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

// What every call starts with: the options, and the service and remote host for the log
// line. options_ok false: the options are wrong, and the line saying so was logged.
struct Call {
  apppass::ModuleOptions opts;
  std::string service, rhost, user;
  bool options_ok = false;

  DecisionContext ctx() const { return {service, user, rhost}; }
};

Call Begin(pam_handle_t* pamh, int argc, const char** argv) {
  Call c;
  const char* pam_service = Item(pamh, PAM_SERVICE);
  const char* rhost = Item(pamh, PAM_RHOST);
  c.service = pam_service ? pam_service : "";
  c.rhost = rhost ? rhost : "";
  std::vector<std::string_view> args(argv, argv + (argc > 0 ? argc : 0));
  const apppass::Status s = apppass::ParseModuleOptions(args, &c.opts);
  if (!s.ok()) {
    Syslog(pamh, LOG_ERR, apppass::FormatEarlyRefusal(c.ctx(), "error", "bad-option", s.message()));
    return c;
  }
  if (!c.opts.scope.empty()) c.service = c.opts.scope;
  c.options_ok = true;
  return c;
}

// A line for a decision taken before the core's (FormatEarlyRefusal); in totp mode with
// factor=totp before the reason, as FormatCodeDecision writes it:
// "refused service=sshd user=alice rhost=- factor=totp reason=no-code detail=\"...\"".
std::string EarlyLine(const Call& c, std::string_view result, std::string_view reason,
                      std::string_view detail) {
  std::string line = apppass::FormatEarlyRefusal(c.ctx(), result, reason, detail);
  // The first " reason=" is the field: the values before it are escaped (no space, no '=').
  if (c.opts.totp) line.insert(line.find(" reason="), " factor=totp");
  return line;
}

// PAM_USER through pam_get_user (which may ask for it); false after logging the refusal.
bool GetUser(pam_handle_t* pamh, Call* c) {
  const char* user = nullptr;
  const int rc = pam_get_user(pamh, &user, nullptr);
  if (rc != PAM_SUCCESS || user == nullptr) {
    Syslog(pamh, LOG_NOTICE, EarlyLine(*c, "refused", "no-user", pam_strerror(pamh, rc)));
    return false;
  }
  c->user = user;
  return true;
}

// ---------------------------------------------------------------------------------------
// Password mode.

// The module's stores, kept across transactions (the module is linked -z nodelete):
// never destroyed, so nothing runs at exit or at a dlclose.
apppass::StoreCache& Cache() {
  static auto* cache = new apppass::StoreCache;
  return *cache;
}

// The decision of a module running as root, with the store this process keeps open
// (store_cache.h: four lstat calls when it is still the same, else opened again with
// every check of Store::Open). Only an accepted login touches the usage database.
apppass::AuthResult AuthenticateInProcess(const apppass::ModuleOptions& opts,
                                          const DecisionContext& ctx, const char* password) {
  std::shared_ptr<const apppass::CachedStore> cached;
  const apppass::Status s = Cache().Get(opts.db, &cached);
  apppass::RecordUse record_use;
  if (!opts.no_usage && cached != nullptr)
    record_use = [&opts, &cached](std::string_view id, const apppass::Usage& use) {
      return cached->RecordUse(id, use, opts.usage_interval);
    };
  return apppass::Authenticate({.store = cached != nullptr ? &cached->store() : nullptr,
                                .unavailable = s.message(),
                                .ctx = ctx,
                                .password = password,
                                .now = std::time(nullptr)},
                               record_use);
}

// unenrolled=ignore hands a refusal to the next module only when the verifier read the
// user's record and found no confirmed enrollment: never for an enrolled user, never for
// bad input (an empty password, say, whose enrollment was not looked up: pam_unix with
// nullok would let it in) and never for an unusable store (fail closed).
bool IgnorableRefusal(const apppass::Decision& d) {
  if (d.enrolled) return false;
  switch (d.outcome) {
    case apppass::Outcome::kUnknownUser:
    case apppass::Outcome::kWrongPassword:
    case apppass::Outcome::kRevoked:
    case apppass::Outcome::kExpired:
    case apppass::Outcome::kOutOfScope: return true;
    case apppass::Outcome::kAccepted:
    case apppass::Outcome::kBadInput:
    case apppass::Outcome::kUnavailable: break;
  }
  return false;
}

int PasswordMode(pam_handle_t* pamh, Call& c, bool via_broker) {
  if (!GetUser(pamh, &c)) return PAM_AUTH_ERR;
  const DecisionContext ctx = c.ctx();
  // pam_get_authtok honours use_first_pass / try_first_pass from our arguments.
  const char* password = nullptr;
  const int rc = pam_get_authtok(pamh, PAM_AUTHTOK, &password, nullptr);
  if (rc != PAM_SUCCESS || password == nullptr) {
    Syslog(pamh, LOG_NOTICE, EarlyLine(c, "refused", "no-password", pam_strerror(pamh, rc)));
    return PAM_AUTH_ERR;
  }

  const apppass::AuthResult r = via_broker
                                    ? apppass::AuthenticateViaBroker(c.opts.broker, ctx, password)
                                    : AuthenticateInProcess(c.opts, ctx, password);
  if (c.opts.unenrolled == UnenrolledPolicy::kIgnore && IgnorableRefusal(r.decision)) {
    // The refusal's own line is replaced by this one: one line per decision.
    Syslog(pamh, LOG_INFO, EarlyLine(c, "ignored", "not-enrolled", ""));
    return PAM_IGNORE;
  }
  for (const apppass::LogLine& line : r.log) Syslog(pamh, SyslogLevel(line.severity), line.text);
  if (r.decision.outcome == apppass::Outcome::kUnavailable) return PAM_AUTHINFO_UNAVAIL;
  if (r.decision.outcome != apppass::Outcome::kAccepted) return PAM_AUTH_ERR;

  char* copy = strdup(c.user.c_str());
  if (copy == nullptr || pam_set_data(pamh, kAcceptedUser, copy, FreeData) != PAM_SUCCESS) {
    std::free(copy);
    return PAM_BUF_ERR;
  }
  return PAM_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// totp mode.

// The answer to the code prompt, as the application's conversation allocated it; wiped
// and freed when done with.
class TypedCode {
 public:
  TypedCode() = default;
  TypedCode(const TypedCode&) = delete;
  TypedCode& operator=(const TypedCode&) = delete;
  ~TypedCode() { Wipe(); }

  void Take(char* answer) {
    Wipe();
    text_ = answer;
  }
  void Wipe() {
    if (text_ == nullptr) return;
    sodium_memzero(text_, std::strlen(text_));
    std::free(text_);
    text_ = nullptr;
  }
  bool empty() const { return text_ == nullptr; }
  std::string_view view() const { return text_ ? std::string_view(text_) : std::string_view(); }

 private:
  char* text_ = nullptr;
};

// Asks kCodePrompt, echo off, through the application's conversation (called directly, so
// that a failure is this module's one log line and nothing else). "" on success, else why
// not (for the log line; never the answer).
std::string AskCode(pam_handle_t* pamh, TypedCode* out) {
  const void* item = nullptr;
  int rc = pam_get_item(pamh, PAM_CONV, &item);
  const auto* conv = static_cast<const pam_conv*>(item);
  if (rc != PAM_SUCCESS || conv == nullptr || conv->conv == nullptr)
    return "the application has no conversation function";
  pam_message msg{};
  msg.msg_style = PAM_PROMPT_ECHO_OFF;
  msg.msg = kCodePrompt;
  const pam_message* msgs[1] = {&msg};
  pam_response* resp = nullptr;
  rc = conv->conv(1, msgs, &resp, conv->appdata_ptr);
  if (resp != nullptr) {  // ours to free, whatever rc says
    out->Take(resp[0].resp);
    std::free(resp);
  }
  if (rc != PAM_SUCCESS) {
    out->Wipe();
    return std::string("the conversation failed: ") + pam_strerror(pamh, rc);
  }
  if (out->empty()) return "the conversation gave no answer";
  return "";
}

// Whether `user` has a confirmed enrollment in the store, read as root. A name no record
// can have (InvalidArgument) is not enrolled, as apppassd answers ENROLLED for it.
apppass::Status EnrolledInStore(const apppass::Store& store, const std::string& user,
                                bool* enrolled) {
  *enrolled = false;
  if (!apppass::ValidateUserName(user).ok()) return apppass::Status::Ok();
  apppass::UserRecord rec;
  const apppass::Status s = apppass::MfaGet(store, user, &rec);
  *enrolled = s.ok() && rec.mfa == apppass::MfaState::kConfirmed;
  return s.ok() || s.IsNotFound() ? apppass::Status::Ok() : s;  // else: unusable, fail closed
}

int TotpCode(const CodeDecision& d) {
  if (apppass::CodePassed(d.outcome)) return PAM_SUCCESS;
  if (d.outcome == CodeOutcome::kUnavailable) return PAM_AUTHINFO_UNAVAIL;
  return PAM_AUTH_ERR;
}

int TotpLevel(const CodeDecision& d) {
  if (apppass::CodePassed(d.outcome)) return LOG_INFO;
  if (d.outcome == CodeOutcome::kUnavailable) return LOG_ERR;
  return LOG_NOTICE;
}

int TotpMode(pam_handle_t* pamh, Call& c, bool via_broker) {
  if (!GetUser(pamh, &c)) return PAM_AUTH_ERR;
  const DecisionContext ctx = c.ctx();
  auto decided = [&](CodeDecision d) {
    Syslog(pamh, TotpLevel(d), apppass::FormatCodeDecision(ctx, d));
    return TotpCode(d);
  };
  auto decide = [&](CodeOutcome o, std::string detail) {
    CodeDecision d;
    d.outcome = o;
    d.detail = std::move(detail);
    return decided(std::move(d));
  };

  // As root the store, opened before anything is asked (an unusable store need not wait
  // for the user to type).
  apppass::Store store;
  if (!via_broker) {
    // Opened per transaction for writing (a code is spent in the store). The password
    // mode's kept read-only store is let go first: the registry opens no writable
    // environment beside a read-only one on the same file (env_registry.h).
    Cache().Drop(c.opts.db);
    const apppass::Status s = apppass::Store::Open(c.opts.db, apppass::Store::Mode::kAdmin, &store);
    if (!s.ok()) return decide(CodeOutcome::kUnavailable, s.message());
  }
  // unenrolled=ignore: a user without a confirmed enrollment is not asked at all.
  if (c.opts.unenrolled == UnenrolledPolicy::kIgnore) {
    bool enrolled = false;
    const apppass::Status s = via_broker
                                  ? apppass::EnrolledViaBroker(c.opts.broker, c.user, &enrolled)
                                  : EnrolledInStore(store, c.user, &enrolled);
    if (!s.ok()) return decide(CodeOutcome::kUnavailable, s.message());
    if (!enrolled) {
      Syslog(pamh, LOG_INFO, EarlyLine(c, "ignored", "not-enrolled", ""));
      return PAM_IGNORE;
    }
  }

  TypedCode code;
  if (const std::string why = AskCode(pamh, &code); !why.empty()) {
    Syslog(pamh, LOG_NOTICE, EarlyLine(c, "refused", "no-code", why));
    return PAM_AUTH_ERR;
  }
  CodeDecision d =
      via_broker
          ? apppass::CheckLoginCodeViaBroker(c.opts.broker, c.user, code.view(), c.service, c.rhost)
          : apppass::CheckLoginCode(store, c.user, code.view(), std::time(nullptr));
  code.Wipe();
  return decided(std::move(d));
}

// ---------------------------------------------------------------------------------------

int Authenticate(pam_handle_t* pamh, int argc, const char** argv) {
  Call c = Begin(pamh, argc, argv);
  if (!c.options_ok) return PAM_SERVICE_ERR;
  // Only root may open the store; everyone else asks the broker.
  const bool via_broker = geteuid() != 0;
  const apppass::ModuleOptions& opts = c.opts;
  if (opts.debug)
    pam_syslog(pamh, LOG_AUTHPRIV | LOG_DEBUG,
               "debug db=%s scope=%s (from %s) usage=%s interval=%ld verify=%s%s mode=%s "
               "unenrolled=%s",
               opts.db.c_str(), c.service.c_str(),
               opts.scope.empty() ? "PAM_SERVICE" : "scope option", opts.no_usage ? "off" : "on",
               static_cast<long>(opts.usage_interval), via_broker ? "broker " : "in-process",
               via_broker ? opts.broker.c_str() : "", opts.totp ? "totp" : "password",
               opts.unenrolled == UnenrolledPolicy::kIgnore ? "ignore" : "deny");
  return opts.totp ? TotpMode(pamh, c, via_broker) : PasswordMode(pamh, c, via_broker);
}

// account=nss: the account state of whoever PAM_USER is.
int AccountNss(pam_handle_t* pamh, Call& c) {
  const char* user = nullptr;
  const int rc = pam_get_user(pamh, &user, nullptr);
  if (rc != PAM_SUCCESS || user == nullptr) {
    Syslog(pamh, LOG_NOTICE,
           apppass::FormatEarlyRefusal(c.ctx(), "refused", "no-user", pam_strerror(pamh, rc)));
    return PAM_USER_UNKNOWN;
  }
  c.user = user;
  const apppass::AccountCheck a = geteuid() == 0
                                      ? apppass::CheckAccount(c.user, std::time(nullptr))
                                      : apppass::CheckAccountViaBroker(c.opts.broker, c.user);
  const std::string_view name = apppass::AccountStateName(a.state);
  switch (a.state) {
    case apppass::AccountState::kOk: return PAM_SUCCESS;
    case apppass::AccountState::kUnknown:
      Syslog(pamh, LOG_NOTICE, apppass::FormatEarlyRefusal(c.ctx(), "refused", name, ""));
      return PAM_USER_UNKNOWN;
    case apppass::AccountState::kLocked:
      Syslog(pamh, LOG_NOTICE, apppass::FormatEarlyRefusal(c.ctx(), "refused", name, ""));
      return PAM_PERM_DENIED;
    case apppass::AccountState::kExpired:
      Syslog(pamh, LOG_NOTICE, apppass::FormatEarlyRefusal(c.ctx(), "refused", name, ""));
      return PAM_ACCT_EXPIRED;
    case apppass::AccountState::kUnavailable: break;
  }
  // acct_mgmt has no PAM_AUTHINFO_UNAVAIL: a state that cannot be read is a refusal.
  Syslog(pamh, LOG_ERR,
         apppass::FormatEarlyRefusal(c.ctx(), "error", "unavailable",
                                     a.detail.empty() ? "account state unknown" : a.detail));
  return PAM_AUTH_ERR;
}

int AcctMgmt(pam_handle_t* pamh, int argc, const char** argv) {
  Call c = Begin(pamh, argc, argv);
  if (!c.options_ok) return PAM_SERVICE_ERR;
  if (c.opts.account == AccountPolicy::kNss) return AccountNss(pamh, c);
  // account=none: only the user this module authenticated in this transaction.
  const void* data = nullptr;
  const char* user = nullptr;
  if (pam_get_data(pamh, kAcceptedUser, &data) != PAM_SUCCESS || data == nullptr) return PAM_IGNORE;
  if (pam_get_user(pamh, &user, nullptr) != PAM_SUCCESS || user == nullptr ||
      std::strcmp(user, static_cast<const char*>(data)) != 0)
    return PAM_IGNORE;
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

// account=none (the default): succeeds for the user this module authenticated in this
// transaction (Dovecot calls acct_mgmt right after authenticate). For anyone else it has
// no opinion (PAM_IGNORE): account policy belongs to pam_unix and friends, and a stack of
// only ignoring modules is denied by libpam. account=nss: see AccountNss.
__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int, int argc,
                                                            const char** argv) {
  try {
    return AcctMgmt(pamh, argc, argv);
  } catch (...) {
    Syslog(pamh, LOG_ERR, "error reason=internal detail=\"unexpected exception\"");
    return PAM_AUTH_ERR;
  }
}

}  // extern "C"
