// Stress driver for issue 5: crash consistency, concurrency, stale reader slots.
//
//   stress_driver MODE MODULE PLUGIN TOOL [key=value...]
//
// MODE:
//   workload  The real admin tool (TOOL) creates, revokes and resets MFA in a loop on a
//             throwaway store, optionally SIGKILLed at random points (kill_pct), while
//             verifier processes authenticate continuously: `pam` processes drive the
//             real pam_apppass.so (MODULE) through libpam, `sasl` processes the real
//             libsasl2 with libapppass.so (PLUGIN) loaded, `core` processes call the
//             verifier of apppass_core directly (exact outcomes). After every kill the
//             store must open, `apppass check` must be clean (when the tool has it),
//             every acknowledged operation must be in `apppass list`, and the next
//             writer must proceed. Every verifier answer is judged (below).
//   readers   SIGKILLs verifiers in the middle of read transactions, more often than
//             the LMDB reader table has slots, while a long-lived reader keeps the
//             environment open: new verifiers must still get a slot and data.mdb must
//             not keep growing because dead readers pin old pages.
//
// Judging a verification without trusting clocks: each credential has a state word in
// shared memory (kind + change counter). The driver sets "revoking" before it starts a
// revoke (or mfa reset) and "revoked" only after the tool exited 0; a create is
// published as "active" only after the tool exited 0 and printed the password. A
// verifier reads the word before it starts and again after it finished:
//   - "revoked" before the start: the revoke returned before the verification started,
//     so it must be refused (reason revoked, where the verifier can see reasons);
//   - "active" before and unchanged after: created before the start and no revoke began
//     before the end, so it must be accepted;
//   - anything else overlapped a revoke: accepted or refused-as-revoked both fine.
// Passwords presented for another user and random never-issued passwords must always be
// refused as wrong-password or unknown-user. "unavailable", bad input, or any other code
// is a wrong answer (with allow_unavailable=1, an unavailable store is counted and
// allowed as a refusal: the 64-loop test, where a transient open failure must fail
// closed).
//
// PAM transactions use pam_start_confdir (Linux-PAM >= 1.4) with our own service
// directory: it is the call pam_wrapper makes underneath, but pam_wrapper gives every
// process its own /tmp/pam.X directory out of 62 names, which 64 concurrent verifier
// processes (plus other tests) would exhaust. syslog() is replaced in this program, so
// the module's decision lines are captured (reason=...) and never reach the system log.
//
// Prints "ok - ..." / "not ok - ..." per check, a figures block ("# ..."), and exits 1
// if a check failed. STRESS_TRACE=1 in the environment prints every tool run on stderr.
#include <fcntl.h>
#include <liboath/oath.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../lib/pam_conv.h"
#include "../lib/report.h"
#include "../lib/totp_now.h"
#include "admin.h"
#include "password.h"
#include "records.h"
#include "store.h"
#include "store_internal.h"
#include "verifier.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// Reporting.

using testlib::g_checks;
using testlib::g_failures;
using testlib::Report;

// A failure inside a loop: reported once per distinct name, counted every time.
std::map<std::string, long> g_loop_failures;
void LoopFailure(const std::string& name, const std::string& why) {
  if (g_loop_failures[name]++ < 5) Report(false, name, why);
}

pid_t g_driver_pid = 0;
std::atomic<int>* g_stop = nullptr;  // the verifiers' stop flag, once shared memory exists
std::string g_tmpdir;                // removed by Die() in the driver process

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "stress_driver: %s\n", what.c_str());
  std::fflush(nullptr);
  if (g_stop != nullptr) g_stop->store(1);  // verifiers end their loops
  if (getpid() == g_driver_pid && !g_tmpdir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(g_tmpdir, ec);
  }
  std::exit(2);
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// ---------------------------------------------------------------------------------------
// Configuration.

struct Config {
  std::string mode, module, plugin, tool;
  int users = 8;
  long ops = 1000;                  // tool operations, at least
  int kill_pct = 0;                 // % of operations that get a SIGKILL at a random delay
  int pam = 0, sasl = 0, core = 0;  // verifier processes of each kind
  long verifications = 0;           // verifications in total, at least
  int seconds = 600;                // give up (and fail) after this long
  bool allow_unavailable = false;
  int reader_kills = 300;    // readers: readers killed inside a read transaction
  int write_cycles = 150;    // readers: create+revoke cycles per bloat phase
  int verifier_kills = 150;  // readers: looping PAM/SASL verifiers killed at random
};
Config C;

struct Paths {
  std::string dir, store, pamdir, sasl_plugins, sasl_conf, hooks;
};
Paths P;

// ---------------------------------------------------------------------------------------
// Captured log lines: this program's syslog() (libpam's pam_syslog and libsasl's default
// logger end here) and libsasl's log callback. Each verifier process is single-threaded.

std::string g_lastlog;

void CaptureLog(const char* format, va_list ap) {
  char buf[2048];
  std::vsnprintf(buf, sizeof buf, format, ap);
  g_lastlog = buf;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void syslog(int, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  CaptureLog(format, ap);
  va_end(ap);
}
extern "C" __attribute__((visibility("default"))) void __syslog_chk(int, int, const char* format,
                                                                    ...) {
  va_list ap;
  va_start(ap, format);
  CaptureLog(format, ap);
  va_end(ap);
}
extern "C" __attribute__((visibility("default"))) void vsyslog(int, const char* format,
                                                               va_list ap) {
  CaptureLog(format, ap);
}
extern "C" __attribute__((visibility("default"))) void __vsyslog_chk(int, int, const char* format,
                                                                     va_list ap) {
  CaptureLog(format, ap);
}

namespace {

// The reason=... of a decision line, "accepted" for an acceptance, "" when none.
std::string ReasonOf(const std::string& line) {
  if (line.find("accepted service=") != std::string::npos) return "accepted";
  const auto p = line.find(" reason=");
  if (p == std::string::npos) return "";
  const auto b = p + 8;
  const auto e = line.find(' ', b);
  return line.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

// ---------------------------------------------------------------------------------------
// Shared memory between the driver and the verifier processes.

constexpr int kMaxUsers = 16;
constexpr int kMaxWorkers = 80;
constexpr std::uint32_t kMaxSlots = 1u << 16;

enum SlotKind : std::uint64_t { kUnused = 0, kActive = 1, kRevoking = 2, kRevoked = 3 };

struct Slot {
  std::atomic<std::uint64_t> state;  // (changes << 2) | SlotKind
  std::uint32_t user;
  char password[32];  // display form, immutable once published
};

enum WorkerKind { kPam = 0, kSasl = 1, kCore = 2, kCoreLong = 3, kNumKinds = 4 };
const char* KindName(int k) {
  static const char* const kNames[] = {"pam", "sasl", "core", "core-long-lived"};
  return kNames[k];
}

struct WorkerStats {
  std::atomic<std::uint64_t> total, expect_accept, expect_revoked, expect_foreign, overlapped,
      accepted, refused, unavailable, wrong;
};

struct Shared {
  std::atomic<std::uint32_t> nslots;
  std::atomic<int> stop;
  std::atomic<std::uint64_t> verifications;
  int nusers;
  char users[kMaxUsers][16];
  int kinds[kMaxWorkers];
  WorkerStats stats[kMaxWorkers];
  std::atomic<int> nerrors;
  char errors[32][300];
  std::atomic<int> nunavailable;
  char unavailable[8][300];  // why, for the first few "unavailable" answers
  Slot slots[kMaxSlots];
};
Shared* shm = nullptr;

void SharedError(const std::string& what) {
  const int i = shm->nerrors.fetch_add(1);
  if (i < 32) std::snprintf(shm->errors[i], sizeof shm->errors[i], "%s", what.c_str());
}

void MapShared() {
  void* p =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) Die("mmap failed");
  shm = new (p) Shared();
  g_stop = &shm->stop;
}

// ---------------------------------------------------------------------------------------
// Running the admin tool, optionally SIGKILLing it after a delay.

struct ToolResult {
  int status = -1;      // exit status, or -1 if it did not exit normally
  bool killed = false;  // ended by our SIGKILL
  std::string out, err;
  double ms = 0;
};

std::vector<std::string> ToolEnv() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (!std::string_view(*e).starts_with("LD_PRELOAD=")) env.emplace_back(*e);
  return env;
}

// `kill_after_us` < 0: never kill.
ToolResult RunTool(const std::vector<std::string>& args, long kill_after_us = -1) {
  std::vector<std::string> argv_s = {C.tool, "--db", P.store, "--hooks-dir", P.hooks};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  static std::vector<std::string> env_s = ToolEnv();
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) Die("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const auto start = Clock::now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv_s[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  if (rc != 0) Die("cannot run " + C.tool + ": " + std::strerror(rc));
  ToolResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  bool kill_sent = false;
  const auto deadline = start + std::chrono::microseconds(kill_after_us < 0 ? 0 : kill_after_us);
  const auto hard_deadline = start + std::chrono::seconds(60);
  while (open_fds > 0) {
    int timeout_ms = 1000;
    if (kill_after_us >= 0 && !kill_sent) {
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        kill(pid, SIGKILL);
        kill_sent = true;
        continue;
      }
      // poll has millisecond resolution: sleep out short remainders exactly.
      if (left < 1000) {
        struct timespec ts {
          0, static_cast<long>(left) * 1000
        };
        nanosleep(&ts, nullptr);
        continue;
      }
      timeout_ms = static_cast<int>(left / 1000);
    }
    if (Clock::now() > hard_deadline && !kill_sent) {
      kill(pid, SIGKILL);
      kill_sent = true;
      r.err += "[stress_driver: the tool hung for 60 s]";
    }
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) Die("poll failed");
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[8192];
      const ssize_t k = read(fds[i].fd, buf, sizeof buf);
      if (k > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(k));
      } else if (k == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && kill_sent;
  return r;
}

