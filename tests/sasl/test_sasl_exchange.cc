// In-process test of libapppass.so through libsasl2's own server and client APIs: the
// stock client PLAIN and LOGIN plugins talk to the server side, which loads our plugin
// (and, for the ranking checks, the stock server plugins too) from a plugin path and
// reads the application's config (APPNAME.conf) from a directory of this test's own.
//
//   test_sasl_exchange PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2
//
// The store is made with the real admin tool. The stock plugins are given a sasldb with
// a password for alice, so that "the stock PLAIN would have accepted this" is observable:
// an application configured with apppass_db must refuse that password (ours served it),
// whatever the order of the plugin directories, and an application without apppass_db
// must accept it (the stock one served it). sasl_server_init is once per process, so each
// application runs in a child process of its own.
#include <sys/stat.h>
#include <syslog.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <thread>

#include "../lib/in_child.h"
#include "../lib/sasl_app.h"
#include "../lib/sasl_client.h"
#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"

// What a plugin logs to syslog while plug_init runs is captured too
// (tests/lib/sasl_syslog_capture.cc).

namespace {

using namespace sasltest;
using namespace testlib;

struct Setup : AppDirs {
  Cred any, smtp, imap, revoked, expired, nousage;
  std::string stock_secret = "Stock-Secret-4711";
  std::vector<std::string> secrets;  // every password, in the forms a log could show
};
Setup S;

// Checks one exchange: the result code, a log line containing `needle` (when given),
// exactly `decisions` decision lines, and no password in any log line or error text.
void Expect(const std::string& name, const Result& r, int want, const std::string& needle = "",
            int decisions = 1) {
  std::string why;
  if (r.rc != want) why = "got " + CodeName(r.rc) + ", want " + CodeName(want);
  const auto n = std::count_if(r.log.begin(), r.log.end(), IsDecisionLine);
  if (why.empty() && n != decisions)
    why = std::to_string(n) + " decision lines logged, want " + std::to_string(decisions);
  if (why.empty() && !needle.empty() &&
      std::none_of(r.log.begin(), r.log.end(),
                   [&](const std::string& l) { return Contains(l, needle); }))
    why = "no log line contains '" + needle + "'";
  ReportExchange(name, r, S.secrets, why);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Spaced(std::string s) {
  std::replace(s.begin(), s.end(), '-', ' ');
  return s;
}

bool InitLogHas(std::string_view needle) {
  return std::any_of(g_log.begin(), g_log.end(),
                     [&](const std::string& l) { return Contains(l, needle); });
}

// ---------------------------------------------------------------------------------------
// Applications. Each runs in its own process; `path` is the server's plugin path.

const char* kMechList = "mech_list: PLAIN LOGIN\n";

std::string StoreLine() { return "apppass_db: " + S.store + "\n"; }
std::string SasldbLines() {
  return "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: " + S.sasldb + "\n";
}

void StartApp(const std::string& app, const std::string& path, const std::string& conf) {
  WriteFile(S.conf + "/" + app + ".conf", conf);
  g_harness.server_path = path;
  g_harness.client_path = S.stock;
  g_harness.conf_dir = S.conf;
  g_harness.appname = app;
  g_harness.proxy_user = "alice";
  g_harness.proxy_target = "shared";
  InitSasl(true);
}

void ExpectMechList(const std::string& want) {
  ServerConn c;
  const std::string got = c.MechList();
  Report(got == want, "mechanisms offered: " + want, "got '" + got + "'");
}

void AppApppass() {
  StartApp("apppass", S.ours, std::string(kMechList) + StoreLine());
  ExpectMechList("PLAIN LOGIN");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    const std::string m = mech + ": ";
    Result r = Authenticate(mech, "alice", S.any.password);
    Expect(m + "unscoped app password accepted", r, SASL_OK,
           "accepted service=smtp user=alice rhost=192.0.2.7 id=" + S.any.id + " name=any-service");
    Report(r.username == "alice" && r.authuser == "alice",
           m + "SASL_USERNAME and SASL_AUTHUSER are alice",
           "got '" + r.username + "', '" + r.authuser + "'");
    Expect(m + "smtp-scoped app password accepted", Authenticate(mech, "alice", S.smtp.password),
           SASL_OK, "accepted service=smtp user=alice rhost=192.0.2.7 id=" + S.smtp.id);
    Expect(m + "upper case, spaces for dashes: accepted",
           Authenticate(mech, "alice", Spaced(Upper(S.any.password))), SASL_OK,
           "accepted service=smtp user=alice");
    Expect(m + "wrong app password refused",
           Authenticate(mech, "alice", "abcd-efgh-jkmn-pqrs-tuvw"), SASL_BADAUTH,
           "refused service=smtp user=alice rhost=192.0.2.7 reason=wrong-password");
    Expect(m + "revoked app password refused", Authenticate(mech, "alice", S.revoked.password),
           SASL_BADAUTH,
           "refused service=smtp user=alice rhost=192.0.2.7 reason=revoked id=" + S.revoked.id);
    Expect(m + "expired app password refused", Authenticate(mech, "alice", S.expired.password),
           SASL_BADAUTH,
           "refused service=smtp user=alice rhost=192.0.2.7 reason=expired id=" + S.expired.id);
    Expect(m + "imap-only app password refused on smtp",
           Authenticate(mech, "alice", S.imap.password), SASL_BADAUTH,
           "refused service=smtp user=alice rhost=192.0.2.7 reason=out-of-scope id=" + S.imap.id);
    Expect(m + "another user's app password refused", Authenticate(mech, "bob", S.any.password),
           SASL_BADAUTH, "refused service=smtp user=bob rhost=192.0.2.7 reason=wrong-password");
    Expect(m + "unknown user refused", Authenticate(mech, "nosuchuser", S.any.password),
           SASL_BADAUTH,
           "refused service=smtp user=nosuchuser rhost=192.0.2.7 reason=unknown-user");
    Expect(m + "the user's real (non-app) password refused",
           Authenticate(mech, "alice", S.stock_secret), SASL_BADAUTH, "reason=wrong-password");
  }
  Expect("PLAIN: authzid equal to the user accepted",
         Authenticate("PLAIN", "alice", S.any.password, "alice"), SASL_OK,
         "accepted service=smtp user=alice");
  const int proxy_calls = g_harness.proxy_calls;
  Expect("PLAIN: another authzid refused (apppass_allow_authzid off)",
         Authenticate("PLAIN", "alice", S.any.password, "shared"), SASL_NOAUTHZ,
         "refused service=smtp user=alice rhost=192.0.2.7 reason=authzid-not-allowed");
  Report(g_harness.proxy_calls == proxy_calls,
         "PLAIN: ... before the application's proxy policy is asked");
  Expect("PLAIN: no client address: rhost=-",
         Authenticate("PLAIN", "alice", S.smtp.password, "", nullptr), SASL_OK,
         "accepted service=smtp user=alice rhost=- id=" + S.smtp.id);

  // LMDB environments do not survive fork(): a child process reopens the store.
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    const Result r = Authenticate("PLAIN", "alice", S.any.password);
    const bool ok =
        r.rc == SASL_OK && std::any_of(r.log.begin(), r.log.end(), [](const std::string& l) {
          return l.starts_with("apppass: accepted ");
        });
    _exit(ok ? 0 : 1);  // the child's leftovers are the fork's, not the plugin's
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  Report(WIFEXITED(st) && WEXITSTATUS(st) == 0,
         "a process forked after sasl_server_init authenticates");
  Expect("the parent still authenticates after the child did",
         Authenticate("LOGIN", "alice", S.any.password), SASL_OK,
         "accepted service=smtp user=alice");
  DoneSasl(true);
}

// Ours must serve an application configured with apppass_db whatever the plugin order.
void AppRanking(const std::string& app, const std::string& path, bool mech_list) {
  StartApp(app, path, (mech_list ? std::string(kMechList) : "") + StoreLine() + SasldbLines());
  const std::string p = app + ": ";
  if (mech_list) {
    ExpectMechList("PLAIN LOGIN");
  } else {
    Report(InitLogHas("syslog: apppass: mech_list is not set"),
           p + "warns (in syslog) that mech_list is not set");
  }
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    Expect(p + mech + " refuses the sasldb password the stock plugin would accept",
           Authenticate(mech, "alice", S.stock_secret), SASL_BADAUTH,
           "refused service=smtp user=alice rhost=192.0.2.7 reason=wrong-password");
    Expect(p + mech + " accepts the app password", Authenticate(mech, "alice", S.any.password),
           SASL_OK, "accepted service=smtp user=alice rhost=192.0.2.7 id=" + S.any.id);
  }
  DoneSasl(true);
}

