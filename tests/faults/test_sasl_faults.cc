// Fail-closed fault matrix and token length limits for the SASL plugin (libapppass.so),
// in process with the real libsasl2, PLAIN and LOGIN.
//
//   test_sasl_faults PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2 [--long]
//
// Must run with libapppass_fault.so preloaded (CTest sets LD_PRELOAD). The server loads
// our plugin and the stock ones (PLAIN, LOGIN, sasldb), and the stock sasldb holds the
// user's app password as her password: a login handed to a stock plugin would succeed, so
// every refusal below also proves that the plugin kept the login (and its decision line,
// "apppass: ...", says it decided). Each case runs in a child process (sasl_server_init is
// once per process; a crash is seen, not suffered). Faults at plug_init (store missing,
// corrupt pages, reader table full, sodium_init failing; as uid 65534, the old
// group-readable store never opened, and a fake apppassd that is not running, hangs,
// closes, sends garbage or answers wrong, within 2 s) and after it (reader table full,
// the store grown by the admin tool, pages damaged under the running server, allocation
// failure swept over one exchange), empty and missing
// passwords, and passwords of 511 B to 1 MiB. Prints "ok - ..." / "not ok - ...".
//
// The plugin and its private library are first copied into the test's own directory and
// the program runs again with that library on LD_LIBRARY_PATH (tests/lib/stage.h): uid
// 65534 may not reach the build tree. Every server checks that its PLAIN comes from that
// copy; a server without the plugin under test ends its case as a failure.
#include <execinfo.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>  // after sasl.h, which it needs
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include <fmt/format.h>

#include "../lib/fake_broker.h"
#include "../lib/sasl_harness.h"
#include "../lib/stage.h"
#include "fault_util.h"

// What the plugin logs to syslog while plug_init runs is captured too
// (tests/lib/sasl_syslog_capture.cc).

