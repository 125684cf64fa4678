// Fail-closed fault matrix and token length limits for pam_apppass.so, through the real
// libpam (pam_wrapper: service files of our own, never /etc/pam.d).
//
//   test_pam_faults MODULE APPPASS_TOOL SPY_MODULE WRAPPER_MODULE_DIR PAM_DENY PAM_PERMIT [--long]
//
// Must run with libapppass_fault.so and libpam_wrapper.so preloaded (CTest sets
// LD_PRELOAD). Like tests/pam/test_pam_module.cc it runs in two steps: it writes the
// service files, then runs itself again under pam_wrapper.
//
// Every fault runs in four stacks, each transaction in a child process (a crash is seen,
// not suffered):
//   req     auth required MODULE + auth required pam_permit.so     passes iff SUCCESS or IGNORE
//   die     auth [success=done ignore=ignore default=die] MODULE
//           + auth required pam_permit.so                           passes iff SUCCESS or IGNORE
//   deny    auth sufficient MODULE + auth required pam_deny.so       passes iff SUCCESS
//   permit  auth sufficient SPY MODULE + auth required pam_permit.so: passes whatever the
//           module says (the misconfiguration the README warns of), so the spy reports the
//           module's own return code: the specific refusal, never SUCCESS or IGNORE.
// In each the module logs exactly one decision line naming the reason. Each fault has a
// control (the same setup without the fault is accepted), so a refusal proves the fault.
//
// As uid 65534 the module asks apppassd (broker=) instead of opening the store: a fake
// daemon (tests/lib/fake_broker.py) that is not running, hangs, closes, sends garbage or
// answers wrong is PAM_AUTHINFO_UNAVAIL in every stack in under 2 s; its well-formed
// refusals are PAM_AUTH_ERR with the in-process decision line. With unenrolled=ignore,
// only a reply saying enrolled=no makes it PAM_IGNORE (a reply without the field counts
// as enrolled).
//
// totp mode (issue 12) in the same matrix: the store missing is PAM_AUTHINFO_UNAVAIL
// before anything is asked; a conversation that fails, answers nothing, answers NULL or
// only answers echo-on prompts is PAM_AUTH_ERR (reason=no-code), an empty code
// PAM_AUTH_ERR (bad-input); as uid 65534 with no apppassd, or one that hangs or answers
// garbage, PAM_AUTHINFO_UNAVAIL within 2 s; its well-formed refusals PAM_AUTH_ERR; with
// unenrolled=ignore, PAM_IGNORE without a prompt only when it says enrolled=no.
//
// Then allocation failure, swept over every allocation of one authentication (right and
// wrong password): the first of a process (which opens the store) and, since the module
// keeps its store across transactions (issue 14), a second one in the same process (the
// kept store, the kept usage database); and passwords of 511, 512, 513 bytes, 64 KiB and 1 MiB
// through libpamtest with the time per call. Prints "ok - ..." / "not ok - ..."; exits 1 if a check
// failed.
extern "C" {
#include <libpamtest.h>
}
#include <execinfo.h>
#include <grp.h>
#include <security/pam_appl.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "../lib/fake_broker.h"
#include "../lib/pam_conv.h"
#include "../lib/pam_rerun.h"
#include "fault_util.h"