// An application without apppass_db keeps the stock plugins.
void AppStock() {
  StartApp("stock", S.ours + ":" + S.stock, std::string(kMechList) + SasldbLines());
  ExpectMechList("PLAIN LOGIN");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    Expect("stock app: " + mech + " accepts the sasldb password (the stock plugin serves it)",
           Authenticate(mech, "alice", S.stock_secret), SASL_OK, "", 0);
    const Result r = Authenticate(mech, "alice", S.any.password);
    Report(r.rc != SASL_OK && std::none_of(r.log.begin(), r.log.end(), IsDecisionLine),
           "stock app: " + mech + " knows nothing of app passwords (and apppass logs nothing)",
           "got " + CodeName(r.rc));
  }
  // (libsasl itself notes at debug level that our plug_init answered SASL_NOMECH.)
  Report(std::none_of(g_log.begin(), g_log.end(),
                      [](const std::string& l) {
                        return l.starts_with("apppass:") || l.starts_with("syslog: apppass:");
                      }),
         "stock app: the apppass plugin stayed silent");
  DoneSasl(true);
}

void AppScope() {
  StartApp("scoped", S.ours, std::string(kMechList) + StoreLine() + "apppass_scope: imap\n");
  Expect("apppass_scope imap: an imap-only password is accepted on smtp",
         Authenticate("PLAIN", "alice", S.imap.password), SASL_OK,
         "accepted service=imap user=alice rhost=192.0.2.7 id=" + S.imap.id);
  Expect("apppass_scope imap: an smtp-only password is refused",
         Authenticate("LOGIN", "alice", S.smtp.password), SASL_BADAUTH,
         "refused service=imap user=alice rhost=192.0.2.7 reason=out-of-scope");
  DoneSasl(true);
}