std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string Describe(const std::vector<std::string>& args, const ToolResult& r) {
  return "apppass " + Join(args) + ": exit " + std::to_string(r.status) +
         ", stderr: " + r.err.substr(0, 300);
}

nlohmann::json ToolJson(const std::vector<std::string>& args) {
  const ToolResult r = RunTool(args);
  if (r.status != 0) Die(Describe(args, r));
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    Die("apppass " + Join(args) + " printed no JSON: " + e.what());
  }
}

std::string TotpNow(const std::string& base32) {
  std::string code = testlib::TotpCodeNow(base32);
  if (code.empty()) Die("no TOTP code from apppass mfa enroll's secret");
  return code;
}

std::string Enroll(const std::string& user) {
  const nlohmann::json e = ToolJson({"mfa", "enroll", user, "--json"});
  const std::string secret = e.at("secret").get<std::string>();
  const std::vector<std::string> args = {"mfa", "confirm", user, TotpNow(secret)};
  const ToolResult r = RunTool(args);
  if (r.status != 0) Die(Describe(args, r));
  return secret;
}

// ---------------------------------------------------------------------------------------
// Setup: store, PAM service directory, SASL plugin directory and config.

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  if (!f) Die("cannot write " + path);
}

void Setup() {
  std::string tmpl = "/tmp/apppass-stress.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
  P.dir = tmpl;
  g_tmpdir = P.dir;
  P.store = P.dir + "/store";
  P.pamdir = P.dir + "/pam.d";
  P.sasl_plugins = P.dir + "/sasl-plugins";
  P.sasl_conf = P.dir + "/sasl-conf";
  P.hooks = P.dir + "/no-hooks";  // missing: no hooks run (never /etc/apppass/hooks.d)
  fs::create_directory(P.pamdir);
  fs::create_directory(P.sasl_plugins);
  fs::create_directory(P.sasl_conf);
  const std::string db = " db=" + P.store;
  WriteFile(P.pamdir + "/other", "");
  WriteFile(P.pamdir + "/imap", "auth required " + C.module + db + "\n");
  // Last use recorded on every acceptance: the usage environment's writer lock is taken
  // all the time, so killed verifiers die inside its transactions too.
  WriteFile(P.pamdir + "/imap-usage", "auth required " + C.module + db + " usage_interval=0\n");
  fs::create_symlink(C.plugin, P.sasl_plugins + "/libapppass.so");
  WriteFile(P.sasl_conf + "/stress.conf", "mech_list: PLAIN LOGIN\napppass_db: " + P.store + "\n");
  WriteFile(P.sasl_conf + "/stress-usage.conf",
            "mech_list: PLAIN LOGIN\napppass_db: " + P.store + "\napppass_usage_interval: 0\n");
  const ToolResult r = RunTool({"init"});
  if (r.status != 0) Die(Describe({"init"}, r));
}

std::uintmax_t DataSize() {
  std::error_code ec;
  const auto n = fs::file_size(P.store + "/data.mdb", ec);
  return ec ? 0 : n;
}

// ---------------------------------------------------------------------------------------
// Verifiers. Each runs in a process of its own (forked from the driver before the driver
// opens the store; an LMDB environment must not cross fork).

enum class Verdict { kAccept, kRefuse, kUnavailable, kOther };
struct Answer {
  Verdict verdict = Verdict::kOther;
  std::string reason;  // the decision's reason when the verifier can see it
  std::string raw;     // return code, for messages
};

// --- PAM: pam_start_confdir / pam_authenticate / pam_end per verification.

std::string PamService = "imap";

Answer PamVerify(const std::string& user, const std::string& password) {
  Answer a;
  g_lastlog.clear();
  const pam_conv conv{testlib::PasswordConv, const_cast<std::string*>(&password)};
  pam_handle_t* ph = nullptr;
  int rc = pam_start_confdir(PamService.c_str(), user.c_str(), &conv, P.pamdir.c_str(), &ph);
  if (rc != PAM_SUCCESS) {
    a.raw = "pam_start_confdir rc=" + std::to_string(rc);
    return a;
  }
  rc = pam_authenticate(ph, PAM_SILENT);
  pam_end(ph, rc);
  a.raw = "pam rc=" + std::to_string(rc) + " log=" + g_lastlog.substr(0, 200);
  a.reason = ReasonOf(g_lastlog);
  if (rc == PAM_SUCCESS) a.verdict = Verdict::kAccept;
  else if (rc == PAM_AUTH_ERR) a.verdict = Verdict::kRefuse;
  else if (rc == PAM_AUTHINFO_UNAVAIL) a.verdict = Verdict::kUnavailable;
  // The module logs nothing but its one decision line; a password must never be in it.
  if (!g_lastlog.empty() && g_lastlog.find(password) != std::string::npos) {
    a.verdict = Verdict::kOther;
    a.raw += " (the password is in the log line)";
  }
  return a;
}

// --- SASL: the real libsasl2 server with only our plugin, PLAIN in one step.

std::string SaslApp = "stress";

