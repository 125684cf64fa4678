#include "sasl_mechs.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "account.h"
#include "authenticate.h"
#include "authenticate_broker.h"
#include "decision_log.h"
#include "messages.h"
#include "pwcheck.h"
#include "sasl_log.h"
#include "second_factor_broker.h"
#include "text.h"

namespace apppass::sasl {

namespace {

constexpr const char kUsernamePrompt[] = "Username:";  // LOGIN's prompts, as clients expect
constexpr const char kPasswordPrompt[] = "Password:";

// Service (the scope checked) and remote host of a connection, for the decision.
struct Names {
  std::string service;
  std::string rhost;
};

Names NamesOf(const Plugin& g, const sasl_server_params_t* sp) {
  Names n;
  n.service = !g.opts.scope.empty() ? g.opts.scope : sp->service != nullptr ? sp->service : "";
  if (sp->ipremoteport != nullptr) {
    // "192.0.2.7;43216": the address is what comes before the ';'.
    const std::string_view ipp(sp->ipremoteport, strnlen(sp->ipremoteport, 128));
    n.rhost = std::string(ipp.substr(0, ipp.find(';')));
  }
  return n;
}

// Refuses when the plugin is failing closed. SASL_OK when usable.
int RefuseIfFailed(const ProcessState& st, const sasl_server_params_t* sp,
                   const DecisionContext& ctx) {
  if (st.fail_code == SASL_OK) return SASL_OK;
  Log(sp->utils, SASL_LOG_ERR, FormatEarlyRefusal(ctx, "error", st.fail_reason, st.fail_detail));
  SetError(sp, st.fail_code == SASL_UNAVAIL ? "app password store unavailable"
                                            : "app password plugin misconfigured");
  return st.fail_code;
}

int RefuseMessage(const sasl_server_params_t* sp, const DecisionContext& ctx, const MessageError& e,
                  const char* text) {
  Log(sp->utils, SASL_LOG_FAIL, FormatEarlyRefusal(ctx, "refused", e.reason, e.detail));
  SetError(sp, text);
  return SASL_BADPROT;
}

// Canonicalizes a name through the library (whitespace trimmed, realm, canon plugins).
int Canon(const sasl_server_params_t* sp, const DecisionContext& ctx, std::string_view name,
          unsigned flags, sasl_out_params_t* oparams) {
  if (sp->canon_user == nullptr) return SASL_FAIL;
  const int rc = sp->canon_user(sp->utils->conn, name.data(), static_cast<unsigned>(name.size()),
                                flags, oparams);
  if (rc == SASL_OK) return rc;
  Log(sp->utils, SASL_LOG_FAIL,
      FormatEarlyRefusal(
          ctx, "refused", "bad-input",
          fmt::format("the SASL library refused the {} (canon_user: {})",
                      (flags & SASL_CU_AUTHID) ? "user name" : "authorization identity", rc)));
  SetError(sp, "user name refused");
  return rc < 0 ? rc : SASL_FAIL;  // never a success or a continuation
}

// The decision of a process that opened the store: the core call, which also records
// the use.
AuthResult AuthenticateInProcess(const Plugin& g, const ProcessState& st,
                                 const DecisionContext& ctx, std::string_view password) {
  RecordUse record_use;
  if (st.usage_open)
    record_use = [&g, &st](std::string_view id, const Usage& use) {
      return st.usage.Record(id, use, g.opts.usage_interval);
    };
  return Authenticate({.store = st.fail_code == SASL_OK ? &st.store : nullptr,
                       .unavailable = st.fail_detail,
                       .ctx = ctx,
                       .password = password,
                       .now = std::time(nullptr)},
                      record_use);
}

// Marks the exchange done: the client is authenticated (canon_user has set the names).
int Done(sasl_out_params_t* oparams) {
  oparams->doneflag = 1;
  oparams->mech_ssf = 0;
  oparams->maxoutbuf = 0;
  oparams->encode_context = nullptr;
  oparams->encode = nullptr;
  oparams->decode_context = nullptr;
  oparams->decode = nullptr;
  oparams->param_version = 0;
  return SASL_OK;
}

// apppass_unenrolled: pwcheck: the application's own password check decides (pwcheck.h),
// with its own line (path=pwcheck) instead of the app-password decision's.
int DecideByPwcheck(const sasl_server_params_t* sp, const DecisionContext& ctx,
                    std::string_view password, sasl_out_params_t* oparams) {
  const PwcheckResult r = Pwcheck(sp, ctx.user, password);
  switch (r.outcome) {
    case PwcheckOutcome::kAccepted:
      Log(sp->utils, SASL_LOG_NOTE, FormatPwcheckDecision(ctx, r));
      return Done(oparams);
    case PwcheckOutcome::kUnavailable:
      Log(sp->utils, SASL_LOG_ERR, FormatPwcheckDecision(ctx, r));
      SetError(sp, "password check unavailable");
      return SASL_UNAVAIL;
    default:  // wrong password, or a user the application's backend does not know
      Log(sp->utils, SASL_LOG_FAIL, FormatPwcheckDecision(ctx, r));
      SetError(sp, "authentication failed");
      return SASL_BADAUTH;
  }
}

// apppass_account: nss, after an accepted app password: whether the user's system account
// is still usable (account.h). As root (a server that is still root when it verifies) in
// this process; otherwise (Postfix's smtpd, chrooted as user postfix) apppassd answers.
AccountCheck CheckAccountNow(const Plugin& g, std::string_view user) {
  if (geteuid() == 0) return CheckAccount(user, std::time(nullptr));
  return CheckAccountViaBroker(g.opts.broker, user);
}

// Decides `password` for the (canonical) user in ctx, in this process or through the
// broker (either logs the decision; the store or the daemon records the use), and maps
// the outcome to a SASL code. One line per login: the app-password decision's, or instead
// the password check's (apppass_unenrolled: pwcheck) or the account check's refusal.
int Decide(const Plugin& g, const ProcessState& st, const sasl_server_params_t* sp,
           const DecisionContext& ctx, std::string_view password, sasl_out_params_t* oparams) {
  const AuthResult r = st.via_broker ? AuthenticateViaBroker(g.opts.broker, ctx, password)
                                     : AuthenticateInProcess(g, st, ctx, password);
  const Decision& d = r.decision;
  // Not an app password of a user without a confirmed enrollment: the migration path.
  // An enrolled user never gets here, nor does a store that cannot be read.
  if (g.opts.pwcheck && !d.enrolled && d.outcome != Outcome::kAccepted &&
      d.outcome != Outcome::kUnavailable)
    return DecideByPwcheck(sp, ctx, password, oparams);
  if (d.outcome == Outcome::kAccepted && g.opts.account_nss) {
    const AccountCheck a = CheckAccountNow(g, ctx.user);
    if (a.state != AccountState::kOk) {
      const bool error = a.state == AccountState::kUnavailable;
      // "refused service=smtp user=alice rhost=... reason=account-locked id=... name=..."
      std::string line =
          FormatEarlyRefusal(ctx, error ? "error" : "refused", AccountStateName(a.state), "") +
          fmt::format(" id={} name={}", LogSafe(d.id), LogSafe(d.name, 64));
      if (!a.detail.empty()) line += " detail=" + LogQuoted(a.detail);
      Log(sp->utils, error ? SASL_LOG_ERR : SASL_LOG_FAIL, line);
      if (error) {
        SetError(sp, "account check unavailable");
        return SASL_UNAVAIL;
      }
      SetError(sp, "account not usable");
      return SASL_NOAUTHZ;
    }
  }
  for (const LogLine& line : r.log) Log(sp->utils, SaslLevel(line.severity), line.text);
  switch (d.outcome) {
    case Outcome::kAccepted: return Done(oparams);
    case Outcome::kUnavailable: SetError(sp, "app password store unavailable"); return SASL_UNAVAIL;
    default: SetError(sp, "authentication failed"); return SASL_BADAUTH;
  }
}

}  // namespace

int PlainStep(Conn& c, sasl_server_params_t* sp, std::string_view in, sasl_out_params_t* oparams) {
  Plugin& g = *c.plugin;
  const Names names = NamesOf(g, sp);
  DecisionContext ctx{names.service, "", names.rhost};
  const std::shared_ptr<const ProcessState> st = g.state.Current(g.opts, sp->utils);
  if (const int rc = RefuseIfFailed(*st, sp, ctx); rc != SASL_OK) return rc;

  PlainMessage m;
  if (const auto e = ParsePlain(in, &m))
    return RefuseMessage(sp, ctx, *e, "malformed PLAIN message");
  ctx.user = m.authcid;
  // RFC 4616: an empty authzid, or one equal to authcid, means "act as myself".
  const bool other_identity = !m.authzid.empty() && m.authzid != m.authcid;
  if (other_identity && !g.opts.allow_authzid) {
    Log(sp->utils, SASL_LOG_FAIL,
        FormatEarlyRefusal(ctx, "refused", "authzid-not-allowed",
                           "PLAIN authorization identity differs from the user "
                           "(apppass_allow_authzid is off)"));
    SetError(sp, "authorization identity not permitted");
    return SASL_NOAUTHZ;
  }
  // EXTERNALLY_VERIFIED: this plugin verifies the password, so an auxprop plugin that
  // does not know the user (sasldb) is no reason to fail.
  const unsigned flags =
      SASL_CU_AUTHID | SASL_CU_EXTERNALLY_VERIFIED | (other_identity ? 0u : SASL_CU_AUTHZID);
  int rc = Canon(sp, ctx, m.authcid, flags, oparams);
  if (rc != SASL_OK) return rc;
  if (other_identity && (rc = Canon(sp, ctx, m.authzid, SASL_CU_AUTHZID, oparams)) != SASL_OK)
    return rc;
  // The canonical name is the one verified, and the one the application will see.
  const std::string user(oparams->authid, oparams->alen);
  ctx.user = user;
  return Decide(g, *st, sp, ctx, m.password, oparams);
}

int LoginStep(Conn& c, sasl_server_params_t* sp, std::string_view in, const char** serverout,
              unsigned* serveroutlen, sasl_out_params_t* oparams) {
  Plugin& g = *c.plugin;
  const Names names = NamesOf(g, sp);
  DecisionContext ctx{names.service, "", names.rhost};
  const std::shared_ptr<const ProcessState> st = g.state.Current(g.opts, sp->utils);
  if (const int rc = RefuseIfFailed(*st, sp, ctx); rc != SASL_OK) return rc;

  switch (c.step) {
    case 0:
      if (in.empty()) {
        *serverout = kUsernamePrompt;
        *serveroutlen = sizeof kUsernamePrompt - 1;
        c.step = 1;
        return SASL_CONTINUE;
      }
      [[fallthrough]];  // an initial response is the user name
    case 1:
      c.step = 3;
      if (const auto e = CheckLoginUser(in))
        return RefuseMessage(sp, ctx, *e, "malformed LOGIN user name");
      c.login_user.assign(in);
      *serverout = kPasswordPrompt;
      *serveroutlen = sizeof kPasswordPrompt - 1;
      c.step = 2;
      return SASL_CONTINUE;
    case 2: {
      c.step = 3;
      ctx.user = c.login_user;
      if (const auto e = CheckLoginPassword(in))
        return RefuseMessage(sp, ctx, *e, "malformed LOGIN password");
      const int rc = Canon(sp, ctx, c.login_user,
                           SASL_CU_AUTHID | SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED, oparams);
      if (rc != SASL_OK) return rc;
      const std::string user(oparams->authid, oparams->alen);
      ctx.user = user;
      return Decide(g, *st, sp, ctx, in, oparams);
    }
    default: SetError(sp, "LOGIN exchange already finished"); return SASL_BADPROT;
  }
}

}  // namespace apppass::sasl
