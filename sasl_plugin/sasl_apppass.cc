// libapppass.so: a Cyrus SASL server plugin offering PLAIN and LOGIN verified against app
// passwords. A thin shim over the core verifier, like pam_apppass.so.
//
// libsasl2 loads it into every SASL server (Postfix smtpd, Cyrus IMAP, ...) that finds it
// in its plugin directory. It serves only applications whose SASL config names a store
// (apppass_db, see sasl_options.h); for every other application plug_init answers
// SASL_NOMECH and the stock PLAIN and LOGIN plugins stay in charge.
//
// Ranking. libsasl2 2.1.28 keeps all server mechanisms in one list sorted by mech_compare
// (lib/server.c: security flags, channel binding, max_ssf, then the hash strength kept in
// the upper bits of security_flags); sasl_server_new (with mech_list) and
// sasl_server_start take the first entry of a name, with no fallback. Our entries carry
// the stock PLAIN/LOGIN security flags plus a hash strength,
// SASL_SET_HASH_STRENGTH_BITS(256) (the keyed BLAKE2b-256 the store is indexed by), which
// the stock entries leave at 0. So ours sort first whatever order the plugins are loaded
// in, and an application's security properties select them exactly as the stock ones.
// Features are the stock ones too, except that PLAIN announces SASL_FEAT_ALLOWS_PROXY
// only when apppass_allow_authzid lets it carry another identity (features other than
// channel binding play no part in the ranking).
//
// Results:
//   SASL_OK        an active, unexpired app password of the user, valid for the service
//   SASL_BADAUTH   wrong, revoked, expired or out-of-scope password, unknown user, or a
//                  user name the verifier refuses (bad UTF-8, control characters)
//   SASL_NOAUTHZ   PLAIN with an authorization identity other than the user, unless
//                  apppass_allow_authzid is on
//   SASL_BADPROT   a malformed message (NUL separators, empty or over-long fields, NUL)
//   SASL_UNAVAIL   the store cannot be used (Postfix answers 454 4.7.0: try again later)
//   SASL_FAIL      the plugin's own configuration is wrong, or an internal error
//
// Fail closed. When the application's config names a store but an option is wrong or
// the store cannot be opened, plug_init still registers both mechanisms (so they still
// outrank the stock ones) in a failed state: every login is refused with SASL_FAIL or
// SASL_UNAVAIL and an "error ... reason=bad-option|unavailable" line. A login is never
// handed to another plugin. The state is fixed when plug_init runs (each new server
// process, e.g. after `postfix reload`), except after a fork (below).
//
// Process model. plug_init runs once per sasl_server_init, in Postfix's smtpd as root
// before it chroots and becomes user postfix: the store and the usage database are opened
// there and used through their open descriptors afterwards, so nothing needs to exist
// inside the chroot. LMDB environments must not be used across fork(): a process that
// forks after sasl_server_init reopens them in the child (or fails closed if it cannot).
// One decision at a time per process (a mutex; a decision costs microseconds).
//
// One log line per decision through the application's SASL log callback, "apppass: " and
// the format of decision_log.h: accepted at SASL_LOG_NOTE, refused at SASL_LOG_FAIL,
// error at SASL_LOG_ERR. (Postfix shows NOTE lines only when verbose. What plug_init
// logs goes to syslog, facility auth: libsasl has no connection, hence no application
// callback, at that point.) The password is never logged, never copied and never put in an error
// text. No exception leaves an entry point.
#include <fmt/format.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "decision_log.h"
#include "messages.h"
#include "sasl_options.h"
#include "secret.h"
#include "store.h"
#include "usage.h"
#include "verifier.h"

namespace {

using apppass::DecisionContext;
using apppass::MessageError;

constexpr const char* kPluginName = "apppass";
// Same as the stock plugins' flags, plus the tie-breaker that makes ours sort first.
constexpr unsigned kHashStrength = SASL_SET_HASH_STRENGTH_BITS(256);
constexpr unsigned kSecurityFlags =
    SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS | kHashStrength;
constexpr const char kUsernamePrompt[] = "Username:";  // LOGIN's prompts, as clients expect
constexpr const char kPasswordPrompt[] = "Password:";

// Every line carries the plugin's name: an application's SASL log mixes all plugins.
void Log(const sasl_utils_t* utils, int level, const std::string& line) {
  if (utils != nullptr && utils->log != nullptr)
    utils->log(utils->conn, level, "apppass: %s", line.c_str());
}

// The error text the application may show or log: fixed, never the input.
void SetError(const sasl_server_params_t* sp, const char* text) {
  // SASL_NOLOG: the decision line has been logged already.
  if (sp->utils->seterror != nullptr) sp->utils->seterror(sp->utils->conn, SASL_NOLOG, "%s", text);
}

// ---------------------------------------------------------------------------------------
// Global state: one per plug_init, shared by the PLAIN and LOGIN entries.

struct Global {
  // libsasl keeps pointers to these entries until it calls mech_free for each of them.
  sasl_server_plug_t plugs[2] = {};
  std::atomic<int> refs{2};
  apppass::SaslOptions opts;
  bool options_ok = false;