int SaslGetPath(void*, const char** path) {
  *path = P.sasl_plugins.c_str();
  return SASL_OK;
}
int SaslGetConfPath(void*, char** path) {
  *path = P.sasl_conf.data();
  return SASL_OK;
}
int SaslLog(void*, int, const char* message) {
  if (message != nullptr && std::strstr(message, "apppass: ") != nullptr) g_lastlog = message;
  return SASL_OK;
}
template <typename F>
sasl_callback_t Callback(unsigned long id, F* f) {
  return sasl_callback_t{id, reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)(void)>(f)),
                         nullptr};
}

void SaslInit() {
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &SaslGetPath),
                                        Callback(SASL_CB_GETCONFPATH, &SaslGetConfPath),
                                        Callback(SASL_CB_LOG, &SaslLog),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  const int rc = sasl_server_init(cbs, SaslApp.c_str());
  if (rc != SASL_OK) {
    SharedError("sasl_server_init failed: " + std::to_string(rc));
    std::exit(3);
  }
}

Answer SaslVerify(const std::string& user, const std::string& password) {
  Answer a;
  g_lastlog.clear();
  sasl_conn_t* conn = nullptr;
  int rc = sasl_server_new("smtp", "test.example", nullptr, "127.0.0.1;25", "192.0.2.7;4321",
                           nullptr, 0, &conn);
  if (rc != SASL_OK) {
    a.raw = "sasl_server_new rc=" + std::to_string(rc);
    return a;
  }
  sasl_security_properties_t props{};
  props.security_flags = SASL_SEC_NOANONYMOUS;
  sasl_setprop(conn, SASL_SEC_PROPS, &props);
  std::string msg;
  msg.push_back('\0');
  msg += user;
  msg.push_back('\0');
  msg += password;
  const char* out = nullptr;
  unsigned outlen = 0;
  rc = sasl_server_start(conn, "PLAIN", msg.data(), static_cast<unsigned>(msg.size()), &out,
                         &outlen);
  sasl_dispose(&conn);
  a.raw = "sasl rc=" + std::to_string(rc) + " log=" + g_lastlog.substr(0, 200);
  a.reason = rc == SASL_OK ? "accepted" : ReasonOf(g_lastlog);
  if (rc == SASL_OK) a.verdict = Verdict::kAccept;
  else if (rc == SASL_BADAUTH) a.verdict = Verdict::kRefuse;
  else if (rc == SASL_UNAVAIL) a.verdict = Verdict::kUnavailable;
  if (!g_lastlog.empty() && g_lastlog.find(password) != std::string::npos) {
    a.verdict = Verdict::kOther;
    a.raw += " (the password is in the log line)";
  }
  return a;
}

// --- core: apppass::Verify, opening the store per verification (as the PAM module does)
// or once for the process's life (as the SASL plugin does).

Answer FromDecision(const apppass::Decision& d) {
  Answer a;
  a.reason = std::string(apppass::OutcomeName(d.outcome));
  a.raw = "outcome=" + a.reason + " " + d.detail;
  switch (d.outcome) {
    case apppass::Outcome::kAccepted: a.verdict = Verdict::kAccept; break;
    case apppass::Outcome::kUnavailable: a.verdict = Verdict::kUnavailable; break;
    case apppass::Outcome::kBadInput: a.verdict = Verdict::kOther; break;
    default: a.verdict = Verdict::kRefuse; break;
  }
  return a;
}

apppass::Store g_long_store;

Answer CoreVerify(const std::string& user, const std::string& password, bool long_lived) {
  apppass::Store fresh;
  apppass::Store* store = long_lived ? &g_long_store : &fresh;
  if (!store->is_open()) {
    const apppass::Status s = apppass::Store::Open(P.store, apppass::Store::Mode::kVerify, store);
    if (!s.ok()) {
      Answer a;
      a.verdict = Verdict::kUnavailable;
      a.raw = "open: " + s.message();
      return a;
    }
  }
  return FromDecision(apppass::Verify(*store, user, password, "imap", std::time(nullptr)));
}

Answer VerifyAs(int kind, const std::string& user, const std::string& password) {
  switch (kind) {
    case kPam: return PamVerify(user, password);
    case kSasl: return SaslVerify(user, password);
    case kCore: return CoreVerify(user, password, false);
    default: return CoreVerify(user, password, true);
  }
}

std::string RandomPassword(std::mt19937_64& rng) {
  std::string pw;
  const std::string_view alphabet = apppass::kPasswordAlphabet;
  for (int i = 0; i < 20; ++i) {
    if (i > 0 && i % 4 == 0) pw.push_back('-');
    pw.push_back(alphabet[rng() % alphabet.size()]);
  }
  return pw;
}

enum class Expect { kAccept, kRevoked, kForeign, kEither };

// Empty when `a` is a right answer to `e`, else why not.
std::string Judge(Expect e, const Answer& a) {
  // With allow_unavailable an unavailable store is a refusal (fail closed), counted.
  if (a.verdict == Verdict::kUnavailable) return C.allow_unavailable ? "" : "unavailable";
  if (a.verdict == Verdict::kOther) return "unexpected result";
  const bool refused = a.verdict == Verdict::kRefuse;
  const std::string& r = a.reason;
  switch (e) {
    case Expect::kAccept: return refused ? "refused an active password" : "";
    case Expect::kRevoked:
      if (!refused) return "accepted a revoked password";
      return r.empty() || r == "revoked" ? "" : "refused, but not as revoked";
    case Expect::kForeign:
      if (!refused) return "accepted a password that is not the user's";
      return r.empty() || r == "wrong-password" || r == "unknown-user"
                 ? ""
                 : "refused for the wrong reason";
    case Expect::kEither:
      if (!refused) return "";
      return r.empty() || r == "revoked" ? "" : "refused, but not as revoked";
  }
  return "?";
}

[[noreturn]] void WorkerMain(int idx) {
  // A verifier never outlives the driver, however the driver ends (Die, a CTest timeout).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != g_driver_pid) _exit(3);
  const int kind = shm->kinds[idx];
  WorkerStats& st = shm->stats[idx];
  // With kills, the tool's runs are what is counted: the writer (tool and driver) goes
  // first on a machine with fewer cores than verifiers, which still take all that is left.
  if (C.kill_pct > 0 && setpriority(PRIO_PROCESS, 0, 10) != 0) SharedError("setpriority failed");
  std::mt19937_64 rng(static_cast<std::uint64_t>(getpid()) * 7919u +
                      static_cast<std::uint64_t>(idx));
  if (kind == kSasl) SaslInit();
  const int nusers = shm->nusers;
  while (shm->stop.load() == 0) {
    const std::uint32_t n = shm->nslots.load();
    const unsigned pick = static_cast<unsigned>(rng() % 100);
    std::string user, password;
    Expect expect;
    std::uint64_t s1 = 0;
    const Slot* slot = nullptr;
    if (n == 0 || pick >= 85) {
      // A password never issued.
      user = shm->users[rng() % nusers];
      password = RandomPassword(rng);
      expect = Expect::kForeign;
    } else {
      // Half the time one of the newest credentials (those being revoked right now).
      const std::uint32_t i =
          rng() % 2 == 0
              ? n - 1 - static_cast<std::uint32_t>(rng() % std::min<std::uint32_t>(n, 32))
              : static_cast<std::uint32_t>(rng() % n);
      slot = &shm->slots[i];
      s1 = slot->state.load();
      password = slot->password;
      if (pick >= 70 && nusers > 1) {
        // Someone else's password.
        const std::uint32_t other =
            (slot->user + 1 + static_cast<std::uint32_t>(rng() % (nusers - 1))) % nusers;
        user = shm->users[other];
        expect = Expect::kForeign;
        slot = nullptr;
      } else {
        user = shm->users[slot->user];
        expect = (s1 & 3) == kRevoked ? Expect::kRevoked : Expect::kAccept;
      }
    }
    const Answer a = VerifyAs(kind, user, password);
    if (slot != nullptr && expect == Expect::kAccept) {
      const std::uint64_t s2 = slot->state.load();
      if ((s1 & 3) != kActive || s2 != s1) expect = Expect::kEither;
    }
    st.total++;
    switch (expect) {
      case Expect::kAccept: st.expect_accept++; break;
      case Expect::kRevoked: st.expect_revoked++; break;
      case Expect::kForeign: st.expect_foreign++; break;
      case Expect::kEither: st.overlapped++; break;
    }
    const std::string why = Judge(expect, a);
    if (a.verdict == Verdict::kAccept) st.accepted++;
    else if (a.verdict == Verdict::kRefuse) st.refused++;
    else if (a.verdict == Verdict::kUnavailable) {
      st.unavailable++;
      const int u = shm->nunavailable.fetch_add(1);
      if (u < 8)
        std::snprintf(shm->unavailable[u], sizeof shm->unavailable[u], "%s: %s", KindName(kind),
                      a.raw.c_str());
    }
    if (!why.empty()) {
      st.wrong++;
      SharedError(std::string(KindName(kind)) + " user=" + user + ": " + why + " (" + a.raw + ")");
    }
    shm->verifications++;
  }
  if (kind == kSasl) sasl_server_done();
  g_long_store = apppass::Store();
  std::fflush(nullptr);
  std::exit(0);
}

