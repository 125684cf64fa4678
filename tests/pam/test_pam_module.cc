// PAM-level tests of pam_apppass.so: the real libpam (redirected by pam_wrapper to our own
// service files, never /etc/pam.d) loads the built module, driven through libpamtest,
// against a store made by the real admin tool.
//
//   test_pam_module MODULE APPPASS_TOOL PAM_WRAPPER_MODULE_DIR PAM_DENY
//
// Must run with libpam_wrapper.so preloaded (CTest sets LD_PRELOAD). pam_wrapper copies
// the service files of PAM_WRAPPER_SERVICE_DIR when the process starts, so the program
// runs in two steps: it writes the service files into a temporary directory, then runs
// itself again in a child with PAM_WRAPPER=1 and PAM_WRAPPER_SERVICE_DIR pointing there,
// and removes the directory when the child is done. The second step builds the store
// with the admin tool and runs the checks. pam_wrapper's debug log (level 4) puts
// the module's pam_syslog lines on stderr; each transaction's stderr is captured so the
// checks can assert the decision log line and that no password ever appears in it.
//
// Prints "ok - ..." / "not ok - ..." per check; exits 1 if any check failed.

extern "C" {
#include <libpamtest.h>
}
#include <fcntl.h>
#include <liboath/oath.h>
#include <security/pam_appl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../lib/pam_conv.h"
#include "../lib/pam_rerun.h"
#include "../lib/report.h"
#include "../lib/store_fixture.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

constexpr const char* kStepEnv = "APPPASS_PAM_TEST_DIR";

using testlib::g_checks;
using testlib::g_failures;

struct Paths {
  std::string module, tool, wrapper_modules, pam_deny;
  std::string dir, store, services, capture;
};
Paths g;

using testlib::Die;
using testlib::Report;

// ---------------------------------------------------------------------------------------
// The admin tool on the test's store (tests/lib/store_fixture.h).

testlib::Tool Tool() { return {g.tool, g.store}; }
nlohmann::json ToolJson(const std::vector<std::string>& args) { return Tool().Json(args); }
void ToolOk(const std::vector<std::string>& args) { Tool().Ok(args); }
void EnrollUser(const std::string& user) { testlib::Enroll(Tool(), user); }
using testlib::Cred;
Cred CreatePassword(const std::string& user, const std::string& name,
                    const std::vector<std::string>& extra = {}) {
  return testlib::Create(Tool(), user, name, extra);
}

// ---------------------------------------------------------------------------------------
// Service files (step 1).

using testlib::WriteFile;

void WriteServices() {
  fs::create_directory(g.services);
  const std::string mod = g.module;
  const std::string db = " db=" + g.store;
  const std::string set_items = g.wrapper_modules + "/pam_set_items.so";
  auto both = [&](const std::string& args) {
    return "auth     required " + mod + args + "\n" + "account  required " + mod + args + "\n";
  };
  WriteFile(g.services + "/other", "");
  WriteFile(g.services + "/imap", both(db));
  WriteFile(g.services + "/pop3", both(db));
  // A service whose PAM name is not the scope the passwords are checked against.
  WriteFile(g.services + "/mail-pop3", both(db + " scope=pop3"));
  WriteFile(g.services + "/nostore", both(" db=" + g.dir + "/no-such-store"));
  WriteFile(g.services + "/emptystore", both(" db=" + g.dir + "/empty-store"));
  WriteFile(g.services + "/badopt", both(db + " bogus_option"));
  WriteFile(g.services + "/badopt-relative-db", both(" db=relative/store"));
  WriteFile(g.services + "/badopt-interval", both(db + " usage_interval=soon"));
  WriteFile(g.services + "/badopt-scope", both(db + " scope=IMAP!"));
  WriteFile(g.services + "/firstpass", "auth required " + set_items + "\n" + "auth required " +
                                           mod + db + " use_first_pass\n");
  WriteFile(g.services + "/tryfirstpass", "auth required " + set_items + "\n" + "auth required " +
                                              mod + db + " try_first_pass\n");
  WriteFile(g.services + "/sufficient",
            "auth sufficient " + mod + db + "\n" + "auth required " + g.pam_deny + "\n");
  WriteFile(g.services + "/successdone", "auth [success=done default=ignore] " + mod + db + "\n" +
                                             "auth required " + g.pam_deny + "\n");
  // Account phase only: the module has no say for users it did not authenticate.
  WriteFile(g.services + "/acctonly", "account required " + mod + db + "\n");
  WriteFile(g.services + "/setcred", "auth required " + mod + db + "\n");
  // pam_set_items before the module, without use_first_pass: RHOST reaches the log.
  WriteFile(g.services + "/withrhost",
            "auth required " + set_items + "\n" + "auth required " + mod + db + "\n");
}