  std::mutex mu;  // guards everything below
  // Failing closed: SASL_FAIL (bad option) or SASL_UNAVAIL (store); SASL_OK when usable.
  int fail_code = SASL_FAIL;
  std::string fail_reason = "unavailable";  // "bad-option" or "unavailable"
  std::string fail_detail = "not initialized";
  pid_t pid = 0;  // the process that opened the store
  apppass::Store store;
  apppass::UsageDb usage;
  bool usage_open = false;
};

// Opens the store and usage database for this process. REQUIRES: g.mu held (or not yet
// shared), g.options_ok.
void OpenStore(Global& g, const sasl_utils_t* utils) {
  g.pid = getpid();
  g.usage_open = false;
  g.store = apppass::Store();
  g.usage = apppass::UsageDb();
  apppass::Status s = apppass::Store::Open(g.opts.db, apppass::Store::Mode::kVerify, &g.store);
  if (!s.ok()) {
    g.fail_code = SASL_UNAVAIL;
    g.fail_reason = "unavailable";
    g.fail_detail = s.message();
    Log(utils, SASL_LOG_ERR,
        fmt::format("cannot open the store: {}. PLAIN and LOGIN refuse every login "
                    "(they are not handed to other plugins) until the store can be opened "
                    "and the service is restarted",
                    s.message()));
    return;
  }
  g.fail_code = SASL_OK;
  g.fail_reason.clear();
  g.fail_detail.clear();
  if (!g.opts.usage) return;
  s = apppass::UsageDb::Open(g.opts.db, true, &g.usage);
  g.usage_open = s.ok();
  if (!s.ok())
    Log(utils, SASL_LOG_WARN,
        fmt::format("last use will not be recorded: {} (logins are not affected)", s.message()));
}

// LMDB environments do not survive fork(): a child reopens the store in its own name.
// REQUIRES: g.mu held.
void EnsureOwnProcess(Global& g, const sasl_utils_t* utils) {
  if (g.options_ok && g.pid != getpid()) OpenStore(g, utils);
}

// ---------------------------------------------------------------------------------------
// One connection.

enum class Mech { kPlain, kLogin };

struct Conn {
  Global* global = nullptr;
  Mech mech = Mech::kPlain;
  int step = 0;            // LOGIN: 0 start, 1 user name asked, 2 password asked, 3 done
  std::string login_user;  // LOGIN: the user name, until the password arrives
};

// Service (the scope checked) and remote host of a connection, for the decision.
struct Names {
  std::string service;
  std::string rhost;
};

Names NamesOf(const Global& g, const sasl_server_params_t* sp) {
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
int RefuseIfFailed(Global& g, const sasl_server_params_t* sp, const DecisionContext& ctx) {
  int code;
  std::string reason, detail;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    EnsureOwnProcess(g, sp->utils);
    if (g.fail_code == SASL_OK) return SASL_OK;
    code = g.fail_code;
    reason = g.fail_reason;
    detail = g.fail_detail;
  }
  Log(sp->utils, SASL_LOG_ERR, apppass::FormatEarlyRefusal(ctx, "error", reason, detail));
  SetError(sp, code == SASL_UNAVAIL ? "app password store unavailable"
                                    : "app password plugin misconfigured");
  return code;
}

int RefuseMessage(const sasl_server_params_t* sp, const DecisionContext& ctx, const MessageError& e,
                  const char* text) {
  Log(sp->utils, SASL_LOG_FAIL, apppass::FormatEarlyRefusal(ctx, "refused", e.reason, e.detail));
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
      apppass::FormatEarlyRefusal(
          ctx, "refused", "bad-input",
          fmt::format("the SASL library refused the {} (canon_user: {})",
                      (flags & SASL_CU_AUTHID) ? "user name" : "authorization identity", rc)));
  SetError(sp, "user name refused");
  return rc < 0 ? rc : SASL_FAIL;  // never a success or a continuation
}