std::vector<pid_t> StartWorkers(int pam, int sasl, int core) {
  std::vector<pid_t> pids;
  int idx = 0;
  auto start = [&](int kind, int count) {
    for (int i = 0; i < count; ++i, ++idx) {
      if (idx >= kMaxWorkers) Die("too many verifier processes");
      // Core verifiers alternate between per-verification and long-lived stores.
      shm->kinds[idx] = kind == kCore && i % 2 == 1 ? kCoreLong : kind;
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) Die("fork failed");
      if (pid == 0) WorkerMain(idx);
      pids.push_back(pid);
    }
  };
  start(kPam, pam);
  start(kSasl, sasl);
  start(kCore, core);
  return pids;
}

void StopWorkers(const std::vector<pid_t>& pids) {
  shm->stop.store(1);
  int bad = 0;
  for (pid_t pid : pids) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++bad;
  }
  Report(bad == 0, "every verifier process ended cleanly",
         std::to_string(bad) + " exited with an error or a signal");
}

// ---------------------------------------------------------------------------------------
// The workload driver: the tool writes, verifiers read.

struct UserState {
  std::string name;
  enum Mfa { kNone, kPending, kConfirmed } mfa = kConfirmed;
  std::string secret;             // of a pending enrollment
  std::set<std::string> orphans;  // names of credentials whose create was killed after commit
  int active = 0;                 // known active + revoking slots
};

struct SlotInfo {
  int user;
  std::string id, name;
};

struct Driver {
  std::vector<UserState> users;
  std::vector<SlotInfo> slots;        // index = shm slot
  std::vector<std::uint32_t> active;  // shm slots that are active
  std::mt19937_64 rng{20261122};
  long name_counter = 0;
  double ewma_ms = 0;
  bool has_check = false;

  // Figures.
  std::map<std::string, long> attempted, acked, killed, kill_missed, killed_committed;
  long checks = 0, check_ms_total = 0;
  double tool_ms_total = 0;
  long tool_runs = 0;

  void SetState(std::uint32_t i, SlotKind k) {
    Slot& s = shm->slots[i];
    const std::uint64_t old = s.state.load();
    s.state.store((((old >> 2) + 1) << 2) | k);
  }
  SlotKind StateOf(std::uint32_t i) const {
    return static_cast<SlotKind>(shm->slots[i].state.load() & 3);
  }

  void RemoveActive(std::uint32_t i) {
    active.erase(std::remove(active.begin(), active.end(), i), active.end());
  }

  // Runs one operation, maybe killing it. Returns the result; updates the figures.
  ToolResult Op(const std::string& kind, const std::vector<std::string>& args) {
    long kill_after = -1;
    if (C.kill_pct > 0 && static_cast<int>(rng() % 100) < C.kill_pct) {
      // Anywhere from before the tool's main() to after its commit and output.
      const double span_us = std::max(2000.0, ewma_ms * 1000.0 * 1.3);
      kill_after = static_cast<long>(static_cast<double>(rng() % 1000000) / 1e6 * span_us);
    }
    attempted[kind]++;
    const ToolResult r = RunTool(args, kill_after);
    if (std::getenv("STRESS_TRACE") != nullptr)
      std::fprintf(stderr, "op %s -> status %d killed %d out %s\n", Join(args).c_str(), r.status,
                   r.killed ? 1 : 0, r.out.substr(0, 80).c_str());
    ++tool_runs;
    tool_ms_total += r.ms;
    if (r.killed) {
      killed[kind]++;
    } else {
      if (kill_after >= 0) kill_missed[kind]++;
      ewma_ms = ewma_ms == 0 ? r.ms : 0.9 * ewma_ms + 0.1 * r.ms;
      if (r.status == 0) acked[kind]++;
      else
        LoopFailure("every operation that was not killed succeeds (" + kind + ")",
                    Describe(args, r));
    }
    return r;
  }

  std::string NewName() { return "n" + std::to_string(++name_counter); }

  void Create(int u) {
    UserState& us = users[u];
    const std::string name = NewName();
    const std::vector<std::string> args = {"create", us.name,          "--name",
                                           name,     "--all-services", "--json"};
    const ToolResult r = Op("create", args);
    if (r.status != 0)
      return Resolve([&](const Listing& l) {
        auto it = l.by_name.find({us.name, name});
        if (it == l.by_name.end()) return;
        us.orphans.insert(name);  // committed, password never seen
        killed_committed["create"]++;
      });
    if (r.status != 0) return;
    std::string id, password;
    try {
      const nlohmann::json j = nlohmann::json::parse(r.out);
      id = j.at("id").get<std::string>();
      password = j.at("password").get<std::string>();
    } catch (const std::exception& e) {
      LoopFailure("an acknowledged create printed its password", e.what());
      return;
    }
    const std::uint32_t i = shm->nslots.load();
    if (i >= kMaxSlots) Die("out of credential slots");
    Slot& s = shm->slots[i];
    s.user = static_cast<std::uint32_t>(u);
    std::snprintf(s.password, sizeof s.password, "%s", password.c_str());
    slots.push_back({u, id, name});
    SetState(i, kActive);
    shm->nslots.store(i + 1);  // published: verifiers may pick it from now on
    active.push_back(i);
    us.active++;
  }

  void Revoke(std::uint32_t i) {
    SlotInfo& si = slots[i];
    UserState& us = users[si.user];
    SetState(i, kRevoking);  // before the tool starts: from here on either answer is fine
    std::vector<std::string> args = {"revoke", us.name};
    if (rng() % 2 == 0) {
      args.push_back(si.id);
    } else {
      args.push_back("--name");
      args.push_back(si.name);
    }
    const ToolResult r = Op("revoke", args);
    auto settle = [&](bool committed) {
      if (committed) {
        SetState(i, kRevoked);
        RemoveActive(i);
        us.active--;
      } else {
        SetState(i, kActive);
      }
    };
    if (r.status == 0) {
      if (r.out.find(si.id) == std::string::npos) LoopFailure("revoke names the revoked id", r.out);
      return settle(true);
    }
    Resolve([&](const Listing& l) {
      auto it = l.by_id.find(si.id);
      const bool committed = it != l.by_id.end() && it->second.revoked;
      if (committed) killed_committed["revoke"]++;
      settle(committed);
    });
  }

