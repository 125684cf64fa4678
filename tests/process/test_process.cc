// One LMDB environment per store per process, shared by pam_apppass.so and libapppass.so
// loaded into the same process, and never used across fork() (common/env_registry.h).
//
//   test_process fork|shared PAM_MODULE SASL_PLUGIN APPPASS_TOOL
//
//   fork    A process authenticates through the PAM module (the real libpam under
//           pam_wrapper) and the SASL plugin (the real libsasl2), then forks. The child
//           authenticates through both and gets right answers, also for a revocation and a
//           creation made after the fork; its environment is its own (the registry shows it
//           opened by the child, and the PAM module keeps it after pam_end; /proc/locks
//           shows the child's read lock on lock.mdb) and the inherited one is closed. After the
//           child exits the parent still holds its lock and answers right, also about what the
//           child's tool runs changed.
//   shared  One process loads both. It authenticates alternately through PAM and SASL while
//           the admin tool (other processes) creates and revokes app passwords, growing the
//           store beyond what the process mapped. Every answer must be right. After every
//           PAM transaction the process still holds its fcntl read lock on lock.mdb
//           (/proc/locks; and F_GETLK from another process at the end), a thread watching
//           /proc/self/fd never sees two descriptors of lock.mdb, and the registry shows
//           that the PAM module, alone, opened the store and the usage database once for
//           300 transactions and kept them after pam_end (common/store_cache.h), that the
//           plugin then shared them, and that no PAM transaction opened another one.
//           Prints the cost of a PAM transaction alone and beside the plugin (figures,
//           not asserted).
//   threads Three PAM threads and a SASL thread verify at once while the tool grows the store:
//           every answer right, one environment, remapped under concurrent transactions.
//   kept    The PAM module's state across transactions (issue 14), in one long-lived
//           process: after the first transaction, ROUNDS rounds of accepted and refused
//           transactions, traced by strace attached to the process, open nothing under the
//           store directory and never list /proc/self/fd, and the accepted ones within the
//           usage interval commit no write to the usage database (its LMDB transaction id,
//           mdb_stat); with usage_interval=1, one write per second. Then, in the same
//           process, a store made group-readable (data.mdb, key), a replaced key, a
//           truncated data.mdb and a store directory moved away each get the answer of a
//           first open, and the store put back is accepted again.
//
// Must run with libpam_wrapper.so preloaded (CTest sets LD_PRELOAD). pam_wrapper reads the
// service files when the process starts, so the program writes them, then runs itself
// again under PAM_WRAPPER=1 and removes the directory afterwards (like tests/pam).
// Prints "ok - ..." / "not ok - ..." per check; exits 1 if any check failed.

#include <fcntl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "../lib/in_child.h"
#include "../lib/pam_conv.h"
#include "../lib/pam_rerun.h"
#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"
#include "env_registry.h"

namespace {

namespace fs = std::filesystem;
using testlib::Die;
using testlib::Report;

constexpr const char* kStepEnv = "APPPASS_PROCESS_TEST_DIR";
constexpr const char* kService = "imap";
constexpr const char* kApp = "apppasstest";
constexpr const char* kWrong = "abcd-efgh-jkmn-pqrs-tuvw";

struct Paths {
  std::string module, plugin, tool, dir, store, services, sasl_conf;
};
Paths g;

// ---------------------------------------------------------------------------------------
// PAM and SASL, one authentication each.

// pam_start, pam_authenticate, pam_end: the authenticate result.
int Pam(const std::string& user, const std::string& password, const char* service = kService) {
  pam_conv conv{testlib::PasswordConv, const_cast<std::string*>(&password)};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start(service, user.c_str(), &conv, &pamh);
  if (rc != PAM_SUCCESS) return rc == PAM_SUCCESS ? PAM_SYSTEM_ERR : rc;
  rc = pam_authenticate(pamh, PAM_SILENT);
  pam_end(pamh, rc);
  return rc;
}

// PLAIN through the real libsasl2 server: the result of sasl_server_start.
int Sasl(const std::string& user, const std::string& password) {
  sasltest::ServerConn conn;
  return conn.Start("PLAIN", std::string(1, '\0') + user + '\0' + password);
}

// Checks that PAM and SASL both accept (or both refuse) and counts the answers.
struct Answers {
  long right = 0, wrong = 0;
};
Answers g_answers;

bool Both(const std::string& user, const std::string& pw, bool accept, const std::string& what,
          bool report = true) {
  const int p = Pam(user, pw);
  const int s = Sasl(user, pw);
  const bool ok =
      accept ? (p == PAM_SUCCESS && s == SASL_OK) : (p == PAM_AUTH_ERR && s == SASL_BADAUTH);
  ++(ok ? g_answers.right : g_answers.wrong);
  if (report || !ok)
    Report(ok, what, ok ? "" : "pam " + std::to_string(p) + ", sasl " + sasltest::CodeName(s));
  return ok;
}

// ---------------------------------------------------------------------------------------
// What the process holds.

struct stat StatOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) Die("cannot stat " + path);
  return st;
}