// Verifies `password` for the (canonical) user in ctx, logs the decision, records the
// use, and maps the outcome to a SASL code.
int Decide(Global& g, const sasl_server_params_t* sp, const DecisionContext& ctx,
           std::string_view password, sasl_out_params_t* oparams) {
  const std::int64_t now = std::time(nullptr);
  apppass::Decision d;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    EnsureOwnProcess(g, sp->utils);
    if (g.fail_code != SASL_OK) {
      d.detail = g.fail_detail;  // outcome stays kUnavailable
    } else {
      d = apppass::Verify(g.store, ctx.user, password, ctx.service, now);
    }
    const bool accepted = d.outcome == apppass::Outcome::kAccepted;
    Log(sp->utils,
        accepted                                      ? SASL_LOG_NOTE
        : d.outcome == apppass::Outcome::kUnavailable ? SASL_LOG_ERR
                                                      : SASL_LOG_FAIL,
        apppass::FormatDecision(ctx, d));
    if (accepted && g.usage_open) {
      const apppass::Usage use{
          .time = now, .service = std::string(ctx.service), .rhost = std::string(ctx.rhost)};
      // Last use is bookkeeping, not a security control: the decision stands.
      const apppass::Status s = g.usage.Record(d.id, use, g.opts.usage_interval);
      if (!s.ok())
        Log(sp->utils, SASL_LOG_WARN,
            fmt::format("could not record last use of id={}: {}", d.id, s.message()));
    }
  }
  switch (d.outcome) {
    case apppass::Outcome::kAccepted:
      oparams->doneflag = 1;
      oparams->mech_ssf = 0;
      oparams->maxoutbuf = 0;
      oparams->encode_context = nullptr;
      oparams->encode = nullptr;
      oparams->decode_context = nullptr;
      oparams->decode = nullptr;
      oparams->param_version = 0;
      return SASL_OK;
    case apppass::Outcome::kUnavailable:
      SetError(sp, "app password store unavailable");
      return SASL_UNAVAIL;
    default:
      SetError(sp, "authentication failed");
      return SASL_BADAUTH;
  }
}

