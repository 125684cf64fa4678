// apppass_unenrolled: pwcheck and apppass_account: nss (issue 12) through libsasl2's own
// server and client APIs, in process, like test_sasl_exchange.cc:
//
//   test_sasl_pwcheck PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2
//
// The application's password check is real: libsasl's checkpass over a sasldb made with
// saslpasswd2 (pwcheck_method: auxprop, auxprop_plugin: sasldb), or saslauthd's protocol
// on a socket of the test's own that accepts and never answers (a hung saslauthd), or a
// socket path where nothing listens (saslauthd not running). The account check is real
// too: system users made with useradd/chpasswd, locked with usermod -L, expired with
// usermod -e and removed with userdel by the test (root only; skipped otherwise), and
// removed at the end.
//
// Every check runs the decision both ways where it matters: the same password in an
// application with the option and one without (a control that shows the option is what
// decided), and an enrolled user next to an unenrolled one.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "../lib/in_child.h"
#include "../lib/sasl_app.h"
#include "../lib/sasl_client.h"
#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"

namespace {

using namespace sasltest;
using namespace testlib;

struct Setup : AppDirs {
  std::string hooks;
  Cred alice_smtp, alice_imap;
  // Real (non-app) passwords in the sasldb.
  std::string alice_real = "Alice-Real-Pass-4711";
  std::string carol_real = "Carol-Real-Pass-0815";
  std::string dave_real = "Dave-Real-Pass-1234";
  std::vector<std::string> secrets;  // every password, as a log could show it
  // System users for apppass_account (root only), and the one main process that removes
  // them.
  pid_t main_pid = 0;
  std::vector<std::string> sys_users;
  std::string acct_ok, acct_locked, acct_expired, acct_gone;
  Cred ok_pw, locked_pw, expired_pw, gone_pw;
};
Setup S;

bool LogHas(const Result& r, std::string_view needle) {
  return std::any_of(r.log.begin(), r.log.end(),
                     [&](const std::string& l) { return Contains(l, needle); });
}

// Checks one exchange: the result, exactly one decision line, which contains `needle`
// (and, unless `pwcheck`, no "path=pwcheck"), and no password in a log line or error text.
void Expect(const std::string& name, const Result& r, int want, const std::string& needle,
            bool pwcheck = false) {
  std::string why;
  const auto n = std::count_if(r.log.begin(), r.log.end(), IsDecisionLine);
  if (r.rc != want) why = "got " + CodeName(r.rc) + ", want " + CodeName(want);
  else if (n != 1) why = std::to_string(n) + " decision lines logged, want 1";
  else if (!LogHas(r, needle)) why = "no log line contains '" + needle + "'";
  else if (LogHas(r, "path=pwcheck") != pwcheck)
    why = pwcheck ? "the line does not say path=pwcheck" : "the password check decided";
  ReportExchange(name, r, S.secrets, why);
}

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
  InitSasl(true);
}

// The admin tool with hooks from a directory that does not exist (never the system's).
void Admin(std::vector<std::string> args) {
  args.insert(args.begin(), {"--hooks-dir", S.hooks});
  S.tool.Ok(args);
}

// No child of this process is left over (the password check's children are reaped).
void ExpectNoChildren(const std::string& what) {
  errno = 0;
  const pid_t r = waitpid(-1, nullptr, WNOHANG);
  Report(r < 0 && errno == ECHILD, what + ": no child process left behind",
         r > 0    ? "reaped " + std::to_string(r)
         : r == 0 ? "a child is still running"
                  : "");
}

// ---------------------------------------------------------------------------------------
// apppass_unenrolled: pwcheck over sasldb.