// Like the stock PLAIN, an authorization identity is canonicalized by the library, which
// wants an auxprop plugin that knows it (here sasldb, which has "shared" and "root"), and
// then authorized by the application's proxy policy (here: alice may act as "shared").
void AppAuthzid() {
  StartApp("authzid", S.ours + ":" + S.stock,
           std::string(kMechList) + StoreLine() + SasldbLines() + "apppass_allow_authzid: yes\n");
  const Result r = Authenticate("PLAIN", "alice", S.any.password, "shared");
  Expect("apppass_allow_authzid: authzid allowed by the proxy policy accepted", r, SASL_OK,
         "accepted service=smtp user=alice");
  Report(r.username == "shared" && r.authuser == "alice",
         "apppass_allow_authzid: SASL_USERNAME=shared, SASL_AUTHUSER=alice",
         "got '" + r.username + "', '" + r.authuser + "'");
  const int calls = g_harness.proxy_calls;
  Expect("apppass_allow_authzid: the application's proxy policy still refuses others",
         Authenticate("PLAIN", "alice", S.any.password, "root"), SASL_NOAUTHZ,
         "accepted service=smtp user=alice");
  Report(g_harness.proxy_calls > calls, "apppass_allow_authzid: the proxy policy was asked");
  Expect("apppass_allow_authzid: a wrong password is still refused",
         Authenticate("PLAIN", "alice", "abcd-efgh-jkmn-pqrs-tuvw", "shared"), SASL_BADAUTH,
         "reason=wrong-password");
  DoneSasl(true);
}

// Fail closed: a store that cannot be opened never hands the login to the stock plugin.
void AppNoStore() {
  StartApp("nostore", S.ours + ":" + S.stock,
           std::string(kMechList) + "apppass_db: " + S.dir + "/no-such-store\n" + SasldbLines());
  Report(InitLogHas("syslog: apppass: cannot open the store"),
         "missing store: plug_init logs why (in syslog)");
  ExpectMechList("PLAIN LOGIN");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    Expect("missing store: " + mech + " refuses the stock password with SASL_UNAVAIL (no fallback)",
           Authenticate(mech, "alice", S.stock_secret), SASL_UNAVAIL,
           "error service=smtp user=- rhost=192.0.2.7 reason=unavailable detail=\"store " + S.dir +
               "/no-such-store");
    Expect("missing store: " + mech + " refuses the app password with SASL_UNAVAIL",
           Authenticate(mech, "alice", S.any.password), SASL_UNAVAIL, "reason=unavailable");
  }
  DoneSasl(true);
}

void AppBadOption(const std::string& app, const std::string& conf, const std::string& init_needle) {
  StartApp(app, S.ours + ":" + S.stock, std::string(kMechList) + conf + SasldbLines());
  Report(InitLogHas("syslog: apppass: bad option: " + init_needle),
         app + ": plug_init logs (in syslog) '" + init_needle + "'");
  for (const std::string mech : {"PLAIN", "LOGIN"})
    Expect(app + ": " + mech + " refuses with SASL_FAIL (no fallback)",
           Authenticate(mech, "alice", S.stock_secret), SASL_FAIL,
           "error service=smtp user=- rhost=192.0.2.7 reason=bad-option detail=\"" + init_needle);
  DoneSasl(true);
}