int PlainStep(Conn& c, sasl_server_params_t* sp, std::string_view in, sasl_out_params_t* oparams) {
  Global& g = *c.global;
  const Names names = NamesOf(g, sp);
  DecisionContext ctx{names.service, "", names.rhost};
  if (const int rc = RefuseIfFailed(g, sp, ctx); rc != SASL_OK) return rc;

  apppass::PlainMessage m;
  if (const auto e = apppass::ParsePlain(in, &m))
    return RefuseMessage(sp, ctx, *e, "malformed PLAIN message");
  ctx.user = m.authcid;
  // RFC 4616: an empty authzid, or one equal to authcid, means "act as myself".
  const bool other_identity = !m.authzid.empty() && m.authzid != m.authcid;
  if (other_identity && !g.opts.allow_authzid) {
    Log(sp->utils, SASL_LOG_FAIL,
        apppass::FormatEarlyRefusal(ctx, "refused", "authzid-not-allowed",
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
  return Decide(g, sp, ctx, m.password, oparams);
}

int LoginStep(Conn& c, sasl_server_params_t* sp, std::string_view in, const char** serverout,
              unsigned* serveroutlen, sasl_out_params_t* oparams) {
  Global& g = *c.global;
  const Names names = NamesOf(g, sp);
  DecisionContext ctx{names.service, "", names.rhost};
  if (const int rc = RefuseIfFailed(g, sp, ctx); rc != SASL_OK) return rc;

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
      if (const auto e = apppass::CheckLoginUser(in))
        return RefuseMessage(sp, ctx, *e, "malformed LOGIN user name");
      c.login_user.assign(in);
      *serverout = kPasswordPrompt;
      *serveroutlen = sizeof kPasswordPrompt - 1;
      c.step = 2;
      return SASL_CONTINUE;
    case 2: {
      c.step = 3;
      ctx.user = c.login_user;
      if (const auto e = apppass::CheckLoginPassword(in))
        return RefuseMessage(sp, ctx, *e, "malformed LOGIN password");
      const int rc = Canon(sp, ctx, c.login_user,
                           SASL_CU_AUTHID | SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED, oparams);
      if (rc != SASL_OK) return rc;
      const std::string user(oparams->authid, oparams->alen);
      ctx.user = user;
      return Decide(g, sp, ctx, in, oparams);
    }
    default:
      SetError(sp, "LOGIN exchange already finished");
      return SASL_BADPROT;
  }
}

// ---------------------------------------------------------------------------------------
// Entry points called by libsasl (through the table below). None lets an exception out.

int MechNew(Mech mech, void* glob_context, sasl_server_params_t* sp, void** conn_context) noexcept {
  if (sp == nullptr || conn_context == nullptr) return SASL_BADPARAM;
  if (glob_context == nullptr) {  // plug_init could not set up (see kFailClosedPlugs)
    Log(sp->utils, SASL_LOG_ERR,
        "error reason=internal detail=\"the plugin failed to initialize\"");
    return SASL_FAIL;
  }
  auto* c = new (std::nothrow) Conn;
  if (c == nullptr) return SASL_NOMEM;
  c->global = static_cast<Global*>(glob_context);
  c->mech = mech;
  *conn_context = c;
  return SASL_OK;
}

int PlainNew(void* glob, sasl_server_params_t* sp, const char*, unsigned, void** conn_context) {
  return MechNew(Mech::kPlain, glob, sp, conn_context);
}

int LoginNew(void* glob, sasl_server_params_t* sp, const char*, unsigned, void** conn_context) {
  return MechNew(Mech::kLogin, glob, sp, conn_context);
}

int MechStep(void* conn_context, sasl_server_params_t* sp, const char* clientin,
             unsigned clientinlen, const char** serverout, unsigned* serveroutlen,
             sasl_out_params_t* oparams) {
  if (conn_context == nullptr || sp == nullptr || serverout == nullptr || serveroutlen == nullptr ||
      oparams == nullptr)
    return SASL_BADPARAM;
  *serverout = nullptr;
  *serveroutlen = 0;
  const std::string_view in =
      clientin != nullptr ? std::string_view(clientin, clientinlen) : std::string_view();
  auto& c = *static_cast<Conn*>(conn_context);
  try {
    return c.mech == Mech::kPlain ? PlainStep(c, sp, in, oparams)
                                  : LoginStep(c, sp, in, serverout, serveroutlen, oparams);
  } catch (...) {
    *serverout = nullptr;
    *serveroutlen = 0;
    oparams->doneflag = 0;
    Log(sp->utils, SASL_LOG_ERR, "error reason=internal detail=\"unexpected exception\"");
    return SASL_FAIL;
  }
}

void MechDispose(void* conn_context, const sasl_utils_t*) {
  auto* c = static_cast<Conn*>(conn_context);
  if (c == nullptr) return;
  apppass::WipeString(c->login_user);  // not secret, but nothing lingers
  delete c;
}

void MechFree(void* glob_context, const sasl_utils_t*) {
  auto* g = static_cast<Global*>(glob_context);
  if (g != nullptr && g->refs.fetch_sub(1) == 1) delete g;
}

// Fills one table entry. PLAIN carries an authorization identity (ALLOWS_PROXY) only when
// apppass_allow_authzid permits one; otherwise features are the stock plugins'.
void FillPlugs(Global* g) {
  sasl_server_plug_t& plain = g->plugs[0];
  plain.mech_name = "PLAIN";
  plain.max_ssf = 0;
  plain.security_flags = kSecurityFlags;
  plain.features =
      SASL_FEAT_WANT_CLIENT_FIRST | (g->opts.allow_authzid ? SASL_FEAT_ALLOWS_PROXY : 0u);
  plain.glob_context = g;
  plain.mech_new = PlainNew;
  plain.mech_step = MechStep;
  plain.mech_dispose = MechDispose;
  plain.mech_free = MechFree;
  sasl_server_plug_t& login = g->plugs[1];
  login = plain;
  login.mech_name = "LOGIN";
  login.features = 0;
  login.mech_new = LoginNew;
}

// Registered when plug_init fails unexpectedly for an application that names a store:
// both mechanisms still outrank the stock ones and refuse every login (mech_new fails).
sasl_server_plug_t kFailClosedPlugs[2] = {
    {"PLAIN", 0, kSecurityFlags, SASL_FEAT_WANT_CLIENT_FIRST, nullptr, PlainNew, MechStep,
     MechDispose, MechFree, nullptr, nullptr, nullptr, nullptr, nullptr},
    {"LOGIN", 0, kSecurityFlags, 0, nullptr, LoginNew, MechStep, MechDispose, MechFree, nullptr,
     nullptr, nullptr, nullptr, nullptr},
};

// REQUIRES: `key` is NUL-terminated (the keys are string literals). Allocates nothing.
const char* GetOpt(const sasl_utils_t* utils, std::string_view key) {
  if (utils->getopt == nullptr) return nullptr;
  const char* value = nullptr;
  unsigned len = 0;
  if (utils->getopt(utils->getopt_context, kPluginName, key.data(), &value, &len) != SASL_OK)
    return nullptr;
  return value;
}

// Whether this application's config sets any of our options (then it means to use us).
bool Configured(const sasl_utils_t* utils) {
  for (std::string_view key : apppass::kSaslOptionKeys)
    if (GetOpt(utils, key) != nullptr) return true;
  return false;
}

int PlugInit(const sasl_utils_t* utils, sasl_server_plug_t** pluglist, int* plugcount) {
  auto* g = new Global;
  apppass::Status s = apppass::ParseSaslOptions(
      [utils](std::string_view key) { return GetOpt(utils, key); }, &g->opts);
  if (s.IsNotFound()) {  // not configured for this application: stay out of the way
    delete g;
    return SASL_NOMECH;
  }
  g->options_ok = s.ok();
  if (!s.ok()) {
    g->fail_code = SASL_FAIL;
    g->fail_reason = "bad-option";
    g->fail_detail = s.message();
    Log(utils, SASL_LOG_ERR,
        fmt::format("bad option: {}. PLAIN and LOGIN refuse every login (they are not "
                    "handed to other plugins) until the SASL config is fixed",
                    s.message()));
  } else {
    OpenStore(*g, utils);
  }
  const char* mech_list = GetOpt(utils, "mech_list");
  if (mech_list == nullptr) {
    Log(utils, SASL_LOG_WARN,
        "mech_list is not set, so every installed mechanism is offered; CRAM-MD5, "
        "DIGEST-MD5, SCRAM-* and the like never accept app passwords: set mech_list: PLAIN LOGIN");
  } else if (const auto foreign = apppass::ForeignMechanisms(mech_list); !foreign.empty()) {
    Log(utils, SASL_LOG_WARN,
        fmt::format("mech_list also names {}, which this plugin does not provide and "
                    "which never accept app passwords",
                    fmt::join(foreign, " ")));
  }
  if (g->opts.debug)
    Log(utils, SASL_LOG_NOTE,
        fmt::format("PLAIN LOGIN db={} scope={} allow_authzid={} usage={} "
                    "usage_interval={} state={}",
                    g->opts.db, g->opts.scope.empty() ? "(service)" : g->opts.scope,
                    g->opts.allow_authzid ? "yes" : "no", g->usage_open ? "on" : "off",
                    g->opts.usage_interval, g->fail_code == SASL_OK ? "ok" : g->fail_reason));
  FillPlugs(g);
  *pluglist = g->plugs;
  *plugcount = 2;
  return SASL_OK;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int sasl_server_plug_init(const sasl_utils_t* utils,
                                                                 int maxversion, int* out_version,
                                                                 sasl_server_plug_t** pluglist,
                                                                 int* plugcount) {
  if (utils == nullptr || out_version == nullptr || pluglist == nullptr || plugcount == nullptr)
    return SASL_BADPARAM;
  if (maxversion < SASL_SERVER_PLUG_VERSION) {
    Log(utils, SASL_LOG_ERR, "libsasl2 too old (server plugin API < 4)");
    return SASL_BADVERS;
  }
  *out_version = SASL_SERVER_PLUG_VERSION;
  if (!Configured(utils)) return SASL_NOMECH;  // leave this application to other plugins
  try {
    return PlugInit(utils, pluglist, plugcount);
  } catch (...) {
    // The application names a store: fail closed rather than fall back to stock PLAIN.
    Log(utils, SASL_LOG_ERR,
        "error reason=internal detail=\"plugin initialization failed\"; PLAIN and LOGIN "
        "refuse every login");
    *pluglist = kFailClosedPlugs;
    *plugcount = 2;
    return SASL_OK;
  }
}

}  // extern "C"