namespace {

namespace fs = std::filesystem;
using faults::ChildResult;
using faults::RunChild;
using sasltest::CodeName;
using sasltest::g_harness;
using sasltest::g_log;
using sasltest::IsDecisionLine;
using testlib::Die;
using testlib::Report;

struct Setup {
  std::string dir, store, work, plugins, conf, stock, sasldb;
  testlib::Tool tool;
  testlib::Cred cred, revoked;
  bool long_run = false;
};
Setup S;

const std::string kWrong = "abcd-efgh-jkmn-pqrs-tuvw";
// Set to the test's directory when the program runs again with the staged library.
constexpr char kStagedEnv[] = "APPPASS_SASL_FAULTS_DIR";

// The application: our plugin and the stock ones, the store in `db` (and apppassd's
// socket `broker`, when set), the stock sasldb.
void WriteConf(const std::string& db, const std::string& broker = "") {
  testlib::WriteFile(S.conf + "/faults.conf",
                     "mech_list: PLAIN LOGIN\napppass_db: " + db +
                         (broker.empty() ? "" : "\napppass_broker: " + broker) +
                         "\npwcheck_method: auxprop\nauxprop_plugin: "
                         "sasldb\nsasldb_path: " +
                         S.sasldb + "\n");
}

// REQUIRES: WriteConf(db) (before dropping privileges: the config directory is root's).
void StartServer(const std::string& path = "") {
  g_harness.server_path = path.empty() ? S.plugins + ":" + S.stock : path;
  g_harness.conf_dir = S.conf;
  g_harness.appname = "faults";
  sasltest::InitSasl(false);
}

// "" when the server's PLAIN comes from the staged copy of the plugin under test, loaded
// with the staged private library; otherwise why not (libsasl skips a plugin it cannot
// load and the stock PLAIN answers in its place).
std::string PluginUnderTestMissing() {
  const std::string plugin = S.plugins + "/libapppass.so";
  const std::string shared = S.dir + "/lib/libapppass-shared.so";
  const std::string loaded = testlib::LoadedPath("libapppass.so");
  if (loaded != plugin)
    return "libapppass.so is not loaded from " + plugin + " (loaded: '" + loaded + "')";
  const std::string loaded_shared = testlib::LoadedPath("libapppass-shared.so");
  if (loaded_shared != shared)
    return "libapppass-shared.so is not loaded from " + shared + " (loaded: '" + loaded_shared +
           "')";
  std::vector<std::string> files;
  sasl_server_plugin_info(
      "PLAIN",
      [](server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) {
        // The code behind the mechanism (its table may be allocated).
        if (stage == SASL_INFO_LIST_MECH && m != nullptr && m->plug != nullptr)
          static_cast<std::vector<std::string>*>(rock)->push_back(
              testlib::FileOf(reinterpret_cast<const void*>(m->plug->mech_new)));
      },
      &files);
  if (std::find(files.begin(), files.end(), plugin) == files.end())
    return "no PLAIN mechanism from " + plugin;
  return "";
}

// A crashing child says where (frames as module(+offset), for addr2line).
void CrashHandler(int sig) {
  void* frames[40];
  const int n = backtrace(frames, 40);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  signal(sig, SIG_DFL);
  raise(sig);
}

// One exchange as the server sees it; allocation failures counted from sasl_server_new to
// the last step. Returned as text: "rc fired marker allocations seconds" + decision lines.
std::string Exchange(const std::string& mech, const std::string& user, const std::string& pw,
                     long alloc_nth = 0, bool null_password = false) {
  const std::size_t mark = g_log.size();
  const auto t0 = std::chrono::steady_clock::now();
  sasl_conn_t* conn = nullptr;
  int rc = sasl_server_new("smtp", "test.example", nullptr, "127.0.0.1;25", "192.0.2.7;4321",
                           nullptr, 0, &conn);
  const std::string msg = std::string("\0", 1) + user + std::string("\0", 1) + pw;
  // Counted from here: libsasl2's sasl_server_new itself crashes when its own allocations
  // fail (a NULL dereference in sasl_seterror), which is no fault of the plugin's.
  faults::FaultSet(alloc_nth, false);
  const char* out = nullptr;
  unsigned outlen = 0;
  if (rc == SASL_OK) {
    if (mech == "PLAIN") {
      rc = sasl_server_start(conn, "PLAIN", msg.data(), static_cast<unsigned>(msg.size()), &out,
                             &outlen);
    } else {
      rc = sasl_server_start(conn, "LOGIN", nullptr, 0, &out, &outlen);
      if (rc == SASL_CONTINUE)
        rc = sasl_server_step(conn, user.data(), static_cast<unsigned>(user.size()), &out, &outlen);
      if (rc == SASL_CONTINUE)
        rc = null_password ? sasl_server_step(conn, nullptr, 0, &out, &outlen)
                           : sasl_server_step(conn, pw.data(), static_cast<unsigned>(pw.size()),
                                              &out, &outlen);
    }
  }
  const double secs = faults::Since(t0);
  const faults::FaultStats st = faults::FaultGet();
  faults::FaultSet(0, false);
  if (conn != nullptr) sasl_dispose(&conn);
  std::string text =
      fmt::format("{} {} {} {} {:.6f}", rc, st.fired_at, st.marker, st.allocations, secs);
  for (std::size_t i = mark; i < g_log.size(); ++i)
    if (IsDecisionLine(g_log[i])) text += "\n" + g_log[i];
  return text;
}

struct Ex {
  bool ran = false;
  int rc = -999;
  long fired = 0, marker = -1, allocations = 0;
  double secs = 0;
  std::vector<std::string> log;
};

// Splits the text of several exchanges (separated by "\x1e").
std::vector<Ex> ParseAll(const ChildResult& r) {
  std::vector<Ex> all;
  if (!r.exited) return all;
  std::size_t start = 0;
  while (start <= r.out.size()) {
    const std::size_t end = r.out.find('\x1e', start);
    const std::string part =
        r.out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    Ex e;
    std::istringstream in(part);
    std::string first;
    std::getline(in, first);
    std::istringstream nums(first);
    e.ran = static_cast<bool>(nums >> e.rc >> e.fired >> e.marker >> e.allocations >> e.secs);
    if (!e.ran) e.rc = -999;  // not a SASL code (a failed read leaves 0, which is SASL_OK)
    for (std::string l; std::getline(in, l);) e.log.push_back(l);
    all.push_back(e);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return all;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "\x1e") + p;
  return s;
}

std::string LogText(const Ex& e) {
  std::string s;
  for (const auto& l : e.log) s += (s.empty() ? "" : " | ") + l.substr(0, 240);
  return s.empty() ? "(no decision line)" : s;
}

// rc is `want` (never SASL_OK unless wanted), exactly one decision line with `needle`.
std::string Judge(const Ex& e, int want, const std::string& needle) {
  if (!e.ran) return "the exchange did not run";
  if (e.rc != want) return "got " + CodeName(e.rc) + ", want " + CodeName(want) + "; " + LogText(e);
  if (e.log.size() != 1)
    return std::to_string(e.log.size()) + " decision lines, want 1: " + LogText(e);
  if (e.log[0].find(needle) == std::string::npos)
    return "log lacks '" + needle + "': " + LogText(e);
  return "";
}

struct Setting {
  bool nobody = false;
  bool sodium_fails = false;
  std::string broker;      // apppass_broker (empty: not set)
  double max_seconds = 0;  // > 0: each exchange must end sooner
};

// Starts a server in a child with the store `db` and runs `body` there (after init).
ChildResult InServer(const std::string& db, const Setting& how,
                     const std::function<std::string()>& body, int timeout = 120) {
  return RunChild(
      [&] {
        WriteConf(db, how.broker);
        if (how.nobody && !faults::BecomeNobody()) Die("cannot become nobody");
        faults::FaultSet(0, how.sodium_fails);
        StartServer();
        faults::FaultSet(0, false);
        if (const std::string why = PluginUnderTestMissing(); !why.empty())
          Die("the plugin under test is not in use: " + why);
        return body();
      },
      timeout);
}

// A fault present when the server starts: both mechanisms refuse with `want`.
void AtInit(const std::string& fault, const std::string& db, const Setting& how, int want,
            const std::string& needle, const std::function<void()>& prepare = {}) {
  if (prepare) prepare();
  const ChildResult r = InServer(db, how, [] {
    return Join(
        {Exchange("PLAIN", "alice", S.cred.password), Exchange("LOGIN", "alice", S.cred.password)});
  });
  const std::vector<Ex> ex = ParseAll(r);
  int i = 0;
  for (const char* mech : {"PLAIN", "LOGIN"}) {
    std::string why = !r.exited        ? "the server process " + r.Describe()
                      : ex.size() != 2 ? "no result"
                                       : Judge(ex[static_cast<std::size_t>(i)], want, needle);
    if (why.empty() && how.max_seconds > 0 &&
        ex[static_cast<std::size_t>(i)].secs >= how.max_seconds)
      why = fmt::format("took {:.3f} s, bound {} s", ex[static_cast<std::size_t>(i)].secs,
                        how.max_seconds);
    Report(why.empty(),
           fault + " [" + mech + "]: " + CodeName(want) + ", not handed to the stock plugin", why);
    ++i;
  }
}

void Control(const std::string& what, const std::string& db, const Setting& how,
             const std::function<void()>& prepare = {}) {
  if (prepare) prepare();
  const ChildResult r =
      InServer(db, how, [] { return Exchange("PLAIN", "alice", S.cred.password); });
  const std::vector<Ex> ex = ParseAll(r);
  const std::string why = !r.exited ? "the server process " + r.Describe()
                          : ex.empty()
                              ? "no result"
                              : Judge(ex[0], SASL_OK, "apppass: accepted service=smtp user=alice");
  Report(why.empty(), "control, " + what + ": accepted", why);
}

// A server started as uid 65534 against a fake apppassd (tests/lib/fake_broker.py) in each
// of its ways of being wrong: SASL_UNAVAIL for PLAIN and LOGIN within 2 s, one decision
// line saying why, never handed to the stock plugins (whose sasldb would accept). Its
// right answers are decided as in-process ones; a server started as root ignores it.
void BrokerCases() {
  const std::string socket = S.dir + "/apppassd.sock";
  testlib::FakeBroker broker;
  auto start = [&](const std::string& mode, const std::vector<std::string>& lines = {}) {
    if (const std::string why = broker.Start(socket, mode, lines); !why.empty()) Die(why);
  };
  Setting nobody;
  nobody.nobody = true;
  nobody.broker = socket;
  nobody.max_seconds = 2.0;
  Setting root;
  root.broker = socket;

  start("reply", {"OK\t{id}\toutcome=accepted\tid=" + S.cred.id + "\tname=phone"});
  Control("as nobody, apppassd answers accepted", S.store, nobody);
  broker.Stop();
  Control("as root with apppass_broker set: the store in-process (the broker is not asked)",
          S.store, root);
  AtInit("as nobody, apppassd not running (no socket)", S.store, nobody, SASL_UNAVAIL,
         "reason=unavailable detail=\"the apppass service is not running (connect " + socket +
             ": No such file or directory)\"");
  const struct {
    std::string what, mode;
    std::vector<std::string> lines;
    int want;
    std::string needle;
  } rows[] = {
      {"accepts and never answers",
       "hang",
       {},
       SASL_UNAVAIL,
       "no answer from the apppass service within 1.5 s"},
      {"sends its version, then hangs",
       "version-hang",
       {},
       SASL_UNAVAIL,
       "no answer from the apppass service within 1.5 s"},
      {"closes at once", "close", {}, SASL_UNAVAIL, "closed the connection"},
      {"sends garbage", "garbage", {}, SASL_UNAVAIL, "malformed reply from the apppass service"},
      {"answers another request's id",
       "reply",
       {"OK\t{other}\toutcome=accepted\tid=1"},
       SASL_UNAVAIL,
       "malformed reply from the apppass service"},
      {"refuses the caller (FAIL denied)",
       "reply",
       {"FAIL\t{id}\tdenied\tnot allowed to verify"},
       SASL_UNAVAIL,
       "refused to verify: not allowed to verify"},
      {"answers wrong-password",
       "reply",
       {"OK\t{id}\toutcome=wrong-password"},
       SASL_BADAUTH,
       "apppass: refused service=smtp user=alice rhost=192.0.2.7 reason=wrong-password"},
  };
  for (const auto& row : rows) {
    start(row.mode, row.lines);
    AtInit("as nobody, apppassd " + row.what, S.store, nobody, row.want, row.needle);
  }
  broker.Stop();
}

void FaultMatrix() {
  const Setting plain;
  // The stock plugins would accept the app password from the sasldb, as root and as
  // uid 65534 (the user of the permission cases below).
  for (const bool as_nobody : {false, true}) {
    const ChildResult r = RunChild([&] {
      WriteConf(S.store);
      if (as_nobody && !faults::BecomeNobody()) Die("cannot become nobody");
      StartServer(S.stock);
      if (!testlib::LoadedPath("libapppass.so").empty())
        Die("libapppass.so loaded from the stock directory");
      return Exchange("PLAIN", "alice", S.cred.password);
    });
    const std::vector<Ex> ex = ParseAll(r);
    Report(r.exited && !ex.empty() && ex[0].rc == SASL_OK && ex[0].log.empty(),
           std::string("control, the stock plugins alone") + (as_nobody ? " as nobody" : "") +
               ": PLAIN accepts the app password from the sasldb",
           r.exited && !ex.empty() ? CodeName(ex[0].rc) : r.Describe());
  }
  Control("our plugin with the store", S.store, plain);
  AtInit("store missing", S.dir + "/no-such-store", plain, SASL_UNAVAIL, "reason=unavailable");

  // Not root at plug_init (Cyrus IMAP as cyrus): the plugin never opens the store, which
  // is root's alone (issue 11), even where the old layout let its group read it; it asks
  // apppassd, and fails closed within 2 s whatever the daemon does.
  Setting nobody;
  nobody.nobody = true;
  AtInit("not root, with the old group-readable store (no apppassd on the default socket)", S.work,
         nobody, SASL_UNAVAIL, "reason=unavailable",
         [] { faults::CopyStoreForNobody(S.store, S.work); });
  BrokerCases();

  for (const faults::Damage& d : faults::DeterministicDamage(S.cred.id))
    AtInit("corrupt: " + d.name, S.work, plain, SASL_UNAVAIL, "reason=unavailable", [&] {
      faults::CopyStore(S.store, S.work);
      d.apply(S.work + "/data.mdb");
    });

  Setting sodium;
  sodium.sodium_fails = true;
  AtInit("sodium_init() fails", S.store, sodium, SASL_UNAVAIL, "reason=unavailable");

  // Reader table full when the server starts, and after it started.
  faults::CopyStore(S.store, S.work);
  {
    faults::ReaderHog hog(S.work, 0);
    AtInit("reader table full at plug_init (" + std::to_string(hog.held()) + " slots held)", S.work,
           plain, SASL_UNAVAIL, "reason=unavailable");
  }
  {
    const ChildResult r = InServer(S.work, plain, [] {
      std::vector<std::string> parts = {Exchange("PLAIN", "alice", S.cred.password)};
      {
        faults::ReaderHog hog(S.work, 0);
        parts.push_back(Exchange("PLAIN", "alice", S.cred.password));
        parts.push_back(Exchange("LOGIN", "alice", S.cred.password));
      }
      parts.push_back(Exchange("PLAIN", "alice", S.cred.password));
      return Join(parts);
    });
    const std::vector<Ex> ex = ParseAll(r);
    const bool ran = r.exited && ex.size() == 4;
    Report(ran && Judge(ex[0], SASL_OK, "accepted").empty(),
           "reader table: accepted before it fills", ran ? LogText(ex[0]) : r.Describe());
    for (std::size_t i : {1u, 2u}) {
      const std::string why = ran ? Judge(ex[i], SASL_UNAVAIL, "MDB_READERS_FULL") : r.Describe();
      Report(why.empty(),
             std::string("reader table full after plug_init [") + (i == 1 ? "PLAIN" : "LOGIN") +
                 "]: SASL_UNAVAIL, not handed to the stock plugin",
             why);
    }
    Report(ran && Judge(ex[3], SASL_OK, "accepted").empty(),
           "reader table released: the same server accepts again",
           ran ? LogText(ex[3]) : r.Describe());
  }

  // Missing and empty passwords.
  {
    const ChildResult r = InServer(S.store, plain, [] {
      return Join({Exchange("PLAIN", "alice", ""), Exchange("LOGIN", "alice", ""),
                   Exchange("LOGIN", "alice", "", 0, true)});
    });
    const std::vector<Ex> ex = ParseAll(r);
    const char* names[] = {"PLAIN empty password", "LOGIN empty password",
                           "LOGIN no password data (NULL)"};
    for (std::size_t i = 0; i < 3; ++i) {
      const std::string why = r.exited && ex.size() == 3
                                  ? Judge(ex[i], SASL_BADPROT, "reason=no-password")
                                  : r.Describe();
      Report(why.empty(), std::string(names[i]) + ": SASL_BADPROT, not handed to the stock plugin",
             why);
    }
  }
}

// The admin tool grows data.mdb under a running server.
void MapResized() {
  faults::CopyStore(S.store, S.work);
  const std::size_t before = faults::FileSize(S.work + "/data.mdb");
  const int creates = 120;
  const ChildResult r = InServer(
      S.work, Setting{},
      [&] {
        std::vector<std::string> parts = {Exchange("PLAIN", "alice", S.cred.password)};
        const testlib::Tool tool{S.tool.path, S.work};
        std::string last;
        tool.Ok({"policy", "set", "max_active", "1000"});  // more than the default 25
        for (int i = 0; i < creates; ++i)
          last = testlib::Create(tool, "alice", "grow-" + std::to_string(i)).password;
        for (const char* mech : {"PLAIN", "LOGIN"}) {
          parts.push_back(Exchange(mech, "alice", S.cred.password));
          parts.push_back(Exchange(mech, "alice", last));
          parts.push_back(Exchange(mech, "alice", kWrong));
        }
        return Join(parts);
      },
      300);
  const std::size_t after = faults::FileSize(S.work + "/data.mdb");
  std::printf(
      "# map resized: data.mdb grew from %zu to %zu bytes (%d creates) under a running server\n",
      before, after, creates);
  const std::vector<Ex> ex = ParseAll(r);
  const bool ran = r.exited && ex.size() == 7;
  Report(ran && Judge(ex[0], SASL_OK, "accepted").empty(), "map resized: accepted before",
         ran ? "" : r.Describe());
  for (std::size_t m = 0; m < 2; ++m) {
    const std::string mech = m == 0 ? "PLAIN" : "LOGIN";
    const std::size_t b = 1 + 3 * m;
    std::string why = !ran ? r.Describe() : Judge(ex[b], SASL_OK, "accepted");
    if (why.empty()) why = Judge(ex[b + 1], SASL_OK, "accepted");
    if (why.empty()) why = Judge(ex[b + 2], SASL_BADAUTH, "reason=wrong-password");
    Report(why.empty() && after > before,
           "map resized by the admin tool [" + mech +
               "]: old and new passwords accepted, a wrong one refused",
           why);
  }
}

// Random garbage written into the data pages of the store a running server has mapped.
void CorruptUnderServer() {
  const int rounds = S.long_run ? 500 : 20;
  const std::uint64_t seed = 4711;
  int crashed = 0, accepted_wrong = 0, refused = 0, accepted_right = 0;
  std::string first_crash;
  std::mt19937_64 rng(seed);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    faults::CopyStore(S.store, S.work);
    const std::uint64_t round_seed = rng();
    const ChildResult r = InServer(S.work, Setting{}, [&] {
      std::mt19937_64 local(round_seed);
      const std::string first = Exchange("PLAIN", "alice", kWrong);  // maps the pages
      faults::RandomDamage(S.work + "/data.mdb", local);
      return Join(
          {first, Exchange("PLAIN", "alice", kWrong), Exchange("LOGIN", "alice", S.cred.password)});
    });
    const std::vector<Ex> ex = ParseAll(r);
    if (!r.exited || ex.size() != 3) {
      ++crashed;
      if (first_crash.empty()) first_crash = r.Describe();
      continue;
    }
    if (ex[1].rc == SASL_OK) ++accepted_wrong;
    else ++refused;
    if (ex[2].rc == SASL_OK) ++accepted_right;
  }
  std::printf(
      "# pages damaged under a running server: %d rounds (seed %llu) in %.1f s: wrong password "
      "refused %d, accepted %d; right password still accepted %d; server crashed %d%s%s\n",
      rounds, static_cast<unsigned long long>(seed), faults::Since(t0), refused, accepted_wrong,
      accepted_right, crashed, first_crash.empty() ? "" : ", first: ", first_crash.c_str());
  // At least one round ran (not every server crashed or lacked the plugin under test).
  const bool any_ran = refused + accepted_wrong > 0;
  Report(accepted_wrong == 0 && any_ran,
         "random garbage in the pages of a running server's store (" + std::to_string(rounds) +
             " rounds): a wrong password is never accepted (" + std::to_string(crashed) +
             " crashed, reported above)");
}