  void RevokeOrphan(int u) {
    UserState& us = users[u];
    const std::string name = *us.orphans.begin();
    const ToolResult r = Op("revoke-unacknowledged", {"revoke", us.name, "--name", name});
    if (r.status != 0)
      return Resolve([&](const Listing& l) {
        auto it = l.by_name.find({us.name, name});
        if (it == l.by_name.end() || it->second.revoked) {
          us.orphans.erase(name);
          killed_committed["revoke-unacknowledged"]++;
        }
      });
    if (r.status == 0) us.orphans.erase(name);
  }

  void Reset(int u) {
    UserState& us = users[u];
    std::vector<std::uint32_t> mine;
    for (std::uint32_t i : active)
      if (slots[i].user == u) mine.push_back(i);
    for (std::uint32_t i : mine) SetState(i, kRevoking);
    const ToolResult r = Op("mfa-reset", {"mfa", "reset", us.name});
    auto settle = [&](bool committed) {
      if (committed) {
        for (std::uint32_t i : mine) {
          SetState(i, kRevoked);
          RemoveActive(i);
        }
        us.active = 0;
        us.orphans.clear();
        us.mfa = UserState::kNone;
        us.secret.clear();
      } else {
        for (std::uint32_t i : mine) SetState(i, kActive);
      }
    };
    if (r.status == 0) return settle(true);
    Resolve([&](const Listing&) {
      const bool committed = MfaStateNow(u) == UserState::kNone;
      if (committed) killed_committed["mfa-reset"]++;
      settle(committed);
    });
  }

  void EnrollOp(int u) {
    UserState& us = users[u];
    const ToolResult r = Op("mfa-enroll", {"mfa", "enroll", us.name, "--json"});
    if (r.status != 0)
      return Resolve([&](const Listing&) {
        // Committed or not, the secret was never seen: enroll again (allowed while pending).
        us.mfa = MfaStateNow(u);
        us.secret.clear();
        if (us.mfa == UserState::kPending) killed_committed["mfa-enroll"]++;
        if (us.mfa == UserState::kConfirmed) LoopFailure("a killed enroll never confirms", us.name);
      });
    try {
      us.secret = nlohmann::json::parse(r.out).at("secret").get<std::string>();
      us.mfa = UserState::kPending;
    } catch (const std::exception& e) {
      LoopFailure("an acknowledged enroll printed its secret", e.what());
    }
  }

  void ConfirmOp(int u) {
    UserState& us = users[u];
    const ToolResult r = Op("mfa-confirm", {"mfa", "confirm", us.name, TotpNow(us.secret)});
    if (r.status != 0)
      return Resolve([&](const Listing&) {
        us.mfa = MfaStateNow(u);
        if (us.mfa == UserState::kConfirmed) killed_committed["mfa-confirm"]++;
      });
    if (r.status == 0) us.mfa = UserState::kConfirmed;
  }

  // --- Reading the store back.

  struct Listed {
    std::string user, name;
    bool revoked = false;
  };
  struct Listing {
    std::map<std::string, Listed> by_id;
    std::map<std::pair<std::string, std::string>, Listed> by_name;  // active ones only
  };

  UserState::Mfa MfaStateNow(int u) {
    apppass::Store store;
    apppass::Status s = apppass::Store::Open(P.store, apppass::Store::Mode::kVerify, &store);
    if (!s.ok()) {
      LoopFailure("the store opens after a kill", s.message());
      return users[u].mfa;
    }
    apppass::UserRecord rec;
    s = apppass::MfaGet(store, users[u].name, &rec);
    if (s.IsNotFound()) return UserState::kNone;
    if (!s.ok()) {
      LoopFailure("MFA records read back", s.message());
      return users[u].mfa;
    }
    return rec.mfa == apppass::MfaState::kConfirmed ? UserState::kConfirmed
           : rec.mfa == apppass::MfaState::kPending ? UserState::kPending
                                                    : UserState::kNone;
  }