void AppPwcheck() {
  // The stock plugins first in the path: ours must still serve (ranking), and the stock
  // PLAIN/LOGIN never see a login.
  StartApp("pwcheck", S.stock + ":" + S.ours,
           std::string(kMechList) + StoreLine() + SasldbLines() + "apppass_unenrolled: pwcheck\n");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    const std::string m = mech + ": ";
    Result r = Authenticate(mech, "carol", S.carol_real);
    Expect(m + "an unenrolled user's sasldb password is accepted by the password check", r, SASL_OK,
           "apppass: accepted service=smtp user=carol rhost=192.0.2.7 path=pwcheck", true);
    Report(r.username == "carol" && r.authuser == "carol",
           m + "SASL_USERNAME and SASL_AUTHUSER are carol",
           "got '" + r.username + "', '" + r.authuser + "'");
    Expect(m + "an unenrolled user's wrong password is refused by the password check",
           Authenticate(mech, "carol", "Not-Carols-Password"), SASL_BADAUTH,
           "apppass: refused service=smtp user=carol rhost=192.0.2.7 reason=wrong-password "
           "path=pwcheck",
           true);
    Expect(m + "a user neither apppass nor the sasldb knows is refused (unknown-user)",
           Authenticate(mech, "nosuchuser", "Whatever-1"), SASL_BADAUTH,
           "apppass: refused service=smtp user=nosuchuser rhost=192.0.2.7 reason=unknown-user "
           "path=pwcheck",
           true);
    Expect(m + "an enrollment not yet confirmed does not count: dave's sasldb password works",
           Authenticate(mech, "dave", S.dave_real), SASL_OK,
           "apppass: accepted service=smtp user=dave rhost=192.0.2.7 path=pwcheck", true);
    Expect(m + "an enrolled user's sasldb password is refused (it never reaches the check)",
           Authenticate(mech, "alice", S.alice_real), SASL_BADAUTH,
           "apppass: refused service=smtp user=alice rhost=192.0.2.7 reason=wrong-password");
    Expect(m + "an enrolled user's app password is accepted",
           Authenticate(mech, "alice", S.alice_smtp.password), SASL_OK,
           "apppass: accepted service=smtp user=alice rhost=192.0.2.7 id=" + S.alice_smtp.id);
    Expect(m + "an enrolled user's out-of-scope app password is refused",
           Authenticate(mech, "alice", S.alice_imap.password), SASL_BADAUTH,
           "reason=out-of-scope id=" + S.alice_imap.id);
  }

  // The enrollment decides at the next login, in the same server process.
  const nlohmann::json e = S.tool.Json({"mfa", "enroll", "carol", "--json"});
  Expect("after mfa enroll (not confirmed): carol's sasldb password still works",
         Authenticate("PLAIN", "carol", S.carol_real), SASL_OK, "path=pwcheck", true);
  Admin({"mfa", "confirm", "carol", TotpNow(e.at("secret").get<std::string>())});
  for (const std::string mech : {"PLAIN", "LOGIN"})
    Expect(mech + ": after mfa confirm: carol's sasldb password is refused",
           Authenticate(mech, "carol", S.carol_real), SASL_BADAUTH,
           "apppass: refused service=smtp user=carol rhost=192.0.2.7 reason=wrong-password");
  const Cred carol = Create(S.tool, "carol", "phone", {"--scope", "smtp"});
  S.secrets.push_back(carol.password);
  Expect("after mfa confirm: carol's app password is accepted",
         Authenticate("LOGIN", "carol", carol.password), SASL_OK,
         "apppass: accepted service=smtp user=carol rhost=192.0.2.7 id=" + carol.id);
  Admin({"mfa", "reset", "carol"});
  for (const std::string mech : {"PLAIN", "LOGIN"})
    Expect(mech + ": after mfa reset: carol's sasldb password works again",
           Authenticate(mech, "carol", S.carol_real), SASL_OK,
           "apppass: accepted service=smtp user=carol rhost=192.0.2.7 path=pwcheck", true);
  Expect("after mfa reset: carol's (revoked) app password is refused",
         Authenticate("PLAIN", "carol", carol.password), SASL_BADAUTH,
         "reason=wrong-password path=pwcheck", true);
  ExpectNoChildren("apppass_unenrolled: pwcheck");
  DoneSasl(true);
}

// The control: the same store and sasldb without the option (deny, the default).
void AppDeny() {
  StartApp("deny", S.stock + ":" + S.ours,
           std::string(kMechList) + StoreLine() + SasldbLines() + "apppass_unenrolled: deny\n");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    Expect(mech + ": apppass_unenrolled: deny: an unenrolled user's sasldb password is refused",
           Authenticate(mech, "carol", S.carol_real), SASL_BADAUTH,
           "apppass: refused service=smtp user=carol rhost=192.0.2.7 reason=unknown-user");
    Expect(mech + ": apppass_unenrolled: deny: a pending enrollment's sasldb password is refused",
           Authenticate(mech, "dave", S.dave_real), SASL_BADAUTH,
           "apppass: refused service=smtp user=dave rhost=192.0.2.7 reason=wrong-password");
  }
  DoneSasl(true);
}

// ---------------------------------------------------------------------------------------
// The bound: saslauthd hung or not running.