// Allocation failure at every allocation of one exchange, in a server forked per case.
// `after_fork`: the cases run in children forked from one server after sasl_server_init
// (the plugin reopens the store in each), instead of in servers of their own.
void AllocationSweep(bool after_fork) {
  struct Kind {
    std::string label, password;
    bool right;
  };
  const Kind kinds[] = {{"right", S.cred.password, true},
                        {"wrong", kWrong, false},
                        {"revoked", S.revoked.password, false}};
  for (const char* mech : {"PLAIN", "LOGIN"}) {
    for (const Kind& kind : kinds) {
      if (kind.label == "revoked" && !S.long_run) continue;  // CI: right and wrong
      auto one = [&](const std::function<std::string()>& body) {
        return after_fork ? RunChild(body) : InServer(S.store, Setting{}, body);
      };
      auto sweep = [&] {
        const std::vector<Ex> clean =
            ParseAll(one([&] { return Exchange(mech, "alice", kind.password); }));
        const long total = clean.empty() ? 0 : clean[0].allocations;
        int crashes = 0, bad = 0, ok = 0, refused = 0, tried = 0;
        std::string first_bad;
        const long step = S.long_run || total <= 1500 ? 1 : total / 1500 + 1;
        // APPPASS_FAULTS_ONLY="MECH KIND N": just that case (to trace it).
        const char* only = std::getenv("APPPASS_FAULTS_ONLY");
        for (long n = 1; n <= total + 1; n += step) {
          if (only != nullptr && fmt::format("{} {} {}", mech, kind.label, n) != only) continue;
          ++tried;
          // A server process of its own for each case, as each new smtpd is (or a
          // child forked from one server).
          const ChildResult c = one([&] {
            if (std::getenv("APPPASS_FAULTS_VERBOSE") != nullptr) {
              signal(SIGSEGV, CrashHandler);
              signal(SIGABRT, CrashHandler);
            }
            return Exchange(mech, "alice", kind.password, n);
          });
          const std::vector<Ex> e = ParseAll(c);
          std::string why;
          if (!c.exited || e.empty() || !e[0].ran) {
            ++crashes;
            why = fmt::format("allocation {}: {}", n, c.Describe());
          } else if (e[0].rc == SASL_OK) {
            const bool after = e[0].fired == 0 || (e[0].marker >= 0 && e[0].fired > e[0].marker);
            const bool decided =
                e[0].log.size() == 1 &&
                e[0].log[0].find("accepted service=smtp user=alice rhost=192.0.2.7 id=" +
                                 S.cred.id) != std::string::npos;
            if (!kind.right || !(after || decided))
              why = fmt::format(
                  "allocation {} failed (decision at {}) and SASL_OK came back; log: {}", n,
                  e[0].marker, LogText(e[0]));
            else ++ok;
          } else {
            ++refused;
          }
          if (!why.empty()) {
            ++bad;
            if (first_bad.empty()) first_bad = why;
            std::printf("#   %s %s: %s\n", mech, kind.label.c_str(), why.c_str());
          }
        }
        return fmt::format("{} {} {} {} {} {} {}\n{}", total, tried, ok, refused, crashes, bad,
                           clean.empty() ? -1 : clean[0].rc, first_bad);
      };
      const ChildResult r =
          after_fork ? InServer(S.store, Setting{}, sweep, 600) : RunChild(sweep, 600);
      std::istringstream in(r.out);
      long total = 0;
      int tried = 0, ok = 0, refused = 0, crashes = 0, bad = 0, clean_rc = -999;
      in >> total >> tried >> ok >> refused >> crashes >> bad >> clean_rc;
      std::string first_bad;
      std::getline(in, first_bad);
      std::getline(in, first_bad);
      const std::string where = after_fork ? " (forked server)" : "";
      std::printf(
          "# allocation sweep%s, %s, %s password: %ld allocations per exchange, %d failed one at a "
          "time: accepted %d, refused %d, crashed %d\n",
          where.c_str(), mech, kind.label.c_str(), total, tried, ok, refused, crashes);
      const bool clean_ok = clean_rc == (kind.right ? SASL_OK : SASL_BADAUTH);
      Report(r.exited && clean_ok && total > 0 && bad == 0,
             fmt::format(
                 "allocation failure{}, {}, {} password: each of {} allocations failed in turn: no "
                 "crash, {}",
                 where, mech, kind.label, tried,
                 kind.right ? "SASL_OK only when the plugin decided accepted" : "never SASL_OK"),
             !r.exited   ? r.Describe()
             : !clean_ok ? "clean run: " + CodeName(clean_rc)
                         : first_bad);
    }
  }
}