  // After a kill: runs the checks, then lets `resolve` settle the killed operation from
  // what the store holds, then checks every acknowledged operation is there.
  template <typename F>
  void Resolve(F resolve) {
    const auto t0 = Clock::now();
    ++checks;
    if (has_check) {
      const ToolResult r = RunTool({"check"});
      if (r.status != 0)
        LoopFailure("apppass check is clean after every kill",
                    Describe({"check"}, r) + r.out.substr(0, 300));
    }
    const std::vector<std::string> args = {"list", "--revoked", "--json"};
    const ToolResult r = RunTool(args);
    if (r.status != 0) {
      LoopFailure("the store opens after every kill (apppass list)", Describe(args, r));
      return;
    }
    Listing l;
    try {
      for (const auto& item : nlohmann::json::parse(r.out)) {
        Listed x{item.at("user").get<std::string>(), item.at("name").get<std::string>(),
                 !item.at("revoked").is_null()};
        const std::string id = item.at("id").get<std::string>();
        l.by_id[id] = x;
        if (!x.revoked) l.by_name[{x.user, x.name}] = x;
      }
    } catch (const std::exception& e) {
      LoopFailure("apppass list --json parses after every kill", e.what());
      return;
    }
    resolve(l);
    CheckAcknowledged(l);
    check_ms_total +=
        static_cast<long>(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }

  void CheckAcknowledged(const Listing& l) {
    // Every acknowledged create is listed, as its user and name; active unless revoked.
    std::set<std::string> known;
    for (std::uint32_t i = 0; i < slots.size(); ++i) {
      const SlotInfo& si = slots[i];
      known.insert(si.id);
      auto it = l.by_id.find(si.id);
      if (it == l.by_id.end()) {
        LoopFailure("every acknowledged create is in the store", "id " + si.id + " is missing");
        continue;
      }
      const bool want_revoked = StateOf(i) == kRevoked;
      if (it->second.revoked != want_revoked || it->second.user != users[si.user].name ||
          it->second.name != si.name)
        LoopFailure("every acknowledged operation is in the store",
                    "id " + si.id + (want_revoked ? " should be revoked" : " should be active"));
    }
    // Nothing else, except the creates that were killed after they committed.
    for (const auto& [id, x] : l.by_id) {
      if (known.count(id) != 0) continue;
      bool orphan = false;
      for (const auto& us : users)
        if (us.name == x.user && us.orphans.count(x.name) != 0) orphan = true;
      if (!orphan && !x.revoked)
        LoopFailure("the store holds no active credential nobody created",
                    "id " + id + " user " + x.user + " name " + x.name);
    }
    // The store opens for verifying; MFA states are as acknowledged; every active
    // password verifies and the newest revoked ones are refused as revoked.
    apppass::Store store;
    const apppass::Status s = apppass::Store::Open(P.store, apppass::Store::Mode::kVerify, &store);
    if (!s.ok()) {
      LoopFailure("the store opens after every kill", s.message());
      return;
    }
    for (std::size_t u = 0; u < users.size(); ++u) {
      apppass::UserRecord rec;
      const apppass::Status m = apppass::MfaGet(store, users[u].name, &rec);
      const UserState::Mfa now = m.IsNotFound()                             ? UserState::kNone
                                 : rec.mfa == apppass::MfaState::kConfirmed ? UserState::kConfirmed
                                 : rec.mfa == apppass::MfaState::kPending   ? UserState::kPending
                                                                            : UserState::kNone;
      if ((!m.ok() && !m.IsNotFound()) || now != users[u].mfa)
        LoopFailure("every acknowledged MFA operation is in the store", users[u].name);
    }
    const auto now = std::time(nullptr);
    for (std::uint32_t i : active) {
      const auto d =
          apppass::Verify(store, users[slots[i].user].name, shm->slots[i].password, "imap", now);
      if (d.outcome != apppass::Outcome::kAccepted)
        LoopFailure("every acknowledged active password verifies after a kill",
                    slots[i].id + ": " + std::string(apppass::OutcomeName(d.outcome)));
    }
    int n = 0;
    for (std::uint32_t i = static_cast<std::uint32_t>(slots.size()); i-- > 0 && n < 100;) {
      if (StateOf(i) != kRevoked) continue;
      ++n;
      const auto d =
          apppass::Verify(store, users[slots[i].user].name, shm->slots[i].password, "imap", now);
      if (d.outcome != apppass::Outcome::kRevoked)
        LoopFailure("every acknowledged revoke refuses its password after a kill",
                    slots[i].id + ": " + std::string(apppass::OutcomeName(d.outcome)));
    }
  }

  // One operation chosen at random among those possible now.
  void Step() {
    std::vector<int> need_enroll, need_confirm, can_create, can_reset, with_orphans;
    int confirmed = 0;
    for (int u = 0; u < static_cast<int>(users.size()); ++u) {
      const UserState& us = users[u];
      if (us.mfa == UserState::kNone || (us.mfa == UserState::kPending && us.secret.empty()))
        need_enroll.push_back(u);
      else if (us.mfa == UserState::kPending) need_confirm.push_back(u);
      if (!us.orphans.empty()) with_orphans.push_back(u);
      if (us.mfa == UserState::kConfirmed) {
        ++confirmed;
        if (us.active + static_cast<int>(us.orphans.size()) < 20) can_create.push_back(u);
      }
    }
    for (int u = 0; u < static_cast<int>(users.size()); ++u)
      if (users[u].mfa == UserState::kConfirmed && confirmed > 2) can_reset.push_back(u);
    auto any = [&](const std::vector<int>& v) { return v[rng() % v.size()]; };
    const unsigned r = static_cast<unsigned>(rng() % 100);
    if (!with_orphans.empty() && r < 30) return RevokeOrphan(any(with_orphans));
    if (!need_confirm.empty() && r < 50) return ConfirmOp(any(need_confirm));
    if (!need_enroll.empty() && r < 50) return EnrollOp(any(need_enroll));
    if (r < 5 && !can_reset.empty()) return Reset(any(can_reset));
    // Keep a few dozen active passwords for the verifiers to accept.
    const unsigned create_pct = active.size() < 40 ? 70 : 45;
    if ((r < create_pct || active.empty()) && !can_create.empty()) return Create(any(can_create));
    if (!active.empty()) return Revoke(active[rng() % active.size()]);
    if (!need_enroll.empty()) return EnrollOp(any(need_enroll));
    if (!need_confirm.empty()) return ConfirmOp(any(need_confirm));
  }
};

void PrintWorkerFigures(const std::vector<pid_t>& pids, double secs) {
  std::uint64_t by_kind[kNumKinds] = {}, total = 0, wrong = 0, unavailable = 0, exp_acc = 0,
                exp_rev = 0, exp_for = 0, overl = 0, acc = 0, ref = 0;
  int procs[kNumKinds] = {};
  for (std::size_t i = 0; i < pids.size(); ++i) {
    const WorkerStats& s = shm->stats[i];
    by_kind[shm->kinds[i]] += s.total;
    procs[shm->kinds[i]]++;
    total += s.total;
    wrong += s.wrong;
    unavailable += s.unavailable;
    exp_acc += s.expect_accept;
    exp_rev += s.expect_revoked;
    exp_for += s.expect_foreign;
    overl += s.overlapped;
    acc += s.accepted;
    ref += s.refused;
  }
  std::printf("# verifier processes:");
  for (int k = 0; k < kNumKinds; ++k)
    if (procs[k] > 0) std::printf(" %s=%d", KindName(k), procs[k]);
  std::printf("\n# verifications: %llu in %.1f s (%.0f/s);", static_cast<unsigned long long>(total),
              secs, static_cast<double>(total) / secs);
  for (int k = 0; k < kNumKinds; ++k)
    if (procs[k] > 0)
      std::printf(" %s=%llu", KindName(k), static_cast<unsigned long long>(by_kind[k]));
  std::printf(
      "\n# judged: must-accept=%llu must-refuse-revoked=%llu must-refuse-foreign=%llu "
      "overlapping-a-revoke=%llu\n",
      static_cast<unsigned long long>(exp_acc), static_cast<unsigned long long>(exp_rev),
      static_cast<unsigned long long>(exp_for), static_cast<unsigned long long>(overl));
  std::printf("# answers: accepted=%llu refused=%llu unavailable=%llu wrong=%llu\n",
              static_cast<unsigned long long>(acc), static_cast<unsigned long long>(ref),
              static_cast<unsigned long long>(unavailable), static_cast<unsigned long long>(wrong));
  const int nerr = std::min(shm->nerrors.load(), 32);
  for (int i = 0; i < nerr; ++i) std::printf("#   wrong: %s\n", shm->errors[i]);
  const int nun = std::min(shm->nunavailable.load(), 8);
  for (int i = 0; i < nun; ++i) std::printf("#   unavailable: %s\n", shm->unavailable[i]);
  Report(wrong == 0, "zero wrong answers over " + std::to_string(total) + " verifications",
         std::to_string(wrong) + " wrong");
  if (C.verifications > 0)
    Report(total >= static_cast<std::uint64_t>(C.verifications),
           "at least " + std::to_string(C.verifications) + " verifications",
           std::to_string(total) + " in " + std::to_string(static_cast<int>(secs)) + " s");
  for (int k = 0; k < kNumKinds; ++k) {
    if (procs[k] == 0) continue;
    Report(by_kind[k] > 0, std::string("the ") + KindName(k) + " verifiers verified");
  }
  Report(exp_acc > 0 && exp_rev > 0 && exp_for > 0,
         "the judged verifications cover must-accept, must-refuse-revoked and foreign passwords");
}

int RunWorkload() {
  Driver d;
  shm->nusers = C.users;
  for (int u = 0; u < C.users; ++u) {
    UserState us;
    us.name = "user" + std::to_string(u);
    std::snprintf(shm->users[u], sizeof shm->users[u], "%s", us.name.c_str());
    Enroll(us.name);
    d.users.push_back(us);
  }
  const ToolResult help = RunTool({"check", "--help"});
  d.has_check = help.status == 0;
  Report(
      true,
      std::string("apppass check is ") +
          (d.has_check ? "used after every kill"
                       : "not in this tool yet: apppass list and the core check after every kill"));

  const auto start = Clock::now();
  const std::uintmax_t size0 = DataSize();
  const std::vector<pid_t> pids = StartWorkers(C.pam, C.sasl, C.core);
  long ops = 0;
  bool timed_out = false;
  while (ops < C.ops || shm->verifications.load() < static_cast<std::uint64_t>(C.verifications)) {
    if (Seconds(start) > C.seconds) {
      timed_out = true;
      break;
    }
    d.Step();
    if (++ops % 1000 == 0)
      std::printf(
          "# progress: %ld operations, %ld checks after kills, %llu verifications, %.0f s\n", ops,
          d.checks, static_cast<unsigned long long>(shm->verifications.load()), Seconds(start));
    std::fflush(stdout);
  }
  // A last full check, as after a kill.
  d.Resolve([](const Driver::Listing&) {});
  const double secs = Seconds(start);
  StopWorkers(pids);
  Report(!timed_out, "the workload finished within " + std::to_string(C.seconds) + " s",
         std::to_string(ops) + " operations, " + std::to_string(shm->verifications.load()) +
             " verifications when time ran out");

  long att = 0, ack = 0, kil = 0, missed = 0;
  std::printf("# operations: %ld in %.1f s; tool runs %ld, mean %.1f ms\n", ops, secs, d.tool_runs,
              d.tool_ms_total / static_cast<double>(std::max(1L, d.tool_runs)));
  for (const auto& [k, n] : d.attempted) {
    std::printf(
        "#   %-22s attempted=%ld acknowledged=%ld killed=%ld (of which had committed: %ld) "
        "kill-landed-after-exit=%ld\n",
        k.c_str(), n, d.acked[k], d.killed[k], d.killed_committed[k], d.kill_missed[k]);
    att += n;
    ack += d.acked[k];
    kil += d.killed[k];
    missed += d.kill_missed[k];
  }
  std::printf(
      "# totals: operations=%ld acknowledged=%ld kills=%ld checks-after-kill=%ld (mean %.1f ms)\n",
      att, ack, kil, d.checks,
      static_cast<double>(d.check_ms_total) / static_cast<double>(std::max(1L, d.checks)));
  std::printf("# credentials: acknowledged creates=%zu active=%zu data.mdb %ju -> %ju bytes\n",
              d.slots.size(), d.active.size(), size0, DataSize());
  PrintWorkerFigures(pids, secs);
  Report(att >= C.ops, "at least " + std::to_string(C.ops) + " tool operations",
         std::to_string(att));
  if (C.kill_pct > 0)
    Report(kil > 0 && d.checks >= kil, "every kill was followed by the checks",
           std::to_string(kil) + " kills, " + std::to_string(d.checks) + " checks");
  for (const auto& [name, n] : g_loop_failures)
    std::printf("# failure counted %ld times: %s\n", n, name.c_str());
  if (g_loop_failures.empty())
    Report(true,
           "after every kill: the store opened, every acknowledged operation was there, "
           "the next writer proceeded");
  return 0;
}

// ---------------------------------------------------------------------------------------
// Stale reader slots.

struct ReaderCount {
  int live = 0, dead = 0;
};

int CountReader(const char* msg, void* ctx) {
  auto* c = static_cast<ReaderCount*>(ctx);
  long pid = 0;
  if (std::sscanf(msg, "%ld", &pid) != 1 || pid <= 0) return 0;  // the header line
  if (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) ++c->live;
  else ++c->dead;
  return 0;
}

ReaderCount Readers(const apppass::Store& holder) {
  ReaderCount c;
  mdb_reader_list(apppass::internal::StoreAccess::env(holder).get(), CountReader, &c);
  return c;
}

// A child that opens the store, begins a read transaction, reads, says 'k' (or 'E') on
// `fd` and waits to be killed.
pid_t ForkReaderInTxn(int fd) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  apppass::Store store;
  char c = 'E';
  apppass::LmdbTxn txn;
  std::string_view v;
  if (apppass::Store::Open(P.store, apppass::Store::Mode::kVerify, &store).ok() &&
      apppass::LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), false, &txn).ok() &&
      txn.Get(apppass::internal::StoreAccess::dbs(store).meta, "schema", &v).ok())
    c = 'k';
  if (write(fd, &c, 1) != 1) _exit(3);
  for (;;) pause();
}