// A listening UNIX socket that never accepts: connect and write succeed (the backlog), the
// answer never comes, as from a hung saslauthd. Closed when the process ends.
void ListenForever(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof a.sun_path) Die("socket for the hung saslauthd");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0)
    Die("bind/listen " + path);
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void AppHungSaslauthd() {
  const std::string mux = S.dir + "/hung-mux";
  ListenForever(mux);
  StartApp("hung", S.ours,
           std::string(kMechList) + StoreLine() +
               "apppass_unenrolled: pwcheck\npwcheck_method: saslauthd\nsaslauthd_path: " + mux +
               "\n");
  auto t0 = std::chrono::steady_clock::now();
  const Result r = Authenticate("PLAIN", "frank", "Franks-Real-Pass");
  const double took = Seconds(t0);
  Expect("hung saslauthd: the login fails as unavailable (SASL_UNAVAIL)", r, SASL_UNAVAIL,
         "apppass: error service=smtp user=frank rhost=192.0.2.7 reason=unavailable path=pwcheck "
         "detail=\"the password check (pwcheck_method) did not answer within 10 s",
         true);
  Report(took >= 9.5 && took < 14, "hung saslauthd: the login ends after the 10 s bound",
         "took " + std::to_string(took) + " s");
  ExpectNoChildren("hung saslauthd: the stopped check");
  // Enrolled users never wait for it.
  t0 = std::chrono::steady_clock::now();
  Expect("hung saslauthd: an enrolled user's app password is accepted",
         Authenticate("LOGIN", "alice", S.alice_smtp.password), SASL_OK,
         "apppass: accepted service=smtp user=alice");
  Expect("hung saslauthd: an enrolled user's real password is refused",
         Authenticate("PLAIN", "alice", S.alice_real), SASL_BADAUTH,
         "apppass: refused service=smtp user=alice rhost=192.0.2.7 reason=wrong-password");
  Report(Seconds(t0) < 2, "hung saslauthd: enrolled users' logins do not wait for it",
         "took " + std::to_string(Seconds(t0)) + " s");
  DoneSasl(true);
}

void AppNoSaslauthd() {
  StartApp("nosaslauthd", S.ours,
           std::string(kMechList) + StoreLine() +
               "apppass_unenrolled: pwcheck\npwcheck_method: saslauthd\nsaslauthd_path: " + S.dir +
               "/no-such-mux\n");
  for (const std::string mech : {"PLAIN", "LOGIN"}) {
    const auto t0 = std::chrono::steady_clock::now();
    Expect(mech + ": saslauthd not running: SASL_UNAVAIL at once",
           Authenticate(mech, "frank", "Franks-Real-Pass"), SASL_UNAVAIL,
           "apppass: error service=smtp user=frank rhost=192.0.2.7 reason=unavailable "
           "path=pwcheck detail=\"the password check (pwcheck_method) failed: SASL_FAIL",
           true);
    Report(Seconds(t0) < 2, mech + ": saslauthd not running: answered at once");
  }
  DoneSasl(true);
}

// ---------------------------------------------------------------------------------------
// apppass_account: nss (root: the check reads /etc/shadow in this process).

void AppAccount() {
  StartApp("account", S.ours, std::string(kMechList) + StoreLine() + "apppass_account: nss\n");
  Expect("apppass_account: nss: a usable account's app password is accepted",
         Authenticate("PLAIN", S.acct_ok, S.ok_pw.password), SASL_OK,
         "apppass: accepted service=smtp user=" + S.acct_ok + " rhost=192.0.2.7 id=" + S.ok_pw.id);
  Expect("apppass_account: nss: before usermod -L the app password is accepted",
         Authenticate("LOGIN", S.acct_locked, S.locked_pw.password), SASL_OK,
         "apppass: accepted service=smtp user=" + S.acct_locked);
  if (Run({"/usr/sbin/usermod", "-L", S.acct_locked}).status != 0) Die("usermod -L");
  for (const std::string mech : {"PLAIN", "LOGIN"})
    Expect(mech +
               ": apppass_account: nss: after usermod -L the app password is refused "
               "(SASL_NOAUTHZ)",
           Authenticate(mech, S.acct_locked, S.locked_pw.password), SASL_NOAUTHZ,
           "apppass: refused service=smtp user=" + S.acct_locked +
               " rhost=192.0.2.7 reason=account-locked id=" + S.locked_pw.id + " name=phone");
  if (Run({"/usr/sbin/usermod", "-U", S.acct_locked}).status != 0) Die("usermod -U");
  Expect("apppass_account: nss: after usermod -U it is accepted again",
         Authenticate("PLAIN", S.acct_locked, S.locked_pw.password), SASL_OK,
         "apppass: accepted service=smtp user=" + S.acct_locked);
  Expect("apppass_account: nss: an expired account's app password is refused",
         Authenticate("PLAIN", S.acct_expired, S.expired_pw.password), SASL_NOAUTHZ,
         "apppass: refused service=smtp user=" + S.acct_expired +
             " rhost=192.0.2.7 reason=account-expired id=" + S.expired_pw.id);
  Expect("apppass_account: nss: a removed account's (userdel) app password is refused",
         Authenticate("LOGIN", S.acct_gone, S.gone_pw.password), SASL_NOAUTHZ,
         "apppass: refused service=smtp user=" + S.acct_gone +
             " rhost=192.0.2.7 reason=unknown-account id=" + S.gone_pw.id);
  Expect(
      "apppass_account: nss: a wrong app password is refused as before (no account check)",
      Authenticate("PLAIN", S.acct_ok, "abcd-efgh-jkmn-pqrs-tuvw"), SASL_BADAUTH,
      "apppass: refused service=smtp user=" + S.acct_ok + " rhost=192.0.2.7 reason=wrong-password");
  DoneSasl(true);
}