// ---------------------------------------------------------------------------------------
// Conversation and transactions (step 2).

// Answers from lists, one for each prompt style (tests/lib/pam_conv.h).
using Conv = testlib::ScriptedConv;
constexpr auto* ConvFn = &testlib::ScriptedConvFn;

// Redirects fd 2 into a file for the length of one transaction.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    const int fd = open(g.capture.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (saved_ < 0 || fd < 0) Die("cannot capture stderr");
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  // Restores stderr, passes what was captured through to it, and returns it.
  std::string Finish() {
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
    std::ifstream f(g.capture);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    // Keep the output readable: echo only pam_wrapper's syslog lines (not its trace).
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.find("SYSLOG") != std::string::npos || line.find("ERROR") != std::string::npos ||
          line.find("runtime error") != std::string::npos)
        std::fprintf(stderr, "  | %s\n", line.substr(0, 300).c_str());
    return text;
  }
  ~StderrCapture() {
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      close(saved_);
    }
  }

 private:
  int saved_ = -1;
};

// The module's log lines (the text after "SYSLOG(n): ").
std::vector<std::string> SyslogLines(const std::string& captured) {
  std::vector<std::string> out;
  std::istringstream in(captured);
  for (std::string line; std::getline(in, line);) {
    const auto p = line.find("SYSLOG(");
    if (p == std::string::npos) continue;
    const auto q = line.find("): ", p);
    if (q != std::string::npos) out.push_back(line.substr(q + 3));
  }
  return out;
}

const char* OpName(pamtest_ops op) {
  switch (op) {
    case PAMTEST_AUTHENTICATE: return "authenticate";
    case PAMTEST_SETCRED: return "setcred";
    case PAMTEST_ACCOUNT: return "acct_mgmt";
    case PAMTEST_OPEN_SESSION: return "open_session";
    case PAMTEST_CLOSE_SESSION: return "close_session";
    case PAMTEST_CHAUTHTOK: return "chauthtok";
    default: return "op";
  }
}