// Processes holding a POSIX lock of type `type` (READ/WRITE) on byte 0 of `path`, from
// /proc/locks ("1: POSIX  ADVISORY  READ 1234 08:02:131 0 0").
std::vector<pid_t> LockHolders(const std::string& path, const char* type = "READ") {
  const struct stat st = StatOf(path);
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  std::vector<pid_t> pids;
  std::ifstream in("/proc/locks");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string n, kind, adv, t, dev, start, end;
    long pid = 0;
    if (!(f >> n >> kind)) continue;
    if (kind == "->") f >> kind;  // a waiting lock
    if (!(f >> adv >> t >> pid >> dev >> start >> end)) continue;
    if (kind == "POSIX" && t == type && dev == id && start == "0" && end == "0")
      pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

// /proc/locks is read a page at a time, and other processes' locks coming and going
// between two pages can make a line be skipped. A dropped lock never comes back (LMDB
// takes it only when it opens the environment), so reading again cannot hide a drop.
bool HoldsReadLock(const std::string& path, pid_t pid) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const auto h = LockHolders(path);
    if (std::find(h.begin(), h.end(), pid) != h.end()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Descriptors of this process open on `path`'s file.
int DescriptorsOf(const std::string& path) {
  struct stat want {};
  if (stat(path.c_str(), &want) != 0) return -1;
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/self/fd", ec)) {
    struct stat st {};
    if (stat(e.path().c_str(), &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
      ++n;
  }
  return n;
}

// From another process (that has not opened the store): fcntl(F_GETLK) for a write lock
// on byte 0 of lock.mdb. Returns the pid of a conflicting lock's owner, 0 if none.
pid_t GetLkOwner(const std::string& path) {
  return testlib::ValueFromChild<pid_t>(
      [&] {
        pid_t owner = -1;
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0;
        fl.l_len = 1;
        if (fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0) owner = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        return owner;
      },
      -1);
}

// The registry's environments on `dir`.
std::vector<apppass::envreg::EnvInfo> EnvsOn(const std::string& dir) {
  std::vector<apppass::envreg::EnvInfo> out;
  for (const auto& e : apppass::envreg::List())
    if (e.dir == dir) out.push_back(e);
  return out;
}

// ---------------------------------------------------------------------------------------
// Setup.

testlib::Tool g_tool;

void InitStoreAndSasl() {
  g_tool = testlib::Tool{g.tool, g.store};
  g_tool.Ok({"init"});
  sasltest::g_harness.server_path = fs::path(g.plugin).parent_path();
  sasltest::g_harness.conf_dir = g.sasl_conf;
  sasltest::g_harness.appname = kApp;
}

// ---------------------------------------------------------------------------------------
// fork

int RunFork() {
  InitStoreAndSasl();
  testlib::Enroll(g_tool, "alice");
  const testlib::Cred p = testlib::Create(g_tool, "alice", "phone");
  const testlib::Cred q = testlib::Create(g_tool, "alice", "tablet");
  sasltest::InitSasl(false);
  const pid_t parent = getpid();
  const std::string lock = g.store + "/lock.mdb";

  Both("alice", p.password, true, "parent: PAM and SASL accept an app password");
  Both("alice", kWrong, false, "parent: PAM and SASL refuse a wrong one");
  auto envs = EnvsOn(g.store);
  Report(envs.size() == 1 && envs[0].pid == parent && envs[0].open,
         "parent: one environment on the store, opened by the parent");
  Report(HoldsReadLock(lock, parent), "parent: holds its read lock on lock.mdb");

  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) Die("fork failed");
  if (child == 0) {
    close(fds[0]);
    const pid_t self = getpid();
    testlib::g_failures = 0;
    envs = EnvsOn(g.store);
    Report(envs.size() == 1 && envs[0].pid == parent && !envs[0].open,
           "child: the environment it inherited is the parent's, not usable here");
    const std::uint64_t opened_before = apppass::envreg::OpenedCount();
    Report(Pam("alice", p.password) == PAM_SUCCESS, "child: PAM accepts the app password");
    envs = EnvsOn(g.store);
    const auto own = std::count_if(envs.begin(), envs.end(),
                                   [&](const auto& e) { return e.open && e.pid == self; });
    Report(own == 1 && apppass::envreg::OpenedCount() > opened_before,
           "child: PAM opened an environment of the child's own (and keeps it after pam_end)");
    Report(Sasl("alice", p.password) == SASL_OK, "child: SASL accepts the app password");
    envs = EnvsOn(g.store);
    const bool inherited_closed = std::all_of(
        envs.begin(), envs.end(), [&](const auto& e) { return e.pid == self ? e.open : !e.open; });
    const auto mine = std::count_if(envs.begin(), envs.end(),
                                    [&](const auto& e) { return e.open && e.pid == self; });
    Report(mine == 1 && inherited_closed,
           "child: SASL reopened the store: one environment, the child's; the inherited one is "
           "closed");
    Report(HoldsReadLock(lock, self),
           "child: /proc/locks shows the child's own read lock on lock.mdb");
    Report(DescriptorsOf(lock) == 1, "child: one descriptor of lock.mdb",
           std::to_string(DescriptorsOf(lock)));
    // Writes after the fork are seen by the child's environment.
    g_tool.Ok({"revoke", "alice", q.id});
    Both("alice", q.password, false,
         "child: PAM and SASL refuse a password revoked after the fork");
    const testlib::Cred n = testlib::Create(g_tool, "alice", "laptop");
    Both("alice", n.password, true, "child: PAM and SASL accept a password created after the fork");
    Both("alice", kWrong, false, "child: PAM and SASL refuse a wrong password");
    Both("bob", p.password, false, "child: PAM and SASL refuse alice's password for bob");
    if (write(fds[1], n.password.data(), n.password.size()) !=
        static_cast<ssize_t>(n.password.size()))
      _exit(3);
    std::fflush(nullptr);
    _exit(testlib::g_failures == 0 ? 0 : 1);
  }
  close(fds[1]);
  char buf[128];
  const ssize_t got = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  int st = 0;
  waitpid(child, &st, 0);
  Report(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's checks passed");
  const std::string n_pw(buf, got > 0 ? static_cast<std::size_t>(got) : 0);

  Report(HoldsReadLock(lock, parent),
         "parent: still holds its read lock after the child closed the inherited environment");
  Report(GetLkOwner(lock) == parent,
         "parent: F_GETLK from another process finds the parent's lock");
  Both("alice", p.password, true, "parent: PAM and SASL still accept the app password");
  Both("alice", q.password, false, "parent: PAM and SASL refuse the password the child revoked");
  Report(!n_pw.empty(), "the child created a password");
  Both("alice", n_pw, true, "parent: PAM and SASL accept the password the child created");
  envs = EnvsOn(g.store);
  Report(envs.size() == 1 && envs[0].pid == parent && envs[0].open,
         "parent: still its one environment on the store");
  // A reader table without slots left by the child (mdb_stat -rr clears and counts them).
  const testlib::RunResult r = testlib::Run({"/usr/bin/mdb_stat", "-rr", g.store});
  // (mdb_stat exits 1 after -rr whatever it found: only its report counts.)
  Report(testlib::Contains(r.out, " 0 stale readers cleared"), "mdb_stat -rr: no stale reader slot",
         r.out);
  sasltest::DoneSasl(false);
  return 0;
}

// ---------------------------------------------------------------------------------------
// shared

double MedianUs(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times `n` accepted PAM transactions; each must succeed.
std::vector<double> TimePam(const std::string& pw, int n, int* failures) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (Pam("alice", pw) != PAM_SUCCESS) ++*failures;
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return us;
}

int RunShared(int writes) {
  InitStoreAndSasl();
  testlib::Enroll(g_tool, "alice");
  testlib::Enroll(g_tool, "bob");
  const testlib::Cred p = testlib::Create(g_tool, "alice", "phone");
  const testlib::Cred r = testlib::Create(g_tool, "alice", "old");
  g_tool.Ok({"revoke", "alice", r.id});
  const std::string lock = g.store + "/lock.mdb";
  const std::string usage_lock = g.store + "/usage/lock.mdb";
  const pid_t self = getpid();

  // The PAM module alone: it opens the store and the usage database at the first
  // (accepted) transaction and keeps them (common/store_cache.h).
  int timing_failures = 0;
  const auto alone = TimePam(p.password, 300, &timing_failures);
  {
    const auto store_envs = EnvsOn(g.store), usage_envs = EnvsOn(g.store + "/usage");
    Report(store_envs.size() == 1 && store_envs[0].refs == 1 && usage_envs.size() == 1 &&
               usage_envs[0].refs == 1 && !usage_envs[0].read_only &&
               apppass::envreg::OpenedCount() == 2,
           "PAM alone: the store and the usage database opened once for 300 transactions and "
           "kept after pam_end",
           std::to_string(apppass::envreg::OpenedCount()) + " opened");
  }

  sasltest::InitSasl(false);
  const std::uint64_t opened_at_init = apppass::envreg::OpenedCount();
  Report(
      opened_at_init >= 2 && EnvsOn(g.store).size() == 1 && EnvsOn(g.store + "/usage").size() == 1,
      "sasl_server_init: the plugin opened the store and the usage database");
  const auto shared = TimePam(p.password, 300, &timing_failures);
  Report(timing_failures == 0, "600 timed PAM transactions accepted");
  std::printf(
      "# PAM transaction (pam_start..pam_end, accepted), median of 300: %.1f us with the "
      "module alone (its kept store), %.1f us beside the SASL plugin\n",
      MedianUs(alone), MedianUs(shared));

  const off_t data_before = StatOf(g.store + "/data.mdb").st_size;
  // The writer: the admin tool in other processes, reporting each create once it has
  // returned ("C id password"), each revoke before it starts ("P id") and once it has
  // returned ("R id").
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Die("pipe failed");
  std::fflush(nullptr);
  const pid_t writer = fork();
  if (writer < 0) Die("fork failed");
  if (writer == 0) {
    close(fds[0]);
    std::string last_id;
    g_tool.Ok({"policy", "set", "max_active", "1000"});  // more than the default 25
    for (int i = 0; i < writes; ++i) {
      // Long names make the store grow past what the verifiers mapped.
      const testlib::Cred c =
          testlib::Create(g_tool, "bob", "w" + std::to_string(i) + std::string(56, 'x'));
      auto say = [&](const std::string& line) {
        if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(2);
      };
      say("C " + c.id + " " + c.password + "\n");
      if (!last_id.empty() && i % 2 == 0) {
        say("P " + last_id + "\n");  // from now on either answer is right, until "R"
        g_tool.Ok({"revoke", "bob", last_id});
        say("R " + last_id + "\n");
      }
      last_id = c.id;
    }
    _exit(0);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);

  // A thread that watches this process's descriptors of lock.mdb. Started only after the
  // fork: a child forked while another thread runs may find a lock that thread held
  // (the allocator's, under ASan) locked forever; CI saw the writer hang so.
  std::atomic<bool> stop{false};
  std::atomic<int> max_fds{0}, samples{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      const int n = DescriptorsOf(lock);
      int m = max_fds.load();
      while (n > m && !max_fds.compare_exchange_weak(m, n)) {
      }
      ++samples;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });

  std::map<std::string, std::string> active, pending_revoke, revoked;  // id -> password
  std::string pending;
  long rounds = 0, lock_checks = 0, lock_lost = 0, bad = 0;
  bool writer_done = false;
  const auto start = std::chrono::steady_clock::now();
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
      pending.append(buf, static_cast<std::size_t>(n));
    if (n == 0) writer_done = true;
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      std::istringstream f(pending.substr(0, nl));
      std::string kind, id, pw;
      f >> kind >> id >> pw;
      if (kind == "C") active[id] = pw;
      if (kind == "P") {
        pending_revoke[id] = active[id];
        active.erase(id);
      }
      if (kind == "R") {
        revoked[id] = pending_revoke[id];
        pending_revoke.erase(id);
      }
    }
  };
  long ambiguous = 0;
  // A writer that stops making progress fails the test with its state, well before CTest's
  // timeout would end it without a word.
  const auto deadline = start + std::chrono::seconds(30 + writes);
  bool writer_hung = false;
  while (!writer_done || rounds < 50) {
    if (!writer_done && std::chrono::steady_clock::now() > deadline) {
      std::ifstream wchan("/proc/" + std::to_string(writer) + "/wchan");
      std::string where;
      std::getline(wchan, where);
      Report(false, "the admin tool's writer finished in time",
             "still running after " + std::to_string(30 + writes) + " s, waiting in '" + where +
                 "'; " + std::to_string(active.size()) + " active, " +
                 std::to_string(revoked.size()) + " revoked so far");
      kill(writer, SIGKILL);
      writer_hung = true;
      break;
    }
    drain();
    // Alternately through PAM and SASL: each verification starts after what it expects
    // was reported done.
    const bool pam = rounds % 2 == 0;
    // `active_id`: the expected acceptance holds only if no revoke of it started before
    // the verification ended ("P" seen afterwards): then either answer is right.
    auto check = [&](const std::string& user, const std::string& pw, bool accept,
                     const std::string& active_id = "") {
      const int rc = pam ? Pam(user, pw) : Sasl(user, pw);
      const bool ok =
          accept ? rc == (pam ? PAM_SUCCESS : SASL_OK) : rc == (pam ? PAM_AUTH_ERR : SASL_BADAUTH);
      if (!active_id.empty()) {
        drain();
        if (!active.contains(active_id)) {
          ++ambiguous;
          return;
        }
      }
      ++(ok ? g_answers.right : g_answers.wrong);
      if (!ok && ++bad <= 5) {
        // What the store says now, for the report.
        std::fflush(stderr);
        const int saved = dup(2);
        const int cap = open((g.dir + "/capture").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(cap, 2);
        setenv("PAM_WRAPPER_DEBUGLEVEL", "4", 1);
        const int again = Pam(user, pw);
        unsetenv("PAM_WRAPPER_DEBUGLEVEL");
        dup2(saved, 2);
        close(saved);
        close(cap);
        std::ifstream capf(g.dir + "/capture");
        for (std::string l; std::getline(capf, l);)
          if (l.find("SYSLOG") != std::string::npos) std::printf("# %s\n", l.c_str());
        const testlib::RunResult list = g_tool.Run({"list", user, "--revoked", "--json"});
        Report(false,
               std::string(pam ? "PAM" : "SASL") + (accept ? " accepts " : " refuses ") + user +
                   "'s password",
               "got " + std::to_string(rc) + ", again " + std::to_string(again) + "; " + list.out);
      }
    };
    check("alice", p.password, true);
    check("alice", r.password, false);
    check("alice", kWrong, false);
    if (!active.empty()) {
      const auto [id, pw] = *active.rbegin();
      check("bob", pw, true, id);
    }
    if (!revoked.empty()) check("bob", revoked.rbegin()->second, false);
    if (pam) {
      ++lock_checks;
      if (!HoldsReadLock(lock, self)) ++lock_lost;
    }
    ++rounds;
  }
  close(fds[0]);
  int wst = 0;
  waitpid(writer, &wst, 0);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  watcher.join();

  Report(!writer_hung && WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
         "the admin tool created " + std::to_string(writes) + " and revoked " +
             std::to_string(revoked.size()) + " app passwords meanwhile");
  Report(g_answers.wrong == 0 && bad == 0,
         std::to_string(g_answers.right + g_answers.wrong) + " verifications in " +
             std::to_string(rounds) + " rounds alternating PAM and SASL: all right (" +
             std::to_string(ambiguous) + " more overlapped a revoke and were not counted)");
  Report(lock_checks > 0 && lock_lost == 0,
         "after each of " + std::to_string(lock_checks) +
             " PAM rounds the process still held its read lock on lock.mdb",
         std::to_string(lock_lost) + " times it did not");
  Report(max_fds.load() == 1 && samples.load() > 0,
         "never more than one descriptor of lock.mdb in this process (" +
             std::to_string(samples.load()) + " samples)",
         "max " + std::to_string(max_fds.load()));
  Report(DescriptorsOf(usage_lock) == 1, "one descriptor of usage/lock.mdb");
  const auto envs = EnvsOn(g.store);
  Report(envs.size() == 1 && envs[0].open && envs[0].pid == self && envs[0].refs == 2,
         "one environment on the store, held by the SASL plugin and the PAM module's kept store",
         envs.empty() ? "none" : std::to_string(envs[0].refs) + " references");
  Report(apppass::envreg::OpenedCount() == opened_at_init && apppass::envreg::SharedCount() > 0,
         "PAM transactions shared the plugin's environments and opened none (" +
             std::to_string(apppass::envreg::SharedCount()) + " shared)");
  Report(HoldsReadLock(lock, self) && GetLkOwner(lock) == self,
         "/proc/locks and F_GETLK from another process: this process holds lock.mdb");
  struct stat data = StatOf(g.store + "/data.mdb");
  std::printf("# %ld verifications in %.1f s while data.mdb grew from %lld to %lld KiB\n",
              g_answers.right + g_answers.wrong, secs, static_cast<long long>(data_before / 1024),
              static_cast<long long>(data.st_size / 1024));
  // Accepted or refused as the store says now, after everything.
  if (!active.empty())
    Both("bob", active.rbegin()->second, true, "bob's newest password is accepted at the end");
  if (!revoked.empty())
    Both("bob", revoked.begin()->second, false,
         "bob's first revoked password is refused at the end");
  sasltest::DoneSasl(false);
  const auto left = EnvsOn(g.store);
  Report(left.size() == 1 && left[0].refs == 1 && left[0].open,
         "sasl_server_done: the plugin's reference is gone, the PAM module's kept store remains");
  return 0;
}

// ---------------------------------------------------------------------------------------
// threads: PAM and SASL verifying at the same time in several threads of one process while
// the admin tool grows the store, so that the environment is remapped (exclusively) under
// concurrent transactions of both modules.

int RunThreads(int writes) {
  InitStoreAndSasl();
  testlib::Enroll(g_tool, "alice");
  testlib::Enroll(g_tool, "bob");
  const testlib::Cred p = testlib::Create(g_tool, "alice", "phone");
  sasltest::InitSasl(false);
  const std::uint64_t opened_at_init = apppass::envreg::OpenedCount();
  const off_t data_before = StatOf(g.store + "/data.mdb").st_size;

  std::atomic<bool> stop{false};
  std::atomic<long> right{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // One SASL thread: the harness's log callback (tests/lib/sasl_harness.h) is not thread-safe.
      const bool pam = t != 0;
      for (long i = 0; !stop.load() || i < 20; ++i) {
        const bool accept = i % 2 == 0;
        const std::string pw = accept ? p.password : std::string(kWrong);
        const int rc = pam ? Pam("alice", pw) : Sasl("alice", pw);
        const bool ok = pam ? rc == (accept ? PAM_SUCCESS : PAM_AUTH_ERR)
                            : rc == (accept ? SASL_OK : SASL_BADAUTH);
        ++(ok ? right : wrong);
      }
    });
  }
  std::vector<testlib::Cred> created;
  g_tool.Ok({"policy", "set", "max_active", "1000"});  // more than the default 25
  for (int i = 0; i < writes; ++i)
    created.push_back(
        testlib::Create(g_tool, "bob", "t" + std::to_string(i) + std::string(56, 'x')));
  stop = true;
  for (auto& t : threads) t.join();
  Report(wrong.load() == 0 && right.load() > 0,
         std::to_string(right.load() + wrong.load()) +
             " verifications in 4 threads (3 PAM, 1 SASL) while the tool created " +
             std::to_string(writes) + " app passwords: all right",
         std::to_string(wrong.load()) + " wrong");
  long bob_right = 0;
  for (const auto& c : created)
    bob_right +=
        (Pam("bob", c.password) == PAM_SUCCESS && Sasl("bob", c.password) == SASL_OK) ? 1 : 0;
  Report(bob_right == writes, "afterwards PAM and SASL accept each of the " +
                                  std::to_string(writes) + " new app passwords");
  const auto envs = EnvsOn(g.store);
  // Two references: the plugin's and the PAM module's kept store.
  Report(envs.size() == 1 && envs[0].refs == 2 && apppass::envreg::OpenedCount() == opened_at_init,
         "still one environment on the store, opened once",
         envs.empty() ? "none" : std::to_string(envs[0].refs) + " references");
  std::printf("# data.mdb grew from %lld to %lld KiB under the readers\n",
              static_cast<long long>(data_before / 1024),
              static_cast<long long>(StatOf(g.store + "/data.mdb").st_size / 1024));
  sasltest::DoneSasl(false);
  return 0;
}