void TokenLengths() {
  const std::string& pw = S.cred.password;
  auto pad = [](std::string base, std::size_t n, char c) {
    base.resize(n, c);
    return base;
  };
  struct Row {
    std::string name, password;
    int want;
    std::string needle;
  };
  const std::vector<Row> rows = {
      {"app password + spaces to 511 bytes", pad(pw, 511, ' '), SASL_OK, "accepted"},
      {"app password + spaces to 512 bytes (the limit)", pad(pw, 512, ' '), SASL_OK, "accepted"},
      {"app password + dashes to 512 bytes", pad(pw, 512, '-'), SASL_OK, "accepted"},
      {"app password + spaces to 513 bytes", pad(pw, 513, ' '), SASL_BADPROT, "reason=bad-input"},
      {"app password + dashes to 513 bytes", pad(pw, 513, '-'), SASL_BADPROT, "reason=bad-input"},
      {"spaces to 513 bytes, then the app password", std::string(513 - pw.size(), ' ') + pw,
       SASL_BADPROT, "reason=bad-input"},
      {"app password + spaces to 64 KiB", pad(pw, 64 * 1024, ' '), SASL_BADPROT,
       "reason=bad-input"},
      {"app password + spaces to 1 MiB", pad(pw, 1 << 20, ' '), SASL_BADPROT, "reason=bad-input"},
      {"app password + 'x' junk to 512 bytes", pad(pw, 512, 'x'), SASL_BADAUTH,
       "reason=wrong-password"},
      {"511 bytes of 'a'", std::string(511, 'a'), SASL_BADAUTH, "reason=wrong-password"},
      {"512 bytes of 'a'", std::string(512, 'a'), SASL_BADAUTH, "reason=wrong-password"},
      {"513 bytes of 'a'", std::string(513, 'a'), SASL_BADPROT, "reason=bad-input"},
      {"1 MiB of 'a'", std::string(1 << 20, 'a'), SASL_BADPROT, "reason=bad-input"},
  };
  const ChildResult r = InServer(S.store, Setting{}, [&] {
    std::vector<std::string> parts;
    for (const Row& row : rows)
      for (const char* mech : {"PLAIN", "LOGIN"})
        parts.push_back(Exchange(mech, "alice", row.password));
    return Join(parts);
  });
  const std::vector<Ex> ex = ParseAll(r);
  std::size_t i = 0;
  for (const Row& row : rows) {
    for (const char* mech : {"PLAIN", "LOGIN"}) {
      std::string why = !r.exited || ex.size() != 2 * rows.size()
                            ? "server " + r.Describe()
                            : Judge(ex[i], row.want, row.needle);
      const double ms = i < ex.size() ? ex[i].secs * 1000 : 0;
      if (why.empty() && ms >= 1000) why = fmt::format("took {:.3f} ms (bound 1 s)", ms);
      Report(why.empty(),
             fmt::format("token length [{}]: {} ({} bytes): {} in {:.3f} ms", mech, row.name,
                         row.password.size(), CodeName(row.want), ms),
             why);
      ++i;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s PLUGIN APPPASS_TOOL STOCK_PLUGIN_DIR SASLPASSWD2 [--long]\n",
                 argv[0]);
    return 2;
  }
  char plugin[PATH_MAX];
  if (realpath(argv[1], plugin) == nullptr) Die(std::string("no plugin at ") + argv[1]);
  if (!faults::FaultLibLoaded()) Die("libapppass_fault.so must be in LD_PRELOAD");
  S.long_run = argc == 6 && std::string(argv[5]) == "--long";
  const char* staged = std::getenv(kStagedEnv);
  if (staged == nullptr) {
    // Step 1: the plugin and its private library where uid 65534 reaches them, then this
    // program again with that library on LD_LIBRARY_PATH.
    const std::string dir = testlib::MakeTempDir("apppass-sasl-faults");
    if (chmod(dir.c_str(), 0711) != 0) Die("chmod failed");  // uid 65534 reaches the socket
    mkdir((dir + "/plugins").c_str(), 0755);
    const std::string why = testlib::StageWithLibraries(plugin, dir + "/plugins/libapppass.so",
                                                        dir + "/lib", fs::perms(0644));
    if (!why.empty()) {
      testlib::Run({"/bin/rm", "-rf", dir});
      Die("cannot stage the plugin for uid 65534: " + why);
    }
    testlib::PrependLibraryPath(dir + "/lib");
    setenv(kStagedEnv, dir.c_str(), 1);
    execv("/proc/self/exe", argv);
    Die(std::string("re-exec failed: ") + std::strerror(errno));
  }
  S.dir = staged;
  S.store = S.dir + "/store";
  S.work = S.dir + "/work";
  S.plugins = S.dir + "/plugins";
  S.conf = S.dir + "/conf";
  S.stock = argv[3];
  S.sasldb = S.dir + "/sasldb2";
  S.tool = testlib::Tool{argv[2], S.store};
  mkdir(S.conf.c_str(), 0755);
  if (oath_init() != OATH_OK) Die("oath_init failed");
  S.tool.Ok({"init"});
  testlib::Enroll(S.tool, "alice");
  S.cred = testlib::Create(S.tool, "alice", "phone");
  S.revoked = testlib::Create(S.tool, "alice", "old phone");
  S.tool.Ok({"revoke", "alice", S.revoked.id});
  // The stock plugins' password for alice is her app password.
  const testlib::RunResult pw = testlib::Run(
      {argv[4], "-p", "-c", "-f", S.sasldb, "-u", "test.example", "alice"}, S.cred.password);
  if (pw.status != 0) Die("saslpasswd2 failed");
  chmod(S.sasldb.c_str(), 0644);

  const auto t0 = std::chrono::steady_clock::now();
  FaultMatrix();
  std::printf("# fault matrix in %.1f s\n", faults::Since(t0));
  MapResized();
  CorruptUnderServer();
  AllocationSweep(false);
  // A server that forks after sasl_server_init: long variant only (each case reopens the
  // store in the child).
  if (S.long_run) AllocationSweep(true);
  TokenLengths();
  oath_done();
  testlib::Run({"/bin/rm", "-rf", S.dir});
  std::printf("%d checks, %d failed\n", testlib::g_checks, testlib::g_failures);
  return testlib::g_failures == 0 ? 0 : 1;
}