// The control: without apppass_account the same expired and removed accounts log in.
void AppNoAccount() {
  StartApp("noaccount", S.ours, std::string(kMechList) + StoreLine());
  Expect("apppass_account: none: the expired account's app password is accepted",
         Authenticate("PLAIN", S.acct_expired, S.expired_pw.password), SASL_OK,
         "apppass: accepted service=smtp user=" + S.acct_expired);
  Expect("apppass_account: none: the removed account's app password is accepted",
         Authenticate("LOGIN", S.acct_gone, S.gone_pw.password), SASL_OK,
         "apppass: accepted service=smtp user=" + S.acct_gone);
  DoneSasl(true);
}

void RemoveSystemUsers() {
  if (getpid() != S.main_pid) return;  // a child's exit is not the end of the test
  for (const auto& u : S.sys_users) Run({"/usr/sbin/userdel", u});
  S.sys_users.clear();
}

std::string MakeSystemUser(const std::string& base) {
  const std::string name = base + std::to_string(getpid());
  if (Run({"/usr/sbin/useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
           "/nonexistent", "--shell", "/usr/sbin/nologin", name})
          .status != 0)
    Die("useradd " + name);
  S.sys_users.push_back(name);
  // useradd leaves "!" in the shadow entry, which reads as locked: a real password.
  if (Run({"/usr/sbin/chpasswd"}, name + ":Real-Pass-" + name + "\n").status != 0)
    Die("chpasswd " + name);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2\n", argv[0]);
    return 2;
  }
  S.main_pid = getpid();
  S.Make("apppass-sasl-pwcheck", argv[1], argv[2], argv[3]);
  S.hooks = S.dir + "/no-hooks";

  S.tool.Ok({"init"});
  Enroll(S.tool, "alice");
  S.alice_smtp = Create(S.tool, "alice", "mail", {"--scope", "smtp"});
  S.alice_imap = Create(S.tool, "alice", "imap-only", {"--scope", "imap"});
  S.tool.Json({"mfa", "enroll", "dave", "--json"});  // pending: never confirmed
  for (const auto& [user, pw] :
       {std::pair{"alice", S.alice_real}, {"carol", S.carol_real}, {"dave", S.dave_real}}) {
    const RunResult r = Run({argv[4], "-p", "-c", "-f", S.sasldb, "-u", "test.example", user}, pw);
    if (r.status != 0) Die("saslpasswd2 failed with " + std::to_string(r.status));
  }
  S.secrets = {S.alice_real,          S.carol_real,       S.dave_real,
               "Not-Carols-Password", "Franks-Real-Pass", S.alice_smtp.password,
               S.alice_imap.password};

  ChecksInChild("apppass_unenrolled: pwcheck over sasldb", AppPwcheck);
  ChecksInChild("apppass_unenrolled: deny (the control)", AppDeny);
  ChecksInChild("apppass_unenrolled: pwcheck, saslauthd not running", AppNoSaslauthd);
  ChecksInChild("apppass_unenrolled: pwcheck, saslauthd hung", AppHungSaslauthd);

  if (geteuid() == 0 && access("/usr/sbin/useradd", X_OK) == 0) {
    std::atexit(RemoveSystemUsers);
    S.acct_ok = MakeSystemUser("apok");
    S.acct_locked = MakeSystemUser("aplock");
    S.acct_expired = MakeSystemUser("apexp");
    S.acct_gone = MakeSystemUser("apgone");
    for (auto [user, cred] : {std::pair{&S.acct_ok, &S.ok_pw},
                              {&S.acct_locked, &S.locked_pw},
                              {&S.acct_expired, &S.expired_pw},
                              {&S.acct_gone, &S.gone_pw}}) {
      Enroll(S.tool, *user);
      *cred = Create(S.tool, *user, "phone", {"--scope", "smtp"});
      S.secrets.push_back(cred->password);
    }
    if (Run({"/usr/sbin/usermod", "-e", "1970-01-02", S.acct_expired}).status != 0)
      Die("usermod -e");
    if (Run({"/usr/sbin/userdel", S.acct_gone}).status != 0) Die("userdel");
    std::erase(S.sys_users, S.acct_gone);
    ChecksInChild("apppass_account: nss (root, in process)", AppAccount);
    ChecksInChild("apppass_account: none (the control)", AppNoAccount);
    RemoveSystemUsers();
  } else {
    std::printf("ok - # SKIP apppass_account: nss needs root and useradd\n");
  }

  Run({"/bin/rm", "-rf", S.dir});
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