// 'k' from a reader child within 20 s, else failure.
bool AwaitReader(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c = 0;
  if (poll(&p, 1, 20000) != 1 || read(fd, &c, 1) != 1) return false;
  return c == 'k';
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

// One verification of `password` by a fresh process of `kind`; its verdict.
Answer VerifyInChild(int kind, const std::string& user, const std::string& password) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (kind == kSasl) SaslInit();
    const Answer a = VerifyAs(kind, user, password);
    const std::string msg = std::to_string(static_cast<int>(a.verdict)) + " " + a.raw;
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    if (kind == kSasl) sasl_server_done();
    std::exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  Answer a;
  if (!msg.empty()) {
    a.verdict = static_cast<Verdict>(msg[0] - '0');
    a.raw = msg.substr(2);
  } else {
    a.raw = "the verifier process died";
  }
  return a;
}

struct Cred {
  std::string id, password;
};
Cred CreateCred(const std::string& user, const std::string& name) {
  const nlohmann::json j = ToolJson({"create", user, "--name", name, "--all-services", "--json"});
  return {j.at("id").get<std::string>(), j.at("password").get<std::string>()};
}

// One write cycle: create an app password and revoke it (two commits by the real tool).
void WriteCycle(const std::string& user, long n) {
  const Cred c = CreateCred(user, "w" + std::to_string(n));
  const ToolResult r = RunTool({"revoke", user, c.id});
  if (r.status != 0) Die(Describe({"revoke", user, c.id}, r));
}