void AppNoUsage() {
  StartApp("nousage", S.ours, std::string(kMechList) + StoreLine() + "apppass_usage: no\n");
  Expect("apppass_usage no: accepted", Authenticate("PLAIN", "alice", S.nousage.password), SASL_OK,
         "accepted service=smtp user=alice");
  DoneSasl(true);
}

nlohmann::json Listed(const std::string& id) {
  for (const auto& e : S.tool.Json({"list", "alice", "--json"}))
    if (e.at("id").get<std::string>() == id) return e;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2\n", argv[0]);
    return 2;
  }
  S.Make("apppass-sasl", argv[1], argv[2], argv[3]);

  S.tool.Ok({"init"});
  Enroll(S.tool, "alice");
  Enroll(S.tool, "bob");  // enrolled, but no app passwords
  const std::time_t t0 = std::time(nullptr);
  S.expired = Create(S.tool, "alice", "short-lived", {"--expires", "1s"});
  S.any = Create(S.tool, "alice", "any-service");
  S.smtp = Create(S.tool, "alice", "smtp-only", {"--scope", "smtp"});
  S.imap = Create(S.tool, "alice", "imap-only", {"--scope", "imap"});
  S.revoked = Create(S.tool, "alice", "old-phone");
  S.nousage = Create(S.tool, "alice", "no-usage");
  S.tool.Ok({"revoke", "alice", S.revoked.id});
  for (const Cred* c : {&S.any, &S.smtp, &S.imap, &S.revoked, &S.expired, &S.nousage}) {
    S.secrets.push_back(c->password);
    std::string bare = c->password;
    bare.erase(std::remove(bare.begin(), bare.end(), '-'), bare.end());
    S.secrets.push_back(bare);
    S.secrets.push_back(Upper(bare));
  }
  S.secrets.push_back(S.stock_secret);

  // The stock plugins' own password store, for the ranking checks.
  for (const char* user : {"alice", "shared", "root"}) {
    const RunResult pw =
        Run({argv[4], "-p", "-c", "-f", S.sasldb, "-u", "test.example", user}, S.stock_secret);
    if (pw.status != 0) Die("saslpasswd2 failed with " + std::to_string(pw.status));
  }

  while (std::time(nullptr) < t0 + 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));

  ChecksInChild("application with apppass_db, our plugin only", AppApppass);
  ChecksInChild("ranking, plugin path ours:stock",
                [] { AppRanking("rank-ours-first", S.ours + ":" + S.stock, true); });
  ChecksInChild("ranking, plugin path stock:ours",
                [] { AppRanking("rank-stock-first", S.stock + ":" + S.ours, true); });
  ChecksInChild("ranking without mech_list, stock:ours",
                [] { AppRanking("rank-no-mech-list", S.stock + ":" + S.ours, false); });
  ChecksInChild("application without apppass_db", AppStock);
  ChecksInChild("apppass_scope", AppScope);
  ChecksInChild("apppass_allow_authzid", AppAuthzid);
  ChecksInChild("store missing", AppNoStore);
  ChecksInChild("bad apppass_usage_interval", [] {
    AppBadOption("badinterval", StoreLine() + "apppass_usage_interval: soon\n",
                 "apppass_usage_interval");
  });
  ChecksInChild("apppass_* without apppass_db", [] {
    AppBadOption("nodb", "apppass_scope: smtp\n", "apppass_db is not set, but apppass_scope is");
  });
  ChecksInChild("apppass_usage no", AppNoUsage);

  // Last use, as the admin tool shows it.
  nlohmann::json any = Listed(S.any.id), imap = Listed(S.imap.id), nousage = Listed(S.nousage.id);
  Report(any.is_object() && any["last_service"] == "smtp" && any["last_rhost"] == "192.0.2.7",
         "apppass list: last use of the unscoped password is smtp from 192.0.2.7", any.dump());
  Report(imap.is_object() && imap["last_service"] == "imap",
         "apppass list: apppass_scope recorded imap", imap.dump());
  Report(nousage.is_object() && nousage["last_used"].is_null(),
         "apppass list: apppass_usage no recorded nothing", nousage.dump());

  Run({"/bin/rm", "-rf", S.dir});
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
