// libapppass.so: a Cyrus SASL server plugin offering PLAIN and LOGIN verified against app
// passwords. A thin shim over the core call (authenticate.h), like pam_apppass.so: this
// file holds the entry points and plug_init; sasl_options.h the options, sasl_state.h the
// per-process state and its locking, sasl_mechs.h the PLAIN and LOGIN exchanges,
// messages.h the checks of the client's messages, sasl_log.h the application's logger.
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
// Users without MFA (issue 12): with apppass_unenrolled: pwcheck, a user without a
// confirmed enrollment whose password is not an app password of theirs is checked by
// libsasl's own checkpass, the application's pwcheck_method, in a child process with a
// 10 s bound (pwcheck.h); enrolled users log in with app passwords only, whatever the
// option. With apppass_account: nss an accepted app password is refused when the user's
// system account is unknown, locked or expired (common/account.h; as root in process,
// else through apppassd).
//
// Results:
//   SASL_OK        an active, unexpired app password of the user, valid for the service;
//                  or, under apppass_unenrolled: pwcheck, the password the application's
//                  check accepts for a user without confirmed MFA
//   SASL_BADAUTH   wrong, revoked, expired or out-of-scope password, unknown user, or a
//                  user name the verifier refuses (bad UTF-8, control characters); or a
//                  password the application's check refuses (pwcheck)
//   SASL_NOAUTHZ   PLAIN with an authorization identity other than the user, unless
//                  apppass_allow_authzid is on; or a right app password whose account is
//                  unknown, locked or expired (apppass_account: nss): the credentials are
//                  right, the identity may not be used
//   SASL_BADPROT   a malformed message (NUL separators, empty or over-long fields, NUL)
//   SASL_UNAVAIL   the store cannot be used, or apppassd does not answer right within
//                  1.5 s (Postfix answers 454 4.7.0: try again later); the application's
//                  password check fails or does not answer within 10 s; the account
//                  check cannot be made
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
// A process that is not root at plug_init (Cyrus IMAP as cyrus, saslauthd-less setups)
// cannot open the root-only store: every login of it is verified by apppassd over
// apppass_broker (authenticate_broker.h), within 1.5 s, and SASL_UNAVAIL when the
// daemon is not running, hangs or answers garbage (sasl_state.h).
//
// Locking (sasl_state.h): logins of one process run in parallel. A mutex guards only the
// per-process state (the fork check, the reopen in a forked child, the failed state),
// held for a pointer copy; a login verifies, spends Verify's time floor and records last
// use outside it, on a snapshot of that state that no reopen can free under it.
//
// One log line per decision through the application's SASL log callback, "apppass: " and
// the format of decision_log.h (a login the password check decided adds path=pwcheck): accepted at
// SASL_LOG_NOTE, refused at SASL_LOG_FAIL, error at SASL_LOG_ERR, as the PAM module's info, notice
// and err (authenticate.h); a last use that cannot be recorded adds a SASL_LOG_WARN line. (Postfix
// shows NOTE lines only when verbose. What plug_init logs goes to syslog, facility auth: libsasl
// has no connection, hence no application callback, at that point.) The password is never logged,
// never copied and never put in an error text. No exception leaves an entry point.
#include <fmt/format.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <new>
#include <string>
#include <string_view>

#include "sasl_log.h"
#include "sasl_mechs.h"
#include "sasl_options.h"
#include "sasl_state.h"
#include "secret.h"

namespace {

using apppass::sasl::Conn;
using apppass::sasl::Log;
using apppass::sasl::Mech;
using apppass::sasl::Plugin;

constexpr const char* kPluginName = "apppass";
// Same as the stock plugins' flags, plus the tie-breaker that makes ours sort first.
constexpr unsigned kHashStrength = SASL_SET_HASH_STRENGTH_BITS(256);
constexpr unsigned kSecurityFlags =
    SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS | kHashStrength;

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
  c->plugin = static_cast<Plugin*>(glob_context);
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
    return c.mech == Mech::kPlain
               ? apppass::sasl::PlainStep(c, sp, in, oparams)
               : apppass::sasl::LoginStep(c, sp, in, serverout, serveroutlen, oparams);
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
  auto* g = static_cast<Plugin*>(glob_context);
  if (g != nullptr && g->refs.fetch_sub(1) == 1) delete g;
}

// Fills one table entry. PLAIN carries an authorization identity (ALLOWS_PROXY) only when
// apppass_allow_authzid permits one; otherwise features are the stock plugins'.
void FillPlugs(Plugin* g) {
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
  auto* g = new Plugin;
  const apppass::Status s = apppass::ParseSaslOptions(
      [utils](std::string_view key) { return GetOpt(utils, key); }, &g->opts);
  if (s.IsNotFound()) {  // not configured for this application: stay out of the way
    delete g;
    return SASL_NOMECH;
  }
  g->state.Init(g->opts, s, utils);
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
  if (g->opts.debug) {
    const auto st = g->state.Current(g->opts, utils);
    Log(utils, SASL_LOG_NOTE,
        fmt::format("PLAIN LOGIN db={} scope={} allow_authzid={} unenrolled={} account={} "
                    "usage={} usage_interval={} verify={} state={}",
                    g->opts.db, g->opts.scope.empty() ? "(service)" : g->opts.scope,
                    g->opts.allow_authzid ? "yes" : "no", g->opts.pwcheck ? "pwcheck" : "deny",
                    g->opts.account_nss ? "nss" : "none",
                    st->via_broker   ? "(broker)"
                    : st->usage_open ? "on"
                                     : "off",
                    g->opts.usage_interval,
                    st->via_broker ? "broker " + g->opts.broker : std::string("in-process"),
                    st->fail_code == SASL_OK ? "ok" : st->fail_reason));
  }
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