namespace {

namespace fs = std::filesystem;
using faults::ChildResult;
using faults::RunChild;
using testlib::Die;
using testlib::Report;

constexpr const char* kStepEnv = "APPPASS_FAULTS_DIR";

struct Paths {
  std::string module, tool, spy, wrapper_modules, pam_deny, pam_permit;
  std::string dir, store, work, services;
  bool long_run = false;
};
Paths P;

// ---------------------------------------------------------------------------------------
// Service files: one family of four stacks per module configuration.

const char* const kStacks[] = {"req", "die", "deny", "permit"};

struct Family {
  std::string name;  // services NAME-req, NAME-die, NAME-deny, NAME-permit
  std::string args;  // module arguments
  bool set_items;    // pam_set_items.so first: PAM_AUTHTOK from the environment
};

// The fake apppassd's socket (tests/lib/fake_broker.h), where uid 65534 reaches it.
std::string BrokerSocket() { return P.dir + "/apppassd.sock"; }

std::vector<Family> Families() {
  return {
      {"good", "db=" + P.store, false},
      {"nostore", "db=" + P.dir + "/no-such-store", false},
      {"work", "db=" + P.work, false},
      {"firstpass", "db=" + P.store + " use_first_pass", true},
      {"broker", "db=" + P.store + " broker=" + BrokerSocket(), false},
      {"brokerignore", "db=" + P.store + " broker=" + BrokerSocket() + " unenrolled=ignore", false},
      {"totp", "totp db=" + P.store, false},
      {"totpnostore", "totp db=" + P.dir + "/no-such-store", false},
      {"totpbroker", "totp db=" + P.store + " broker=" + BrokerSocket(), false},
      {"totpbrokerignore", "totp unenrolled=ignore db=" + P.store + " broker=" + BrokerSocket(),
       false},
  };
}

void WriteServices() {
  fs::create_directory(P.services);
  testlib::WriteFile(P.services + "/other", "");
  const std::string items = "auth required " + P.wrapper_modules + "/pam_set_items.so\n";
  for (const Family& f : Families()) {
    const std::string pre = f.set_items ? items : "";
    const std::string mod = P.module + " " + f.args + "\n";
    const std::string permit = "auth required " + P.pam_permit + "\n";
    testlib::WriteFile(P.services + "/" + f.name + "-req", pre + "auth required " + mod + permit);
    testlib::WriteFile(P.services + "/" + f.name + "-die",
                       pre + "auth [success=done ignore=ignore default=die] " + mod + permit);
    testlib::WriteFile(P.services + "/" + f.name + "-deny",
                       pre + "auth sufficient " + mod + "auth required " + P.pam_deny + "\n");
    testlib::WriteFile(P.services + "/" + f.name + "-permit",
                       pre + "auth sufficient " + P.spy + " " + mod + permit);
  }
  // The same stacks around a stand-in that answers PAM_IGNORE: the self-test that shows
  // the stacks let an IGNORE through where the checks say they would.
  const std::string ignore = P.spy + " =ignore\n";
  const std::string permit = "auth required " + P.pam_permit + "\n";
  testlib::WriteFile(P.services + "/ignore-req", "auth required " + ignore + permit);
  testlib::WriteFile(P.services + "/ignore-die",
                     "auth [success=done ignore=ignore default=die] " + ignore + permit);
  testlib::WriteFile(P.services + "/ignore-deny",
                     "auth sufficient " + ignore + "auth required " + P.pam_deny + "\n");
  testlib::WriteFile(P.services + "/ignore-permit", "auth sufficient " + ignore + permit);
}

// ---------------------------------------------------------------------------------------
// Transactions.

// Each case answers every prompt with its password (tests/lib/pam_conv.h).
using Conv = testlib::ScriptedConv;
using ConvMode = testlib::ScriptedConv::Mode;
constexpr auto* ConvFn = &testlib::ScriptedConvFn;

struct Case {
  std::string service;
  std::string user = "alice";
  Conv conv;
  bool nobody = false;            // authenticate as uid/gid 65534
  bool sodium_fails = false;      // sodium_init() returns -1
  long alloc_nth = 0;             // the Nth allocation in pam_authenticate fails
  const char* authtok = nullptr;  // PAM_AUTHTOK for pam_set_items.so (nullptr: unset)
  bool pamtest = false;           // drive it through libpamtest instead of the raw API
  double max_seconds = 0;         // > 0: pam_authenticate must return sooner
  // A clean transaction first in the same process: the one measured then uses the store
  // (and usage database) the module kept from it.
  bool warm = false;
};

struct Tx {
  ChildResult child;
  int rc = -1;      // what pam_authenticate returned
  int spy_rc = -1;  // the module's own code in the "permit" stack (-1: the spy did not run)
  int asked = 0;    // prompts the conversation saw
  faults::FaultStats stats;
  double seconds = 0;
  std::vector<std::string> log;  // the module's decision lines
  std::string crash_frames;      // a crashed child's first stack frames, if it printed any
};

bool IsDecisionLine(const std::string& l) {
  return l.starts_with("accepted service=") || l.starts_with("refused service=") ||
         l.starts_with("error service=") || l.starts_with("error reason=") ||
         l.starts_with("ignored service=");
}

std::vector<std::string> DecisionLines(const std::string& captured) {
  std::vector<std::string> out;
  std::istringstream in(captured);
  for (std::string line; std::getline(in, line);) {
    const auto p = line.find("SYSLOG(");
    if (p == std::string::npos) continue;
    const auto q = line.find("): ", p);
    if (q == std::string::npos) continue;
    std::string text = line.substr(q + 3);
    if (IsDecisionLine(text)) out.push_back(text);
  }
  return out;
}

std::string CapturePath(pid_t pid) { return P.dir + "/stderr." + std::to_string(pid); }

// A child that dies of an exception says where (frames as module(+offset), for addr2line).
[[noreturn]] void TerminateWithStack() {
  void* frames[32];
  const int n = backtrace(frames, 32);
  std::fprintf(stderr, "terminate called; stack:\n");
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  std::abort();
}

// Runs one transaction in this process; returns it as text for the parent.
std::string DoTx(Case c) {
  std::set_terminate(TerminateWithStack);
  const std::string cap = CapturePath(getpid());
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int fd = open(cap.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (saved < 0 || fd < 0) Die("cannot capture stderr");
  dup2(fd, STDERR_FILENO);
  close(fd);
  // Kept loaded, so that the spy can still load it after the privileges are dropped.
  void* keep = dlopen(P.module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (c.warm) {
    Conv warm_conv = c.conv;
    pam_handle_t* ph = nullptr;
    const pam_conv pc{ConvFn, &warm_conv};
    if (pam_start(c.service.c_str(), c.user.c_str(), &pc, &ph) != PAM_SUCCESS)
      Die("pam_start failed");
    pam_end(ph, pam_authenticate(ph, 0));
    // Its lines are not this transaction's.
    std::fflush(stderr);
    if (ftruncate(STDERR_FILENO, 0) != 0 || lseek(STDERR_FILENO, 0, SEEK_SET) != 0)
      Die("cannot reset the capture");
  }
  if (c.authtok != nullptr) setenv("PAM_AUTHTOK", c.authtok, 1);
  int rc = -1, spy = -1;
  faults::FaultStats stats;
  const auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  if (c.pamtest) {
    pam_testcase tc{};
    tc.pam_operation = PAMTEST_AUTHENTICATE;
    tc.expected_rv = PAM_SUCCESS;
    faults::FaultSet(c.alloc_nth, c.sodium_fails);
    _pamtest_conv(c.service.c_str(), c.user.c_str(), ConvFn, &c.conv, &tc, 1, nullptr);
    secs = faults::Since(t0);
    stats = faults::FaultGet();
    rc = tc.op_rv;
  } else {
    pam_handle_t* ph = nullptr;
    const pam_conv pc{ConvFn, &c.conv};
    if (pam_start(c.service.c_str(), c.user.c_str(), &pc, &ph) != PAM_SUCCESS)
      Die("pam_start failed");
    if (c.nobody && !faults::BecomeNobody()) Die("cannot become nobody");
    faults::FaultSet(c.alloc_nth, c.sodium_fails);  // counts from here
    rc = pam_authenticate(ph, 0);
    secs = faults::Since(t0);
    stats = faults::FaultGet();
    faults::FaultSet(0, false);
    if (const char* s = pam_getenv(ph, "APPPASS_SPY_RC")) spy = std::atoi(s);
    pam_end(ph, rc);
  }
  if (keep != nullptr) dlclose(keep);
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out = fmt::format("{} {} {} {} {} {} {:.6f}", rc, spy, c.conv.asked(),
                                stats.allocations, stats.fired_at, stats.marker, secs);
  for (const std::string& l : DecisionLines(faults::ReadAll(cap))) out += "\n" + l;
  unlink(cap.c_str());
  return out;
}

Tx Parse(const ChildResult& r) {
  Tx t;
  t.child = r;
  if (!r.exited) return t;
  std::istringstream in(r.out);
  std::string first;
  std::getline(in, first);
  std::istringstream nums(first);
  if (!(nums >> t.rc >> t.spy_rc >> t.asked >> t.stats.allocations >> t.stats.fired_at >>
        t.stats.marker >> t.seconds)) {
    // The child's own code failed (it says why): never read as a PAM code (0 is PAM_SUCCESS).
    t.child.exited = false;
    t.rc = t.spy_rc = -1;
    t.crash_frames = first.substr(0, 200);
  }
  for (std::string l; std::getline(in, l);) t.log.push_back(l);
  return t;
}

// One transaction in a child process; `*wrapper_failed`: pam_wrapper's own set-up in the
// child failed (RunTx).
Tx RunTxOnce(const Case& c, bool* wrapper_failed) {
  Tx t = Parse(RunChild([&] { return DoTx(c); }));
  if (!t.child.exited) {
    // What the child managed to print (a sanitizer report, for one) is in its capture.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(P.dir, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with("stderr.")) continue;
      std::istringstream in(faults::ReadAll(e.path().string()));
      int frames = 0;
      std::vector<std::string> tail;
      for (std::string l; std::getline(in, l);) {
        if (l.find("    #") == 0 && frames < 6)
          t.crash_frames += (frames++ ? " | " : "") + l.substr(4, 160);
        if (l.starts_with("PWRAP_ERROR") && l.find(" - pwrap_init: ") != std::string::npos &&
            t.child.signal == 0 && t.child.status == 1)
          *wrapper_failed = true;
        if (l.find("PWRAP_") == std::string::npos && !l.empty()) tail.push_back(l);
      }
      // Without a sanitizer's stack, the last words of the process.
      const std::size_t keep = std::getenv("APPPASS_FAULTS_VERBOSE") != nullptr ? 200 : 14;
      if (frames == 0)
        for (std::size_t i = tail.size() > keep ? tail.size() - keep : 0; i < tail.size(); ++i)
          t.crash_frames += " | " + tail[i].substr(0, 200);
      fs::remove(e.path(), ec);
    }
  }
  return t;
}

// One transaction in a child process. pam_wrapper sets itself up again in every child (a
// directory /tmp/pam.X of its own, the services copied in) and exits with status 1 when
// that fails: its choice of X races with other processes doing the same at that moment
// (another pam_wrapper test under ctest -j). Such a child never reached our code, so it
// is run again, at most twice; any other end of a child is the case's answer.
Tx RunTx(const Case& c) {
  Tx t;
  for (int attempt = 1;; ++attempt) {
    bool wrapper_failed = false;
    t = RunTxOnce(c, &wrapper_failed);
    if (!wrapper_failed || attempt == 3) break;
    std::printf("# pam_wrapper could not set itself up in the child (%s); the case is run again\n",
                t.child.Describe().c_str());
  }
  return t;
}

std::string RcName(int rc) {
  if (rc == -1) return "(none)";
  return std::string(pam_strerror(nullptr, rc)) + " (" + std::to_string(rc) + ")";
}

std::string LogText(const Tx& t) {
  std::string s;
  for (const auto& l : t.log) s += (s.empty() ? "" : " | ") + l.substr(0, 240);
  return s.empty() ? "(no decision line)" : s;
}

// Exactly one decision line, containing `reason`.
std::string CheckLog(const Tx& t, const std::string& reason) {
  if (t.log.size() != 1)
    return std::to_string(t.log.size()) + " decision lines, want 1: " + LogText(t);
  if (t.log[0].find(reason) == std::string::npos)
    return "log lacks '" + reason + "': " + LogText(t);
  return "";
}

// The fault in all four stacks. `prepare` (re)creates the fault before each transaction.
// `want` is the module's own code; `reason` must be in its one decision line.
int g_matrix_cases = 0;
void Matrix(const std::string& fault, const std::string& family, Case c, int want,
            const std::string& reason, const std::function<void()>& prepare = {}) {
  for (const char* stack : kStacks) {
    if (prepare) prepare();
    c.service = family + "-" + stack;
    const Tx t = RunTx(c);
    ++g_matrix_cases;
    const std::string name = fault + " [" + stack + "]";
    std::string why;
    if (!t.child.exited) {
      why = "the authenticating process " + t.child.Describe() + " " + t.crash_frames;
    } else if (std::string(stack) == "permit") {
      // The stack passes by construction; the module's own answer is what counts.
      if (t.spy_rc == PAM_SUCCESS || t.spy_rc == PAM_IGNORE || t.spy_rc != want)
        why = "module returned " + RcName(t.spy_rc) + ", want " + RcName(want);
    } else if (t.rc == PAM_SUCCESS) {
      why = "the stack passed (PAM_SUCCESS)";
    } else if (std::string(stack) != "deny" && t.rc != want) {
      why = "stack returned " + RcName(t.rc) + ", want " + RcName(want);
    }
    if (why.empty()) why = CheckLog(t, reason);
    if (why.empty() && c.max_seconds > 0 && t.seconds >= c.max_seconds)
      why = fmt::format("took {:.3f} s, bound {} s", t.seconds, c.max_seconds);
    Report(why.empty(),
           name + ": " +
               (std::string(stack) == "permit" ? "module " + RcName(t.spy_rc) : RcName(t.rc)),
           why);
  }
}

// The same setup without the fault: accepted (so a refusal above is the fault's doing).
void Control(const std::string& what, const std::string& family, Case c,
             const std::function<void()>& prepare = {}) {
  if (prepare) prepare();
  c.service = family + "-req";
  const Tx t = RunTx(c);
  std::string why;
  if (!t.child.exited) why = "the authenticating process " + t.child.Describe();
  else if (t.rc != PAM_SUCCESS) why = "got " + RcName(t.rc) + "; " + LogText(t);
  else why = CheckLog(t, "accepted service=" + family + "-req user=" + c.user);
  Report(why.empty(), "control, " + what + ": accepted", why);
}

// ---------------------------------------------------------------------------------------

struct Store {
  testlib::Tool tool;
  testlib::Cred cred;     // alice's unscoped app password
  testlib::Cred revoked;  // one of alice's, revoked
};

const std::string kWrong = "abcd-efgh-jkmn-pqrs-tuvw";

Case Answer(const std::string& pw) {
  Case c;
  c.conv.echo_off = c.conv.echo_on = {pw};
  c.conv.repeat = true;
  return c;
}

// The module as uid 65534 against a fake apppassd (tests/lib/fake_broker.py) in each of
// its ways of being wrong: PAM_AUTHINFO_UNAVAIL in every stack within 2 s, one decision
// line saying why. Its right answers are decided as in-process ones; root ignores it.
void BrokerCases(const Store& s) {
  testlib::FakeBroker broker;
  auto start = [&](const std::string& mode, const std::vector<std::string>& lines = {}) {
    if (const std::string why = broker.Start(BrokerSocket(), mode, lines); !why.empty()) Die(why);
  };
  Case nobody = Answer(s.cred.password);
  nobody.nobody = true;
  nobody.max_seconds = 2.0;
  const std::string accepted = "OK\t{id}\toutcome=accepted\tid=" + s.cred.id + "\tname=phone";

  start("reply", {accepted});
  Control("as nobody, apppassd answers accepted", "broker", nobody);
  Control("as root with broker= set: the store in-process (the broker is not asked)", "broker",
          Answer(s.cred.password), [&] { broker.Stop(); });
  Matrix("as nobody, apppassd not running (no socket)", "broker", nobody, PAM_AUTHINFO_UNAVAIL,
         "reason=unavailable detail=\"the apppass service is not running (connect " +
             BrokerSocket() + ": No such file or directory)\"");
  const struct {
    std::string what, mode;
    std::vector<std::string> lines;
    int want;
    std::string reason;
  } rows[] = {
      {"accepts and never answers",
       "hang",
       {},
       PAM_AUTHINFO_UNAVAIL,
       "no answer from the apppass service within 1.5 s"},
      {"sends its version, then hangs",
       "version-hang",
       {},
       PAM_AUTHINFO_UNAVAIL,
       "no answer from the apppass service within 1.5 s"},
      {"closes at once", "close", {}, PAM_AUTHINFO_UNAVAIL, "closed the connection"},
      {"sends garbage",
       "garbage",
       {},
       PAM_AUTHINFO_UNAVAIL,
       "malformed reply from the apppass service"},
      {"answers another request's id",
       "reply",
       {"OK\t{other}\toutcome=accepted\tid=1"},
       PAM_AUTHINFO_UNAVAIL,
       "malformed reply from the apppass service"},
      {"answers accepted without an id",
       "reply",
       {"OK\t{id}\toutcome=accepted"},
       PAM_AUTHINFO_UNAVAIL,
       "accepted without an id"},
      {"answers an unknown outcome",
       "reply",
       {"OK\t{id}\toutcome=maybe"},
       PAM_AUTHINFO_UNAVAIL,
       "unknown outcome"},
      {"refuses the caller (FAIL denied)",
       "reply",
       {"FAIL\t{id}\tdenied\tnot allowed to verify"},
       PAM_AUTHINFO_UNAVAIL,
       "refused to verify: not allowed to verify"},
      {"answers wrong-password",
       "reply",
       {"OK\t{id}\toutcome=wrong-password"},
       PAM_AUTH_ERR,
       "reason=wrong-password"},
      {"answers revoked",
       "reply",
       {"OK\t{id}\toutcome=revoked\tid=" + s.cred.id + "\tname=phone"},
       PAM_AUTH_ERR,
       "reason=revoked id=" + s.cred.id + " name=phone"},
  };
  for (const auto& row : rows) {
    start(row.mode, row.lines);
    Matrix("as nobody, apppassd " + row.what, "broker", nobody, row.want, row.reason);
  }

  // unenrolled=ignore through the broker: only a reply that says enrolled=no hands the
  // user on (PAM_IGNORE); a reply without the field (an older apppassd) counts as
  // enrolled, so a real password never gets past an enrolled user's refusal.
  start("reply", {"OK\t{id}\toutcome=wrong-password\tenrolled=no"});
  {
    Case c = nobody;
    c.service = "brokerignore-permit";
    const Tx t = RunTx(c);
    Report(t.child.exited && t.spy_rc == PAM_IGNORE &&
               CheckLog(t,
                        "ignored service=brokerignore-permit user=alice rhost=- "
                        "reason=not-enrolled")
                   .empty(),
           "unenrolled=ignore as nobody, apppassd answers wrong-password enrolled=no: module "
           "PAM_IGNORE",
           "module " + RcName(t.spy_rc) + " " + LogText(t));
  }
  start("reply", {"OK\t{id}\toutcome=wrong-password\tenrolled=yes"});
  Matrix("unenrolled=ignore as nobody, apppassd answers wrong-password enrolled=yes",
         "brokerignore", nobody, PAM_AUTH_ERR, "reason=wrong-password");
  start("reply", {"OK\t{id}\toutcome=wrong-password"});
  Matrix("unenrolled=ignore as nobody, apppassd answers wrong-password without enrolled=",
         "brokerignore", nobody, PAM_AUTH_ERR, "reason=wrong-password");
  broker.Stop();
  Matrix("unenrolled=ignore as nobody, apppassd not running", "brokerignore", nobody,
         PAM_AUTHINFO_UNAVAIL, "reason=unavailable");
}

// totp mode: the code step fails closed the same way. tina is enrolled here, right before
// the control, so that the next step's code (the confirmation spent the current one) is
// still good for it; the faults below never get as far as checking a code, so they spend
// nothing and count no failure.
void TotpCases(const Store& s) {
  const nlohmann::json e = s.tool.Json({"mfa", "enroll", "tina", "--json"});
  const std::string secret = e.at("secret").get<std::string>();
  const std::time_t now = std::time(nullptr);
  s.tool.Ok({"mfa", "confirm", "tina", testlib::TotpCodeAt(secret, now)});
  Case code = Answer(testlib::TotpCodeAt(secret, now + 30));
  code.user = "tina";
  Control("totp, the next step's code", "totp", code);
  {
    const Tx again = RunTx([&] {
      Case c = code;
      c.service = "totp-req";
      return c;
    }());
    Report(again.child.exited && again.rc == PAM_AUTH_ERR &&
               CheckLog(again, "factor=totp reason=reused-code").empty(),
           "control, totp: the same code again is refused (reused-code)",
           RcName(again.rc) + " " + LogText(again));
  }

  Case asked = code;
  asked.max_seconds = 2.0;
  Matrix("totp: store missing", "totpnostore", asked, PAM_AUTHINFO_UNAVAIL,
         "factor=totp reason=unavailable");
  Case conv_err = code;
  conv_err.conv.mode = ConvMode::kConvErr;
  Matrix("totp: conversation returns PAM_CONV_ERR", "totp", conv_err, PAM_AUTH_ERR,
         "factor=totp reason=no-code");
  Case null_resp = code;
  null_resp.conv.mode = ConvMode::kNullResp;
  Matrix("totp: conversation succeeds with no response array", "totp", null_resp, PAM_AUTH_ERR,
         "factor=totp reason=no-code");
  Case null_answer = code;
  null_answer.conv.mode = ConvMode::kNullAnswer;
  Matrix("totp: conversation answers a NULL code", "totp", null_answer, PAM_AUTH_ERR,
         "factor=totp reason=no-code");
  // The code is asked with echo off: a conversation that would answer only an echo-on
  // prompt (with the right code) has nothing to say.
  Case echo_on = code;
  echo_on.conv.echo_on = echo_on.conv.echo_off;
  echo_on.conv.echo_off.clear();
  Matrix("totp: conversation answers only echo-on prompts", "totp", echo_on, PAM_AUTH_ERR,
         "factor=totp reason=no-code");
  Case empty = Answer("");
  empty.user = "tina";
  Matrix("totp: conversation answers an empty code", "totp", empty, PAM_AUTH_ERR,
         "factor=totp reason=bad-input");

  // Not root: apppassd is asked (CODE), and fails closed within 2 s.
  Case nobody = code;
  nobody.nobody = true;
  nobody.max_seconds = 2.0;
  Matrix("totp as nobody, apppassd not running (no socket)", "totpbroker", nobody,
         PAM_AUTHINFO_UNAVAIL, "factor=totp reason=unavailable");
  testlib::FakeBroker broker;
  auto start = [&](const std::string& mode, const std::vector<std::string>& lines = {}) {
    if (const std::string why = broker.Start(BrokerSocket(), mode, lines); !why.empty()) Die(why);
  };
  start("reply", {"OK\t{id}\toutcome=accepted"});
  Control("totp as nobody, apppassd answers accepted", "totpbroker", nobody);
  const struct {
    std::string what, mode;
    std::vector<std::string> lines;
    int want;
    std::string reason;
  } rows[] = {
      {"accepts and never answers", "hang", {}, PAM_AUTHINFO_UNAVAIL, "reason=unavailable"},
      {"closes at once", "close", {}, PAM_AUTHINFO_UNAVAIL, "reason=unavailable"},
      {"sends garbage", "garbage", {}, PAM_AUTHINFO_UNAVAIL, "reason=unavailable"},
      {"answers an unknown outcome",
       "reply",
       {"OK\t{id}\toutcome=maybe"},
       PAM_AUTHINFO_UNAVAIL,
       "reason=unavailable"},
      {"refuses the caller (FAIL denied)",
       "reply",
       {"FAIL\t{id}\tdenied\tnot allowed"},
       PAM_AUTHINFO_UNAVAIL,
       "reason=unavailable"},
      {"answers wrong-code",
       "reply",
       {"OK\t{id}\toutcome=wrong-code"},
       PAM_AUTH_ERR,
       "reason=wrong-code"},
      {"answers reused-code",
       "reply",
       {"OK\t{id}\toutcome=reused-code"},
       PAM_AUTH_ERR,
       "reason=reused-code"},
      {"answers throttled",
       "reply",
       {"OK\t{id}\toutcome=throttled"},
       PAM_AUTH_ERR,
       "reason=throttled"},
  };
  for (const auto& row : rows) {
    start(row.mode, row.lines);
    Matrix("totp as nobody, apppassd " + row.what, "totpbroker", nobody, row.want,
           "factor=totp " + row.reason);
  }

  // totp with unenrolled=ignore as nobody: the enrollment probe (ENROLLED) first.
  // enrolled=no is PAM_IGNORE without a prompt; enrolled=yes goes on to the code (the
  // same fake reply carries the CODE's outcome); anything else fails closed.
  start("reply", {"OK\t{id}\tenrolled=no"});
  {
    Case c = nobody;
    c.service = "totpbrokerignore-permit";
    const Tx t = RunTx(c);
    Report(t.child.exited && t.spy_rc == PAM_IGNORE && t.asked == 0 &&
               CheckLog(t,
                        "ignored service=totpbrokerignore-permit user=tina rhost=- factor=totp "
                        "reason=not-enrolled")
                   .empty(),
           "totp unenrolled=ignore as nobody, apppassd says enrolled=no: module PAM_IGNORE, "
           "nothing asked",
           "module " + RcName(t.spy_rc) + ", asked " + std::to_string(t.asked) + " " + LogText(t));
  }
  start("reply", {"OK\t{id}\tenrolled=yes\toutcome=wrong-code"});
  Matrix("totp unenrolled=ignore as nobody, apppassd says enrolled=yes, then wrong-code",
         "totpbrokerignore", nobody, PAM_AUTH_ERR, "factor=totp reason=wrong-code");
  start("reply", {"OK\t{id}\toutcome=wrong-code"});
  Matrix("totp unenrolled=ignore as nobody, apppassd answers the probe without enrolled=",
         "totpbrokerignore", nobody, PAM_AUTHINFO_UNAVAIL, "factor=totp reason=unavailable");
  start("hang");
  Matrix("totp unenrolled=ignore as nobody, apppassd never answers the probe", "totpbrokerignore",
         nobody, PAM_AUTHINFO_UNAVAIL, "factor=totp reason=unavailable");
  broker.Stop();
  Matrix("totp unenrolled=ignore as nobody, apppassd not running", "totpbrokerignore", nobody,
         PAM_AUTHINFO_UNAVAIL, "factor=totp reason=unavailable");
}

void FaultMatrix(const Store& s) {
  const std::string& pw = s.cred.password;

  // Self-test of the stacks: a module answering PAM_IGNORE passes req and die (so the
  // checks below, "the stack did not pass", catch an IGNORE), deny refuses it, and the
  // spy reports it in permit.
  for (const char* stack : kStacks) {
    Case c = Answer(pw);
    c.service = std::string("ignore-") + stack;
    const Tx t = RunTx(c);
    const std::string st = stack;
    const bool want_pass = st == "req" || st == "die" || st == "permit";
    const bool ok = t.child.exited && (t.rc == PAM_SUCCESS) == want_pass &&
                    (st != "permit" || t.spy_rc == PAM_IGNORE);
    Report(ok,
           "self-test: a module answering PAM_IGNORE " +
               std::string(want_pass ? "passes" : "does not pass") + " the " + st + " stack",
           t.child.exited ? "stack " + RcName(t.rc) + ", spy " + RcName(t.spy_rc)
                          : t.child.Describe());
  }

  // --- Store missing.
  Matrix("store missing", "nostore", Answer(pw), PAM_AUTHINFO_UNAVAIL, "reason=unavailable");
  Control("the store present", "good", Answer(pw));

  // --- Not root (a mail service's own user): the module never opens the store, which is
  // root's alone (issue 11), even where the old layout let its group read it; it asks
  // apppassd (broker=), and fails closed within 2 s whatever the daemon does.
  Case nobody = Answer(pw);
  nobody.nobody = true;
  Matrix("not root, with the old group-readable store (no apppassd on the default socket)", "work",
         nobody, PAM_AUTHINFO_UNAVAIL, "reason=unavailable",
         [&] { faults::CopyStoreForNobody(P.store, P.work); });
  BrokerCases(s);

  // --- Corrupt pages.
  Control("an undamaged copy", "work", Answer(pw), [&] { faults::CopyStore(P.store, P.work); });
  for (const faults::Damage& d : faults::DeterministicDamage(s.cred.id))
    Matrix("corrupt: " + d.name, "work", Answer(pw), PAM_AUTHINFO_UNAVAIL, "reason=unavailable",
           [&] {
             faults::CopyStore(P.store, P.work);
             d.apply(P.work + "/data.mdb");
           });

  // --- Reader table full: another process holds every slot.
  {
    faults::CopyStore(P.store, P.work);
    {
      faults::ReaderHog hog(P.work, 1);
      Control("another process holds all reader slots but one (" + std::to_string(hog.held()) + ")",
              "work", Answer(pw));
    }
    faults::ReaderHog hog(P.work, 0);
    Report(hog.held() >= 126, "a helper process holds the whole reader table",
           "held " + std::to_string(hog.held()));
    std::printf("# reader table: %d read transactions held by one process\n", hog.held());
    Matrix("reader table full (" + std::to_string(hog.held()) + " slots held)", "work", Answer(pw),
           PAM_AUTHINFO_UNAVAIL, "MDB_READERS_FULL");
  }
  Control("after the reader table was released", "work", Answer(pw));

  // --- libsodium fails to initialize.
  Case sodium = Answer(pw);
  sodium.sodium_fails = true;
  Matrix("sodium_init() fails", "good", sodium, PAM_AUTHINFO_UNAVAIL, "reason=unavailable");

  // --- Conversation failures.
  Case conv_err = Answer(pw);
  conv_err.conv.mode = ConvMode::kConvErr;
  Matrix("conversation returns PAM_CONV_ERR", "good", conv_err, PAM_AUTH_ERR, "reason=no-password");
  Case null_resp = Answer(pw);
  null_resp.conv.mode = ConvMode::kNullResp;
  Matrix("conversation succeeds with no response array", "good", null_resp, PAM_AUTH_ERR,
         "reason=no-password");
  Case null_answer = Answer(pw);
  null_answer.conv.mode = ConvMode::kNullAnswer;
  Matrix("conversation answers a NULL password", "good", null_answer, PAM_AUTH_ERR,
         "reason=no-password");
  Matrix("conversation answers an empty password", "good", Answer(""), PAM_AUTH_ERR,
         "reason=bad-input");

  // --- NULL or empty PAM_AUTHTOK from the module above (use_first_pass).
  Case null_tok = Answer(pw);  // the conversation would answer; use_first_pass must not ask
  Matrix("PAM_AUTHTOK NULL with use_first_pass", "firstpass", null_tok, PAM_AUTH_ERR,
         "reason=no-password");
  Case empty_tok = Answer(pw);
  empty_tok.authtok = "";
  Matrix("PAM_AUTHTOK empty with use_first_pass", "firstpass", empty_tok, PAM_AUTH_ERR,
         "reason=bad-input");
  Case good_tok = Answer("");
  good_tok.authtok = pw.c_str();
  Control("PAM_AUTHTOK set to the app password with use_first_pass", "firstpass", good_tok);

  TotpCases(s);
}

// Random garbage in data pages: counted, never accepted with a wrong password.
void RandomCorruption(const Store& s) {
  const int rounds = P.long_run ? 1000 : 24;
  const std::uint64_t seed = 20261122;
  std::mt19937_64 rng(seed);
  int crashed = 0, refused_wrong = 0, accepted_wrong = 0, accepted_right = 0, refused_right = 0;
  std::string first_crash;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    faults::CopyStore(P.store, P.work);
    const std::string where = faults::RandomDamage(P.work + "/data.mdb", rng);
    for (bool right : {false, true}) {
      Case c = Answer(right ? s.cred.password : kWrong);
      c.service = "work-req";
      const Tx t = RunTx(c);
      if (!t.child.exited) {
        ++crashed;
        if (first_crash.empty())
          first_crash = where + ": " + t.child.Describe() + " " + t.crash_frames;
      } else if (t.rc == PAM_SUCCESS) {
        ++(right ? accepted_right : accepted_wrong);
        if (!right) std::printf("# wrong password accepted after damage at %s\n", where.c_str());
      } else {
        ++(right ? refused_right : refused_wrong);
      }
    }
  }
  std::printf(
      "# random data-page garbage: %d stores (seed %llu), %d authentications in %.1f s: "
      "wrong password refused %d, accepted %d; right password accepted %d (damage "
      "elsewhere), refused %d; crashed %d\n",
      rounds, static_cast<unsigned long long>(seed), 2 * rounds, faults::Since(t0), refused_wrong,
      accepted_wrong, accepted_right, refused_right, crashed);
  if (!first_crash.empty()) std::printf("# first crash: %s\n", first_crash.c_str());
  Report(accepted_wrong == 0, "random garbage in data pages (" + std::to_string(rounds) +
                                  " stores): a wrong password is never accepted (" +
                                  std::to_string(crashed) + " of " + std::to_string(2 * rounds) +
                                  " authentications crashed, reported above)");
}

// The admin tool grows data.mdb between authentications of one long-lived process.
void MapResized(const Store& s) {
  faults::CopyStore(P.store, P.work);
  const testlib::Tool tool{P.tool, P.work};
  const std::size_t before = faults::FileSize(P.work + "/data.mdb");
  const int creates = 120;
  const ChildResult r = RunChild(
      [&] {
        auto one = [&](const std::string& pw) {
          Case c = Answer(pw);
          c.service = "work-req";
          const Tx t = Parse(ChildResult{true, 0, 0, false, DoTx(c)});
          return t.rc;
        };
        std::string out = std::to_string(one(s.cred.password));
        std::string last;
        tool.Ok({"policy", "set", "max_active", "1000"});  // more than the default 25
        for (int i = 0; i < creates; ++i)
          last = testlib::Create(tool, "alice", "grow-" + std::to_string(i)).password;
        out += " " + std::to_string(one(s.cred.password)) + " " + std::to_string(one(last)) + " " +
               std::to_string(one(kWrong));
        return out;
      },
      300);
  const std::size_t after = faults::FileSize(P.work + "/data.mdb");
  int a = -1, b = -1, c = -1, d = -1;
  std::istringstream(r.out) >> a >> b >> c >> d;
  std::printf(
      "# map resized: data.mdb grew from %zu to %zu bytes (%d creates) between "
      "authentications of one process\n",
      before, after, creates);
  Report(r.exited && a == PAM_SUCCESS && b == PAM_SUCCESS && c == PAM_SUCCESS &&
             d == PAM_AUTH_ERR && after > before,
         "map resized by the admin tool: the same process still accepts old and new passwords "
         "and refuses a wrong one",
         r.exited ? r.out : r.Describe());
}

// Allocation failure at every allocation pam_authenticate makes (libpam, the stack, the
// conversation and the module): never a crash; a wrong password never succeeds; the right
// one succeeds only when the failed allocation came after the decision.
void AllocationSweep(const Store& s) {
  struct Kind {
    std::string label, password;
    bool right, warm;
  };
  const Kind kinds[] = {{"right", s.cred.password, true, false},
                        {"wrong", kWrong, false, false},
                        {"revoked", s.revoked.password, false, false},
                        {"right, kept store", s.cred.password, true, true},
                        {"wrong, kept store", kWrong, false, true}};
  for (const Kind& kind : kinds) {
    // CI: right and wrong, and right with the kept store (the accepted path: kept store,
    // kept usage database).
    if ((kind.label == "revoked" || kind.label == "wrong, kept store") && !P.long_run) continue;
    const bool right = kind.right;
    Case c = Answer(kind.password);
    c.service = "good-req";
    c.warm = kind.warm;
    const Tx clean = RunTx(c);
    const long total = clean.stats.allocations;
    if (!clean.child.exited || total <= 0 || clean.rc != (right ? PAM_SUCCESS : PAM_AUTH_ERR)) {
      Report(false, "allocation count of one authentication",
             clean.child.Describe() + " " + RcName(clean.rc));
      continue;
    }
    const long step = P.long_run || total <= 1500 ? 1 : total / 1500 + 1;
    int crashes = 0, bad = 0, ok_after = 0, ok_tolerated = 0, refused_before = 0, refused_after = 0,
        tried = 0;
    std::string first_bad;
    const auto t0 = std::chrono::steady_clock::now();
    for (long n = 1; n <= total + 1; n += step) {
      c.alloc_nth = n;
      const Tx t = RunTx(c);
      ++tried;
      std::string why;
      if (!t.child.exited) {
        ++crashes;
        why = "allocation " + std::to_string(n) + ": the process " + t.child.Describe() + " " +
              t.crash_frames;
      } else if (t.rc == PAM_SUCCESS) {
        // Success is right only for the right password, and only when the verifier decided
        // before the fault, or decided "accepted" despite it (a failure it tolerates, such
        // as in the decoy decoding that only evens out the timing): its accepted line says so.
        const bool after =
            t.stats.fired_at == 0 || (t.stats.marker >= 0 && t.stats.fired_at > t.stats.marker);
        const bool decided =
            CheckLog(t, "accepted service=good-req user=alice rhost=- id=" + s.cred.id).empty();
        if (!right || !(after || decided))
          why = "allocation " + std::to_string(n) + " failed (decision at " +
                std::to_string(t.stats.marker) + ") and the stack passed";
        else ++(after ? ok_after : ok_tolerated);
      } else if (t.rc == PAM_IGNORE) {
        why = "allocation " + std::to_string(n) + ": PAM_IGNORE";
      } else {
        ++(t.stats.marker >= 0 && t.stats.fired_at > t.stats.marker ? refused_after
                                                                    : refused_before);
      }
      if (!why.empty()) {
        ++bad;
        if (first_bad.empty()) first_bad = why;
        std::printf("#   %s\n", why.c_str());
      }
    }
    const std::string& pw = kind.label;
    std::printf(
        "# allocation sweep, %s password: %ld allocations per authentication (decision after "
        "%ld), %d failed one at a time%s in %.1f s: refused %d (fault before the decision) + "
        "%d (after); accepted %d (fault after the decision) + %d (a failure the verifier "
        "tolerates, its accepted line logged); crashed %d\n",
        pw.c_str(), total, clean.stats.marker, tried,
        step > 1 ? (" (every " + std::to_string(step) + "th)").c_str() : "", faults::Since(t0),
        refused_before, refused_after, ok_after, ok_tolerated, crashes);
    Report(bad == 0,
           "allocation failure, " + pw + " password: each of " + std::to_string(tried) +
               " allocations failed in turn: no crash, " +
               (right ? "success only when the verifier decided accepted" : "never success"),
           first_bad);
  }
}

// Passwords around and far over the 512-byte limit, through libpamtest.
void TokenLengths(const Store& s) {
  const std::string& pw = s.cred.password;
  auto pad = [](std::string base, std::size_t n, char c) {
    base.resize(n, c);
    return base;
  };
  struct Row {
    std::string name, password;
    int want;
    std::string reason;
  };
  const std::vector<Row> rows = {
      {"app password + spaces to 511 bytes", pad(pw, 511, ' '), PAM_SUCCESS, "accepted"},
      {"app password + spaces to 512 bytes (the limit)", pad(pw, 512, ' '), PAM_SUCCESS,
       "accepted"},
      {"app password + dashes to 512 bytes", pad(pw, 512, '-'), PAM_SUCCESS, "accepted"},
      {"app password + spaces to 513 bytes", pad(pw, 513, ' '), PAM_AUTH_ERR,
       "reason=bad-input detail=\"password longer than 512 bytes\""},
      {"app password + dashes to 513 bytes", pad(pw, 513, '-'), PAM_AUTH_ERR, "reason=bad-input"},
      {"spaces to 513 bytes, then the app password", std::string(513 - pw.size(), ' ') + pw,
       PAM_AUTH_ERR, "reason=bad-input"},
      {"app password + spaces to 64 KiB", pad(pw, 64 * 1024, ' '), PAM_AUTH_ERR,
       "reason=bad-input"},
      {"app password + spaces to 1 MiB", pad(pw, 1 << 20, ' '), PAM_AUTH_ERR, "reason=bad-input"},
      {"app password + 'x' junk to 512 bytes", pad(pw, 512, 'x'), PAM_AUTH_ERR,
       "reason=wrong-password"},
      {"app password + one junk letter", pw + "a", PAM_AUTH_ERR, "reason=wrong-password"},
      {"511 bytes of 'a'", std::string(511, 'a'), PAM_AUTH_ERR, "reason=wrong-password"},
      {"512 bytes of 'a'", std::string(512, 'a'), PAM_AUTH_ERR, "reason=wrong-password"},
      {"513 bytes of 'a'", std::string(513, 'a'), PAM_AUTH_ERR, "reason=bad-input"},
      {"64 KiB of 'a'", std::string(64 * 1024, 'a'), PAM_AUTH_ERR, "reason=bad-input"},
      {"1 MiB of 'a'", std::string(1 << 20, 'a'), PAM_AUTH_ERR, "reason=bad-input"},
  };
  for (const Row& row : rows) {
    for (const char* stack : {"req", "deny"}) {
      Case c = Answer(row.password);
      c.service = std::string("good-") + stack;
      c.pamtest = true;
      const Tx t = RunTx(c);
      std::string why;
      if (!t.child.exited) why = "the process " + t.child.Describe();
      else if (t.rc != row.want) why = "got " + RcName(t.rc) + ", want " + RcName(row.want);
      else if (t.seconds >= 1.0) why = fmt::format("took {:.3f} s (bound 1 s)", t.seconds);
      else why = CheckLog(t, row.reason);
      Report(why.empty(),
             fmt::format("token length [libpamtest, {}]: {} ({} bytes): {} in {:.3f} ms", stack,
                         row.name, row.password.size(),
                         row.want == PAM_SUCCESS ? "accepted" : "refused", t.seconds * 1000),
             why);
    }
  }
}

int RunChecks() {
  Store s{testlib::Tool{P.tool, P.store}, {}};
  s.tool.Ok({"init"});
  testlib::Enroll(s.tool, "alice");
  s.cred = testlib::Create(s.tool, "alice", "laptop");
  s.revoked = testlib::Create(s.tool, "alice", "old phone");
  s.tool.Ok({"revoke", "alice", s.revoked.id});
  if (chmod(P.dir.c_str(), 0711) != 0) Die("chmod failed");  // nobody reaches the broker socket
  if (!faults::FaultLibLoaded()) Die("libapppass_fault.so must be in LD_PRELOAD");

  const auto t0 = std::chrono::steady_clock::now();
  FaultMatrix(s);
  std::printf("# fault matrix: %d transactions in %.1f s\n", g_matrix_cases, faults::Since(t0));
  RandomCorruption(s);
  MapResized(s);
  AllocationSweep(s);
  TokenLengths(s);
  std::printf("1..%d\n%d of %d checks failed\n", testlib::g_checks, testlib::g_failures,
              testlib::g_checks);
  return testlib::g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(
        stderr,
        "usage: %s MODULE APPPASS_TOOL SPY WRAPPER_MODULE_DIR PAM_DENY PAM_PERMIT [--long]\n",
        argv[0]);
    return 2;
  }
  P.module = argv[1];
  P.tool = argv[2];
  P.spy = argv[3];
  P.wrapper_modules = argv[4];
  P.pam_deny = argv[5];
  P.pam_permit = argv[6];
  P.long_run = argc == 8 && std::string(argv[7]) == "--long";
  for (const std::string* p : {&P.module, &P.tool, &P.spy, &P.pam_deny, &P.pam_permit})
    if (!p->starts_with("/") || access(p->c_str(), R_OK) != 0)
      Die("not an absolute, readable path: " + *p);

  const char* dir = std::getenv(kStepEnv);
  if (dir == nullptr) {
    // Step 1: the service files, then start again under pam_wrapper.
    P.dir = testlib::MakeTempDir("apppass-faults");
    P.store = P.dir + "/store";
    P.work = P.dir + "/work";
    P.services = P.dir + "/services";
    WriteServices();
    return pamtest::RerunUnderPamWrapper(argv, kStepEnv, P.dir, P.services, "test_pam_faults",
                                         true);
  }
  P.dir = dir;
  P.store = P.dir + "/store";
  P.work = P.dir + "/work";
  P.services = P.dir + "/services";
  return pamtest::RunStep2("test_pam_faults", RunChecks);
}