// ---------------------------------------------------------------------------------------
// kept: what a PAM transaction opens once the module keeps its store (issue 14).

// The id of the usage database's last committed LMDB transaction (mdb_stat -e, another
// process): unchanged means nothing was written.
long UsageTxnId() {
  const testlib::RunResult r = testlib::Run({"/usr/bin/mdb_stat", "-e", g.store + "/usage"});
  const std::string key = "Last transaction ID: ";
  const auto at = r.out.find(key);
  if (r.status != 0 || at == std::string::npos) Die("mdb_stat -e failed: " + r.out);
  return std::atol(r.out.c_str() + at + key.size());
}

// strace attached to this process until Stop(): the file-opening system calls and the
// syncs it makes meanwhile.
class Trace {
 public:
  bool Start(const std::string& strace, const std::string& out) {
    out_ = out;
    const std::string self = std::to_string(getpid());
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) Die("fork failed");
    if (pid_ == 0) {
      execl(strace.c_str(), strace.c_str(), "-qq", "-f", "-o", out.c_str(), "-e",
            "trace=open,openat,openat2,fdatasync,fsync,msync", "-p", self.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Attached once /proc/self/status names a tracer.
    for (int i = 0; i < 1000; ++i) {
      std::ifstream st("/proc/self/status");
      for (std::string line; std::getline(st, line);)
        if (line.starts_with("TracerPid:") && std::atol(line.c_str() + 10) != 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Detaches strace (SIGTERM) and returns what it wrote.
  std::vector<std::string> Stop() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::vector<std::string> lines;
    std::ifstream in(out_);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }

 private:
  pid_t pid_ = -1;
  std::string out_;
};

int RunKept(int rounds) {
  const char* strace = std::getenv("APPPASS_STRACE");
  if (strace == nullptr || access(strace, X_OK) != 0) {
    std::printf("# skipped: no strace (APPPASS_STRACE)\n");
    return 77;
  }
  InitStoreAndSasl();
  testlib::Enroll(g_tool, "alice");
  testlib::Enroll(g_tool, "bob");
  const testlib::Cred p = testlib::Create(g_tool, "alice", "phone");
  const testlib::Cred r = testlib::Create(g_tool, "alice", "old");
  const testlib::Cred b = testlib::Create(g_tool, "bob", "desk");
  g_tool.Ok({"revoke", "alice", r.id});

  // The first transaction opens the store, the first accepted one the usage database.
  Report(Pam("alice", kWrong) == PAM_AUTH_ERR, "first transaction: a wrong password refused");
  Report(EnvsOn(g.store).size() == 1 && EnvsOn(g.store + "/usage").empty(),
         "a refused login opened the store and not the usage database");
  Report(Pam("alice", p.password) == PAM_SUCCESS && Pam("bob", b.password) == PAM_SUCCESS,
         "two app passwords accepted (their first use recorded)");
  Report(EnvsOn(g.store).size() == 1 && EnvsOn(g.store + "/usage").size() == 1,
         "the store and the usage database kept after pam_end");
  const std::uint64_t opened = apppass::envreg::OpenedCount();
  const long txn_before = UsageTxnId();

  Trace trace;
  const std::string trace_file = g.dir + "/strace.out";
  const std::string mark = g.dir + "/strace-mark";
  if (!trace.Start(strace, trace_file)) Die("strace did not attach");
  // A call the trace must show: it proves the trace saw this process.
  const int mark_fd = open(mark.c_str(), O_RDONLY | O_CLOEXEC);
  if (mark_fd >= 0) close(mark_fd);
  long right = 0, wrong = 0;
  for (int i = 0; i < rounds; ++i) {
    ++(Pam("alice", p.password) == PAM_SUCCESS ? right : wrong);
    ++(Pam("alice", kWrong) == PAM_AUTH_ERR ? right : wrong);
    ++(Pam("alice", r.password) == PAM_AUTH_ERR ? right : wrong);
    ++(Pam("bob", b.password) == PAM_SUCCESS ? right : wrong);
    ++(Pam("carol", p.password) == PAM_AUTH_ERR ? right : wrong);
  }
  const std::vector<std::string> lines = trace.Stop();
  const long txn_after = UsageTxnId();

  long marks = 0, under_store = 0, proc_fd = 0, syncs = 0, opens = 0;
  std::string first_store, first_proc;
  const std::string proc_self = "\"/proc/self/fd", proc_pid = "\"/proc/" + std::to_string(getpid());
  for (const std::string& l : lines) {
    const bool is_open = testlib::Contains(l, " open(") || testlib::Contains(l, " openat(") ||
                         testlib::Contains(l, " openat2(");
    if (testlib::Contains(l, "fdatasync(") || testlib::Contains(l, "fsync(") ||
        testlib::Contains(l, "msync("))
      ++syncs;
    if (!is_open) continue;
    ++opens;
    if (testlib::Contains(l, mark)) ++marks;
    else if (testlib::Contains(l, "\"" + g.store)) {
      if (under_store++ == 0) first_store = l;
    } else if (testlib::Contains(l, proc_self) || testlib::Contains(l, proc_pid + "/fd")) {
      if (proc_fd++ == 0) first_proc = l;
    }
  }
  const long tx = 5L * rounds;
  Report(marks == 1, "strace traced the process (its marker open seen once)",
         std::to_string(lines.size()) + " lines");
  Report(wrong == 0, std::to_string(tx) + " transactions after the first: every answer right",
         std::to_string(wrong) + " wrong");
  Report(under_store == 0,
         "no open or opendir under the store directory in " + std::to_string(tx) +
             " transactions (accepted and refused)",
         std::to_string(under_store) + ", first: " + first_store);
  Report(proc_fd == 0, "/proc/self/fd never listed",
         std::to_string(proc_fd) + ", first: " + first_proc);
  Report(apppass::envreg::OpenedCount() == opened, "no LMDB environment opened");
  Report(syncs == 0 && txn_after == txn_before,
         std::to_string(2L * rounds) +
             " accepted logins within the usage interval: no write to the usage database",
         "transaction id " + std::to_string(txn_before) + " -> " + std::to_string(txn_after) +
             ", " + std::to_string(syncs) + " syncs");
  std::printf("# %ld file opens in %ld transactions (%.2f each: libpam's service files)\n", opens,
              tx, static_cast<double>(opens - marks) / static_cast<double>(tx));

  // usage_interval=1: one write per password per second. At the start of a second, the
  // first accepted login writes and the next ones within the second do not.
  auto next_second = [] {
    const std::time_t t0 = std::time(nullptr);
    while (std::time(nullptr) == t0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  long writes_ok = 0;
  for (int pass = 0; pass < 2; ++pass) {
    next_second();
    const long before = UsageTxnId();
    const std::time_t sec = std::time(nullptr);
    int accepted = 0;
    for (int i = 0; i < 10; ++i) accepted += Pam("alice", p.password, "imap1") == PAM_SUCCESS;
    const bool same_second = std::time(nullptr) == sec;
    const long after = UsageTxnId();
    if (accepted == 10 && (after == before + 1 || !same_second)) ++writes_ok;
    else
      std::printf("# pass %d: %d accepted, transaction id %ld -> %ld\n", pass, accepted, before,
                  after);
  }
  Report(writes_ok == 2,
         "usage_interval=1: 10 accepted logins within one second write last use once (twice)");

  // Today's answers, in the same process, to a store changed under the kept one.
  auto expect = [&](int want, const std::string& what) {
    const int got = Pam("alice", p.password);
    Report(got == want, what, "got " + std::to_string(got) + ", want " + std::to_string(want));
  };
  const std::string data = g.store + "/data.mdb", key = g.store + "/key";
  for (const std::string& f : {data, key}) {
    const std::string name = fs::path(f).filename().string();
    chmod(f.c_str(), 0644);
    expect(PAM_AUTHINFO_UNAVAIL, name + " made 0644: PAM_AUTHINFO_UNAVAIL");
    chmod(f.c_str(), 0600);
    expect(PAM_SUCCESS, name + " put back to 0600: accepted");
  }
  if (rename(key.c_str(), (key + ".orig").c_str()) != 0) Die("rename failed");
  testlib::WriteFile(key, std::string(32, 'k'));
  chmod(key.c_str(), 0600);
  expect(PAM_AUTH_ERR, "another key in place: the password is wrong");
  if (rename((key + ".orig").c_str(), key.c_str()) != 0) Die("rename failed");
  expect(PAM_SUCCESS, "the key put back: accepted");
  fs::copy_file(data, data + ".orig");
  if (truncate(data.c_str(), 0) != 0) Die("truncate failed");
  expect(PAM_AUTHINFO_UNAVAIL, "data.mdb truncated: PAM_AUTHINFO_UNAVAIL");
  if (rename((data + ".orig").c_str(), data.c_str()) != 0) Die("rename failed");
  expect(PAM_SUCCESS, "data.mdb put back: accepted");
  if (rename(g.store.c_str(), (g.store + ".away").c_str()) != 0) Die("rename failed");
  expect(PAM_AUTHINFO_UNAVAIL, "the store directory moved away: PAM_AUTHINFO_UNAVAIL");
  if (rename((g.store + ".away").c_str(), g.store.c_str()) != 0) Die("rename failed");
  expect(PAM_SUCCESS, "the store directory put back: accepted");
  Report(Pam("alice", kWrong) == PAM_AUTH_ERR, "and a wrong password refused");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr,
                 "usage: %s fork|shared|threads|kept PAM_MODULE SASL_PLUGIN APPPASS_TOOL "
                 "[WRITES|ROUNDS]\n",
                 argv[0]);
    return 2;
  }
  const std::string scenario = argv[1];
  g.module = argv[2];
  g.plugin = argv[3];
  g.tool = argv[4];
  const int writes = argc == 6 ? std::atoi(argv[5]) : 40;
  if (scenario != "fork" && scenario != "shared" && scenario != "threads" && scenario != "kept")
    Die("unknown scenario " + scenario);
  for (const std::string* p : {&g.module, &g.plugin, &g.tool})
    if (!p->starts_with("/") || access(p->c_str(), R_OK) != 0)
      Die("not an absolute, readable path: " + *p);

  const char* dir = std::getenv(kStepEnv);
  if (dir == nullptr) {
    // Step 1: service files and SASL config, then again under pam_wrapper.
    g.dir = testlib::MakeTempDir("apppass-process");
    g.store = g.dir + "/store";
    fs::create_directory(g.dir + "/services");
    fs::create_directory(g.dir + "/sasl");
    const std::string line = g.module + " db=" + g.store + "\n";
    testlib::WriteFile(g.dir + "/services/other", "");
    testlib::WriteFile(g.dir + "/services/" + kService,
                       "auth required " + line + "account required " + line);
    const std::string line1 = g.module + " db=" + g.store + " usage_interval=1\n";
    testlib::WriteFile(g.dir + "/services/imap1",
                       "auth required " + line1 + "account required " + line1);
    testlib::WriteFile(g.dir + "/sasl/" + std::string(kApp) + ".conf",
                       "mech_list: PLAIN LOGIN\napppass_db: " + g.store + "\n");
    return pamtest::RerunUnderPamWrapper(argv, kStepEnv, g.dir, g.dir + "/services", "test_process",
                                         false);
  }
  g.dir = dir;
  g.store = g.dir + "/store";
  g.sasl_conf = g.dir + "/sasl";
  if (oath_init() != OATH_OK) Die("oath_init failed");
  if (scenario == "fork") RunFork();
  else if (scenario == "threads") RunThreads(writes);
  else if (scenario == "kept") {
    if (RunKept(writes) == 77) return 77;
  } else RunShared(writes);
  std::printf("# %d checks, %d failed\n", testlib::g_checks, testlib::g_failures);
  return testlib::g_failures == 0 ? 0 : 1;
}