std::string RcName(int rc) {
  static const std::pair<int, const char*> kNames[] = {
      {PAM_SUCCESS, "PAM_SUCCESS"},
      {PAM_AUTH_ERR, "PAM_AUTH_ERR"},
      {PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL"},
      {PAM_SERVICE_ERR, "PAM_SERVICE_ERR"},
      {PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN"},
      {PAM_PERM_DENIED, "PAM_PERM_DENIED"},
      {PAM_IGNORE, "PAM_IGNORE"},
      {PAM_CONV_ERR, "PAM_CONV_ERR"},
      {PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR"},
      {PAM_BUF_ERR, "PAM_BUF_ERR"},
      {PAM_CRED_ERR, "PAM_CRED_ERR"},
      {PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED"},
      {PAM_ABORT, "PAM_ABORT"},
  };
  for (const auto& [v, n] : kNames)
    if (v == rc) return n;
  return "rc=" + std::to_string(rc);
}

// Expected result of one operation. kNotSuccess (only as the last operation): anything
// but PAM_SUCCESS.
constexpr int kNotSuccess = -1000;

struct Expect {
  pamtest_ops op;
  int rc;
  int flags = 0;
};

struct Outcome {
  bool ok = false;
  std::string why;       // when !ok
  std::string captured;  // the transaction's stderr
  std::vector<std::string> log;
  int last_rc = 0;  // what the last operation returned, when ok
};

// One transaction: pam_start(service, user), PAM_RHOST if given, the operations in order,
// pam_end.
Outcome Transaction(const char* service, const char* user, Conv& conv,
                    std::initializer_list<Expect> ops, const char* rhost = nullptr) {
  std::vector<pam_testcase> cases;
  for (const Expect& e : ops) {
    pam_testcase tc{};
    tc.pam_operation = e.op;
    tc.expected_rv = e.rc;
    tc.flags = e.flags;
    cases.push_back(tc);
  }
  Outcome o;
  StderrCapture cap;
  pam_handle_t* ph = nullptr;
  if (rhost != nullptr) {
    const pam_conv pc{ConvFn, &conv};
    if (pam_start(service, user, &pc, &ph) != PAM_SUCCESS ||
        pam_set_item(ph, PAM_RHOST, rhost) != PAM_SUCCESS) {
      if (ph != nullptr) pam_end(ph, PAM_SYSTEM_ERR);
      cap.Finish();
      o.why = "pam_start or pam_set_item failed";
      return o;
    }
  }
  // With a handle, libpamtest uses it (and still calls pam_end).
  const pamtest_err err =
      _pamtest_conv(service, user, ConvFn, &conv, cases.data(), cases.size(), ph);
  o.captured = cap.Finish();
  o.log = SyslogLines(o.captured);
  const pam_testcase* f =
      err == PAMTEST_ERR_CASE ? _pamtest_failed_case(cases.data(), cases.size()) : nullptr;
  if (err == PAMTEST_ERR_OK) {
    o.ok = true;
    o.last_rc = cases.back().op_rv;
  } else if (f != nullptr && f == &cases.back() && f->expected_rv == kNotSuccess) {
    // The sentinel never matches, so libpamtest stops there: judge it here.
    o.ok = f->op_rv != PAM_SUCCESS;
    o.last_rc = f->op_rv;
    if (!o.ok) o.why = std::string(OpName(f->pam_operation)) + " returned PAM_SUCCESS";
  } else if (err == PAMTEST_ERR_CASE) {
    if (f != nullptr)
      o.why = std::string(OpName(f->pam_operation)) + " returned " + RcName(f->op_rv) + ", want " +
              (f->expected_rv == kNotSuccess ? "anything else" : RcName(f->expected_rv));
    else o.why = "a case failed";
  } else {
    o.why = std::string("libpamtest: ") + pamtest_strerror(err);
  }
  return o;
}

bool LogHas(const Outcome& o, const std::string& needle) {
  for (const auto& l : o.log)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

// A line on stderr right after one of the module's log lines that is not pam_wrapper's:
// the module's message went over more than one line.
bool Forged(const Outcome& o) {
  std::istringstream in(o.captured);
  bool after_syslog = false;
  for (std::string line; std::getline(in, line);) {
    if (after_syslog && !line.starts_with("PWRAP_")) return true;
    after_syslog = line.find("SYSLOG(") != std::string::npos;
  }
  return false;
}

// pam_wrapper's own trace (level 3 and up) prints PAM items, PAM_AUTHTOK included, and
// pam_set_items.so prints what it sets: those lines are the test harness talking, not the
// module. Any other line with the secret is a leak.
bool Leaks(const std::string& captured, const std::string& secret) {
  std::istringstream in(captured);
  for (std::string line; std::getline(in, line);) {
    if (line.find(secret) == std::string::npos) continue;
    if (line.find("SYSLOG(") == std::string::npos &&
        (line.find("pwrap_set_item PAM_") != std::string::npos ||
         line.find("pwrap_get_item PAM_") != std::string::npos ||
         line.find("PAM_SET_ITEM PAM_") != std::string::npos))
      continue;
    return true;
  }
  return false;
}

std::string LogText(const Outcome& o) {
  std::string s;
  for (const auto& l : o.log) s += (s.empty() ? "" : " | ") + l.substr(0, 200);
  return s.empty() ? "(no log line)" : s;
}

// Runs one transaction and reports one check. `log_needles` must all appear in one of the
// module's log lines; `secret` (if not empty), with or without its dashes, must not appear
// in the log lines, nor anywhere else on stderr but in pam_wrapper's item trace (see Leaks).
void Check(const std::string& name, const char* service, const char* user, Conv conv,
           std::initializer_list<Expect> ops, std::initializer_list<std::string> log_needles = {},
           const std::string& secret = "") {
  const Outcome o = Transaction(service, user, conv, ops);
  if (!o.ok) return Report(false, name, o.why + "; log: " + LogText(o));
  for (const auto& n : log_needles)
    if (!LogHas(o, n))
      return Report(false, name, "no log line with '" + n + "'; log: " + LogText(o));
  if (!secret.empty()) {
    std::string bare = secret;  // the normalized form has no dashes
    std::erase(bare, '-');
    for (const std::string& form : {secret, bare}) {
      for (const auto& l : o.log)
        if (l.find(form) != std::string::npos) return Report(false, name, "password in a log line");
      if (Leaks(o.captured, form)) return Report(false, name, "password on stderr");
    }
  }
  // For "anything but PAM_SUCCESS", say what it was.
  Report(true, std::data(ops)[ops.size() - 1].rc == kNotSuccess
                   ? name + " (" + RcName(o.last_rc) + ")"
                   : name);
}

Conv Password(std::string pw) {
  Conv c;
  c.echo_off.push_back(std::move(pw));
  return c;
}

// Sets an environment variable for pam_set_items.so for the length of a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

std::string Normalizable(const std::string& pw) {
  // What a user may type: no dashes, upper case, spaces between groups.
  std::string out;
  for (char ch : pw) {
    if (ch == '-') {
      out += ' ';
      continue;
    }
    out += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  }
  return out;
}

// ---------------------------------------------------------------------------------------

int RunChecks() {
  constexpr Expect kAuthOk{PAMTEST_AUTHENTICATE, PAM_SUCCESS};
  constexpr Expect kAuthErr{PAMTEST_AUTHENTICATE, PAM_AUTH_ERR};
  constexpr Expect kAcctOk{PAMTEST_ACCOUNT, PAM_SUCCESS};
  constexpr Expect kSetcredOk{PAMTEST_SETCRED, PAM_SUCCESS};

  ToolOk({"init"});
  EnrollUser("alice");
  EnrollUser("bob");
  const Cred all = CreatePassword("alice", "laptop");
  const Cred pop3 = CreatePassword("alice", "phone", {"--scope", "pop3"});
  const Cred doomed = CreatePassword("alice", "old tablet");
  const Cred bobs = CreatePassword("bob", "desktop");
  fs::create_directory(g.dir + "/empty-store");

  // --- The main flow.
  Check("right password: authenticate, acct_mgmt and setcred succeed", "imap", "alice",
        Password(all.password), {kAuthOk, kAcctOk, kSetcredOk},
        {"accepted service=imap user=alice rhost=- id=" + all.id + " name=laptop"}, all.password);
  Check("right password typed without dashes, upper case, spaced: accepted", "imap", "alice",
        Password(Normalizable(all.password)), {kAuthOk, kAcctOk},
        {"accepted service=imap user=alice"});
  Check("wrong password: PAM_AUTH_ERR", "imap", "alice", Password("abcd-efgh-jkmn-pqrs-tuvw"),
        {kAuthErr}, {"refused service=imap user=alice rhost=- reason=wrong-password"},
        "abcd-efgh-jkmn-pqrs-tuvw");
  Check("another user's password: PAM_AUTH_ERR", "imap", "alice", Password(bobs.password),
        {kAuthErr}, {"refused service=imap user=alice", "reason=wrong-password"}, bobs.password);
  Check("unknown user: PAM_AUTH_ERR", "imap", "carol", Password(all.password), {kAuthErr},
        {"refused service=imap user=carol", "reason=unknown-user"}, all.password);
  Check("user name given at the prompt: accepted", "imap", nullptr,
        [&] {
          Conv c = Password(all.password);
          c.echo_on.push_back("alice");
          return c;
        }(),
        {kAuthOk, kAcctOk}, {"accepted service=imap user=alice"});
  Check("no user (conversation fails): PAM_AUTH_ERR", "imap", nullptr, Password(all.password),
        {kAuthErr}, {"reason=no-user"});
  Check("no password (conversation fails): PAM_AUTH_ERR", "imap", "alice", Conv{}, {kAuthErr},
        {"reason=no-password"});

  // --- Revocation and expiry.
  Check("password before revocation: accepted", "imap", "alice", Password(doomed.password),
        {kAuthOk}, {"accepted service=imap user=alice rhost=- id=" + doomed.id});
  ToolOk({"revoke", "alice", doomed.id});
  Check("revoked password: PAM_AUTH_ERR", "imap", "alice", Password(doomed.password), {kAuthErr},
        {"refused service=imap user=alice rhost=- reason=revoked id=" + doomed.id},
        doomed.password);
  const Cred expiring = CreatePassword("alice", "short", {"--expires", "1s"});
  sleep(2);
  Check("expired password: PAM_AUTH_ERR", "imap", "alice", Password(expiring.password), {kAuthErr},
        {"refused service=imap user=alice rhost=- reason=expired id=" + expiring.id},
        expiring.password);

  // --- Scopes.
  Check("password scoped to pop3 on imap: PAM_AUTH_ERR", "imap", "alice", Password(pop3.password),
        {kAuthErr}, {"refused service=imap user=alice rhost=- reason=out-of-scope id=" + pop3.id},
        pop3.password);
  Check("password scoped to pop3 on pop3: accepted", "pop3", "alice", Password(pop3.password),
        {kAuthOk, kAcctOk}, {"accepted service=pop3 user=alice rhost=- id=" + pop3.id});
  Check("password scoped to pop3 with scope=pop3 in the service file: accepted", "mail-pop3",
        "alice", Password(pop3.password), {kAuthOk, kAcctOk}, {"accepted service=pop3 user=alice"});
  Check("unscoped password with scope=pop3: accepted", "mail-pop3", "alice", Password(all.password),
        {kAuthOk}, {"accepted service=pop3"});

  // --- Store and configuration problems.
  Check("missing store directory: PAM_AUTHINFO_UNAVAIL", "nostore", "alice", Password(all.password),
        {{PAMTEST_AUTHENTICATE, PAM_AUTHINFO_UNAVAIL}},
        {"error service=nostore user=alice", "reason=unavailable"}, all.password);
  Check("empty store directory: PAM_AUTHINFO_UNAVAIL", "emptystore", "alice",
        Password(all.password), {{PAMTEST_AUTHENTICATE, PAM_AUTHINFO_UNAVAIL}},
        {"reason=unavailable"}, all.password);
  for (const char* svc : {"badopt", "badopt-relative-db", "badopt-interval", "badopt-scope"})
    Check(std::string("bad module option (") + svc + "): PAM_SERVICE_ERR", svc, "alice",
          Password(all.password), {{PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR}}, {"reason=bad-option"},
          all.password);
  {
    Conv c = Password(all.password);
    const Outcome o = Transaction("badopt", "alice", c, {{PAMTEST_AUTHENTICATE, PAM_SERVICE_ERR}});
    Report(o.ok && c.off_asked == 0, "bad module option: refused before asking for a password",
           o.ok ? "password was asked for" : o.why);
  }

  // --- Stacking.
  {
    ScopedEnv tok("PAM_AUTHTOK", all.password);
    Conv c;  // any prompt fails the conversation
    const Outcome o = Transaction("firstpass", "alice", c, {kAuthOk});
    Report(o.ok && c.off_asked == 0 && LogHas(o, "accepted service=firstpass user=alice"),
           "use_first_pass: token from the module above is used, no prompt",
           !o.ok         ? o.why
           : c.off_asked ? "prompted"
                         : "log: " + LogText(o));
  }
  {
    Conv c = Password(all.password);
    const Outcome o = Transaction("firstpass", "alice", c, {kAuthErr});
    Report(o.ok && c.off_asked == 0, "use_first_pass without a token: PAM_AUTH_ERR, no prompt",
           !o.ok ? o.why : "prompted");
  }
  {
    ScopedEnv tok("PAM_AUTHTOK", "wxyz-wxyz-wxyz-wxyz-wxyz");
    Conv c = Password(all.password);
    const Outcome o = Transaction("firstpass", "alice", c, {kAuthErr});
    Report(o.ok && c.off_asked == 0 && LogHas(o, "reason=wrong-password"),
           "use_first_pass with a wrong token: PAM_AUTH_ERR, no prompt",
           !o.ok ? o.why : LogText(o));
  }
  {
    ScopedEnv tok("PAM_AUTHTOK", all.password);
    Conv c;
    const Outcome o = Transaction("tryfirstpass", "alice", c, {kAuthOk});
    Report(o.ok && c.off_asked == 0, "try_first_pass with a token: accepted, no prompt",
           !o.ok ? o.why : "prompted");
  }
  {
    Conv c = Password(all.password);
    const Outcome o = Transaction("tryfirstpass", "alice", c, {kAuthOk});
    Report(o.ok && c.off_asked == 1, "try_first_pass without a token: prompts once, accepted",
           !o.ok ? o.why : "asked " + std::to_string(c.off_asked) + " times");
  }
  {
    ScopedEnv host("PAM_RHOST", "198.51.100.7");
    Check("PAM_RHOST reaches the log line", "withrhost", "alice", Password(all.password), {kAuthOk},
          {"accepted service=withrhost user=alice rhost=198.51.100.7 id=" + all.id});
  }
  {
    Conv c = Password("wrong");
    const Outcome o = Transaction("imap", "alice", c, {kAuthErr},
                                  "x rhost=evil reason=forged\naccepted service=imap");
    Report(
        o.ok && o.log.size() == 1 && !Forged(o) &&
            LogHas(o,
                   "rhost="
                   "x\\x20rhost\\x3devil\\x20reason\\x3dforged\\x0aaccepted\\x20service\\x3dimap "
                   "reason=wrong-password"),
        "hostile PAM_RHOST is escaped in the log line", !o.ok ? o.why : LogText(o));
  }
  Check("sufficient + pam_deny, module refuses: PAM_AUTH_ERR", "sufficient", "alice",
        Password("nope"), {kAuthErr});
  Check("sufficient + pam_deny, module accepts: PAM_SUCCESS", "sufficient", "alice",
        Password(all.password), {kAuthOk});
  Check("sufficient + pam_deny, revoked password: PAM_AUTH_ERR", "sufficient", "alice",
        Password(doomed.password), {kAuthErr}, {"reason=revoked"});
  Check("[success=done default=ignore] + pam_deny, module refuses: PAM_AUTH_ERR", "successdone",
        "alice", Password("nope"), {kAuthErr});
  Check("[success=done default=ignore] + pam_deny, module accepts: PAM_SUCCESS", "successdone",
        "alice", Password(all.password), {kAuthOk});

  // --- acct_mgmt and setcred.
  Check("acct_mgmt without authentication in the transaction: not PAM_SUCCESS", "acctonly", "alice",
        Conv{}, {{PAMTEST_ACCOUNT, kNotSuccess}});
  Check("acct_mgmt after a refused authentication: not PAM_SUCCESS", "imap", "alice",
        Password("nope"), {kAuthErr, {PAMTEST_ACCOUNT, kNotSuccess}});
  {
    // Authenticate alice, then switch PAM_USER to bob: acct_mgmt must not vouch for bob.
    Conv c = Password(all.password);
    pam_testcase cases[2] = {};
    cases[0].pam_operation = PAMTEST_AUTHENTICATE;
    cases[0].expected_rv = PAM_SUCCESS;
    cases[1].pam_operation = PAMTEST_KEEPHANDLE;
    StderrCapture cap;
    const pamtest_err err = _pamtest_conv("imap", "alice", ConvFn, &c, cases, 2, nullptr);
    int acct = PAM_SUCCESS;
    pam_handle_t* ph = cases[1].case_out.ph;
    if (err == PAMTEST_ERR_OK && ph != nullptr) {
      pam_set_item(ph, PAM_USER, "bob");
      acct = pam_acct_mgmt(ph, 0);
      pam_end(ph, acct);
    }
    cap.Finish();
    Report(err == PAMTEST_ERR_OK && ph != nullptr && acct != PAM_SUCCESS,
           "acct_mgmt after PAM_USER changed to another user: not PAM_SUCCESS",
           err != PAMTEST_ERR_OK ? pamtest_strerror(err) : "acct_mgmt returned " + RcName(acct));
  }
  Check("setcred: PAM_SUCCESS", "setcred", "alice", Password(all.password), {kAuthOk, kSetcredOk});
  Check("setcred with PAM_DELETE_CRED: PAM_SUCCESS", "setcred", "alice", Password(all.password),
        {kAuthOk, kSetcredOk, {PAMTEST_SETCRED, PAM_SUCCESS, PAM_DELETE_CRED}});

  // --- Bad input: never PAM_SUCCESS, never a crash.
  Check("empty password: PAM_AUTH_ERR", "imap", "alice", Password(""), {kAuthErr},
        {"reason=bad-input"});
  Check("1 MiB password: PAM_AUTH_ERR", "imap", "alice", Password(std::string(1 << 20, 'a')),
        {kAuthErr});
  Check("valid password padded past 512 bytes: PAM_AUTH_ERR", "imap", "alice",
        Password(all.password + std::string(600, ' ')), {kAuthErr}, {"reason=bad-input"},
        all.password);
  Check("password of another alphabet: PAM_AUTH_ERR", "imap", "alice", Password("pässwörd-ü"),
        {kAuthErr});
  Check("invalid UTF-8 user name: PAM_AUTH_ERR", "imap", "al\xff\xfeice", Password(all.password),
        {kAuthErr}, {"reason=bad-input"}, all.password);
  Check("1 MiB user name: PAM_AUTH_ERR", "imap", std::string(1 << 20, 'a').c_str(),
        Password(all.password), {kAuthErr}, {}, all.password);
  Check("empty user name: PAM_AUTH_ERR", "imap", "", Password(all.password), {kAuthErr}, {},
        all.password);
  Check("user name with a control character: PAM_AUTH_ERR", "imap", "alice\n",
        Password(all.password), {kAuthErr}, {}, all.password);
  {
    Conv c = Password("wrong");
    const Outcome o = Transaction("imap", "x\naccepted service=imap user=alice", c, {kAuthErr});
    Report(o.ok && o.log.size() == 1 && !Forged(o) &&
               LogHas(o,
                      "user=x\\x0aaccepted\\x20service\\x3dimap\\x20user\\x3dalice rhost=- "
                      "reason=bad-input"),
           "user name with a newline cannot forge a log line", !o.ok ? o.why : LogText(o));
  }
  // A NUL inside a password cannot be passed: PAM strings are C strings.
  std::printf("ok - password with an embedded NUL # SKIP impossible through PAM's C strings\n");

  // --- Last use is recorded by an accepted authentication.
  {
    const nlohmann::json list = ToolJson({"list", "alice", "--json"});
    bool found = false;
    for (const auto& item : list)
      if (item.at("id") == pop3.id) found = item.at("last_service").is_string();
    Report(found, "an accepted login records last use", list.dump());
  }

  std::printf("1..%d\n%d of %d checks failed\n", g_checks, g_failures, g_checks);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MODULE APPPASS_TOOL PAM_WRAPPER_MODULE_DIR PAM_DENY\n",
                 argv[0]);
    return 2;
  }
  g.module = argv[1];
  g.tool = argv[2];
  g.wrapper_modules = argv[3];
  g.pam_deny = argv[4];
  for (const std::string* p : {&g.module, &g.tool, &g.pam_deny})
    if (!p->starts_with("/") || access(p->c_str(), R_OK) != 0)
      Die("not an absolute, readable path: " + *p);

  const char* dir = std::getenv(kStepEnv);
  if (dir == nullptr) {
    // Step 1: the service files, then start again under pam_wrapper.
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp == '/' ? tmp : "/tmp") + "/apppass-pamtest.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) Die("mkdtemp failed");
    g.dir = templ;
    g.store = g.dir + "/store";
    g.services = g.dir + "/services";
    WriteServices();
    return pamtest::RerunUnderPamWrapper(argv, kStepEnv, g.dir, g.services, "test_pam_module",
                                         true);
  }

  // Step 2: under pam_wrapper.
  g.dir = dir;
  g.store = g.dir + "/store";
  g.services = g.dir + "/services";
  g.capture = g.dir + "/stderr.txt";
  return pamtest::RunStep2("test_pam_module", RunChecks);
}