int RunReaders() {
  const std::string user = "alice";
  Enroll(user);
  const Cred good = CreateCred(user, "good");
  const auto start = Clock::now();

  // The long-lived reader: an environment that stays open (the SASL plugin in smtpd, a
  // busy Dovecot). Without it LMDB resets the reader table whenever the last process
  // closes the environment, and dead readers would not accumulate.
  apppass::Store holder;
  {
    const apppass::Status s = apppass::Store::Open(P.store, apppass::Store::Mode::kVerify, &holder);
    if (!s.ok()) Die("cannot open the store: " + s.message());
    apppass::LmdbTxn t;
    if (!apppass::LmdbTxn::Begin(apppass::internal::StoreAccess::env(holder), false, &t).ok())
      Die("cannot read the store");
  }
  MDB_envinfo info{};
  mdb_env_info(apppass::internal::StoreAccess::env(holder).get(), &info);
  const unsigned maxreaders = info.me_maxreaders;
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");

  // (1) More readers killed inside a read transaction than the table has slots, with no
  // writer in between: every new reader must still get a slot.
  int got_slot = 0, max_dead = 0;
  for (int i = 0; i < C.reader_kills; ++i) {
    const pid_t pid = ForkReaderInTxn(fds[1]);
    if (AwaitReader(fds[0])) ++got_slot;
    KillAndReap(pid);
    max_dead = std::max(max_dead, Readers(holder).dead);
  }
  const ReaderCount after_kills = Readers(holder);
  std::printf(
      "# reader table: %u slots; %d readers killed inside a read transaction; "
      "%d got a slot; most dead slots seen at once: %d; dead slots now: %d\n",
      maxreaders, C.reader_kills, got_slot, max_dead, after_kills.dead);
  Report(C.reader_kills > static_cast<int>(maxreaders),
         "more readers killed than the reader table has slots",
         std::to_string(C.reader_kills) + " <= " + std::to_string(maxreaders));
  Report(got_slot == C.reader_kills,
         "every new reader got a slot after dead readers filled the table",
         std::to_string(C.reader_kills - got_slot) + " of " + std::to_string(C.reader_kills) +
             " did not");
  for (int kind : {kPam, kSasl, kCore}) {
    const Answer a = VerifyInChild(kind, user, good.password);
    Report(a.verdict == Verdict::kAccept,
           std::string("after the kills, a new ") + KindName(kind) +
               " verifier accepts a valid password",
           a.raw);
  }

  // (2) Bloat. Each cycle: a reader begins a transaction (pinning the current snapshot),
  // the tool commits a create and a revoke, the reader is killed. Dead readers must not
  // go on pinning: data.mdb stays about the same size.
  for (long n = 0; n < 20; ++n) WriteCycle(user, n);  // warm-up: the free list fills
  const std::uintmax_t size0 = DataSize();
  long cycle = 100;
  for (int i = 0; i < C.write_cycles; ++i) {
    const pid_t pid = ForkReaderInTxn(fds[1]);
    if (!AwaitReader(fds[0]))
      LoopFailure("readers get a slot during the write cycles", "cycle " + std::to_string(i));
    WriteCycle(user, ++cycle);
    KillAndReap(pid);
  }
  WriteCycle(user, ++cycle);  // one more writer after the last kill
  const std::uintmax_t size_killed = DataSize();
  const ReaderCount after_cycles = Readers(holder);
  // The same with one reader that stays alive (a stuck, live reader does pin pages):
  // what growth looks like when pages are pinned, so the first figure can be judged.
  const pid_t pinned = ForkReaderInTxn(fds[1]);
  if (!AwaitReader(fds[0])) Report(false, "the pinning reader got a slot");
  for (int i = 0; i < C.write_cycles; ++i) WriteCycle(user, ++cycle);
  const std::uintmax_t size_pinned = DataSize();
  KillAndReap(pinned);
  const std::uintmax_t grow_killed = size_killed - size0, grow_pinned = size_pinned - size_killed;
  std::printf(
      "# data.mdb over %d create+revoke cycles: %ju -> %ju bytes (+%ju) with a reader "
      "killed in each cycle; +%ju more with one live reader pinning a snapshot; dead "
      "slots after the cycles: %d\n",
      C.write_cycles, size0, size_killed, grow_killed, grow_pinned, after_cycles.dead);
  Report(grow_pinned > 0,
         "a live reader pinning a snapshot makes data.mdb grow (the measure works)");
  Report(grow_killed * 4 < grow_pinned,
         "killed readers do not pin pages: data.mdb grows less than a quarter of the pinned growth",
         "+" + std::to_string(grow_killed) + " vs +" + std::to_string(grow_pinned));
  Report(after_cycles.dead <= 1, "the writer cleared the dead readers' slots",
         std::to_string(after_cycles.dead) + " dead slots left");

  // (3) Real verifier processes (PAM and SASL, recording last use on every acceptance)
  // killed at random points of their loops: inside read transactions, inside last-use
  // write transactions, anywhere. New verifiers must not block, and last use still works.
  PamService = "imap-usage";
  SaslApp = "stress-usage";
  std::mt19937_64 rng(4711);
  shm->nusers = 1;
  std::snprintf(shm->users[0], sizeof shm->users[0], "%s", user.c_str());
  Slot& s = shm->slots[0];
  s.user = 0;
  std::snprintf(s.password, sizeof s.password, "%s", good.password.c_str());
  s.state.store(kActive);
  shm->nslots.store(1);
  int killed = 0;
  for (int i = 0; i < C.verifier_kills; ++i) {
    shm->stop.store(0);
    const int kind = i % 2 == 0 ? kPam : kSasl;
    shm->kinds[0] = kind;
    const std::uint64_t before = shm->stats[0].total.load();
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) WorkerMain(0);
    // Once it is in its loop (one verification done, so past its start-up), at a random
    // point of the next few verifications.
    const auto t0 = Clock::now();
    while (shm->stats[0].total.load() == before && Seconds(t0) < 20) {
      struct timespec ts {
        0, 200000
      };
      nanosleep(&ts, nullptr);
    }
    struct timespec ts {
      0, static_cast<long>(rng() % 3000000)
    };
    nanosleep(&ts, nullptr);
    KillAndReap(pid);
    ++killed;
  }
  const ReaderCount after_verifiers = Readers(holder);
  for (int kind : {kPam, kSasl}) {
    const Answer a = VerifyInChild(kind, user, good.password);
    Report(a.verdict == Verdict::kAccept,
           std::string("after ") + std::to_string(killed) + " killed verifiers, a new " +
               KindName(kind) + " verifier accepts a valid password (and records last use)",
           a.raw);
  }
  const nlohmann::json list = ToolJson({"list", user, "--json"});
  bool used = false;
  for (const auto& item : list)
    if (item.at("id") == good.id) used = item.at("last_service").is_string();
  Report(used, "last use was recorded despite writers killed inside their transactions",
         list.dump());
  const WorkerStats& st = shm->stats[0];
  std::printf(
      "# %d PAM/SASL verifiers killed at random (0-3 ms after a verification), %llu "
      "verifications between them, %llu wrong; dead slots in the main table now: %d\n",
      killed, static_cast<unsigned long long>(st.total.load()),
      static_cast<unsigned long long>(st.wrong.load()), after_verifiers.dead);
  Report(st.wrong.load() == 0, "the killed verifiers gave no wrong answer before they died");
  const int nerr = std::min(shm->nerrors.load(), 32);
  for (int i = 0; i < nerr; ++i) std::printf("#   wrong: %s\n", shm->errors[i]);
  std::printf("# readers test took %.1f s\n", Seconds(start));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

bool ParseArg(const std::string& a) {
  const auto eq = a.find('=');
  if (eq == std::string::npos) return false;
  const std::string k = a.substr(0, eq);
  const long v = std::strtol(a.c_str() + eq + 1, nullptr, 10);
  const int iv = static_cast<int>(v);
  if (k == "users") C.users = std::clamp(iv, 2, kMaxUsers);
  else if (k == "ops") C.ops = v;
  else if (k == "kill_pct") C.kill_pct = iv;
  else if (k == "pam") C.pam = iv;
  else if (k == "sasl") C.sasl = iv;
  else if (k == "core") C.core = iv;
  else if (k == "verifications") C.verifications = v;
  else if (k == "seconds") C.seconds = iv;
  else if (k == "allow_unavailable") C.allow_unavailable = v != 0;
  else if (k == "reader_kills") C.reader_kills = iv;
  else if (k == "write_cycles") C.write_cycles = iv;
  else if (k == "verifier_kills") C.verifier_kills = iv;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s workload|readers MODULE PLUGIN TOOL [key=value...]\n", argv[0]);
    return 2;
  }
  C.mode = argv[1];
  C.module = argv[2];
  C.plugin = argv[3];
  C.tool = argv[4];
  for (int i = 5; i < argc; ++i)
    if (!ParseArg(argv[i])) Die(std::string("bad argument ") + argv[i]);
  for (const std::string* p : {&C.module, &C.plugin, &C.tool})
    if (!p->starts_with("/") || access(p->c_str(), R_OK) != 0)
      Die("not an absolute, readable path: " + *p);
  if (C.mode != "workload" && C.mode != "readers") Die("unknown mode " + C.mode);
  if (C.pam + C.sasl + C.core > kMaxWorkers) Die("too many verifier processes");
  g_driver_pid = getpid();
  if (oath_init() != OATH_OK) Die("oath_init failed");
  MapShared();
  Setup();
  const auto start = Clock::now();
  std::printf("# mode=%s users=%d ops=%ld kill_pct=%d pam=%d sasl=%d core=%d verifications=%ld\n",
              C.mode.c_str(), C.users, C.ops, C.kill_pct, C.pam, C.sasl, C.core, C.verifications);
  try {
    if (C.mode == "workload") RunWorkload();
    else RunReaders();
  } catch (const std::exception& e) {
    Report(false, "no exception", e.what());
  }
  std::printf("# duration: %.1f s\n", Seconds(start));
  std::error_code ec;
  fs::remove_all(P.dir, ec);
  oath_done();
  std::printf("1..%d\n%d of %d checks failed\n", g_checks, g_failures, g_checks);
  return g_failures == 0 ? 0 : 1;
}
