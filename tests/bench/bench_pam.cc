// bench_pam: whole PAM transactions (pam_start, pam_authenticate, pam_acct_mgmt after a
// success, pam_end) in one long-lived process, the way Dovecot's auth worker runs them,
// through the real libpam under pam_wrapper. The `pam` part of tests/bench/run-benchmarks
// (tests/bench/bench_pam.sh makes the pam_unix user and calls this).
//
// Stacks, interleaved in a shuffled order every round so that a noisy machine hits them
// alike: pam_permit (what a PAM transaction itself costs); pam_apppass with a right app
// password (accepted) and a wrong one (refused), from this build and, with
// --nofloor-module, from a build with APPPASS_VERIFY_FLOOR_US=0; pam_unix with a real user
// whose password is a yescrypt hash in /etc/shadow (--unix-user, password in
// --unix-password-file); pam_bench_argon2.so (--argon2-module): crypto_pwhash_str_verify
// at libsodium's INTERACTIVE limits, what one record costs when app passwords are hashed
// like user passwords. The slow stacks (pam_unix, argon2) run in fewer rounds, spread over
// the run. The store: a throwaway one with --users users (one app password each).
//
// Prints and writes (--out FILE, JSON of the bench contract, docs/PLAN: "part": "pam") the
// median and 99th percentile wall time and the mean CPU time (getrusage RUSAGE_THREAD) per
// transaction, and the ratios. Asserts only that every answer is right (exit 1 otherwise),
// never a time.
//
// Usage: bench_pam --out FILE --module PAM_APPPASS [--nofloor-module PATH]
//          [--argon2-module PATH] [--unix-user NAME --unix-password-file FILE]
//          [--quick] [--rounds N] [--slow-rounds N] [--users N]
//        bench_pam --out FILE [--quick] --stores DIR   (as run-benchmarks calls a part's
//          program: runs tests/bench/bench_pam.sh instead, part_script.h)
// Root only (the module opens a root-only store; pam_unix reads /etc/shadow): 77 otherwise.
// pam_wrapper reads its service files when the process starts, so the program writes them
// and the store, then runs itself again under pam_wrapper (like tests/process).
#include <fcntl.h>
#include <liboath/oath.h>
#include <lmdb.h>
#include <security/pam_appl.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../lib/pam_conv.h"
#include "../lib/pam_rerun.h"
#include "admin.h"
#include "part_script.h"
#include "store_internal.h"

using namespace apppass;

namespace {

namespace fs = std::filesystem;
constexpr const char* kStepEnv = "APPPASS_BENCH_PAM_DIR";
constexpr const char* kWrong = "abcd-efgh-jkmn-pqrs-tuvw";
constexpr const char* kArgonPassword = "correct horse battery staple";
constexpr const char* kSecurity = "/usr/lib/x86_64-linux-gnu/security/";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "bench_pam: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  std::string out, module, nofloor, argon2, unix_user, unix_password_file;
  bool quick = false;
  int rounds = 0, slow_rounds = 0, users = 1000;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail("missing value after " + a);
      return argv[++i];
    };
    if (a == "--out") o.out = value();
    else if (a == "--module") o.module = value();
    else if (a == "--nofloor-module") o.nofloor = value();
    else if (a == "--argon2-module") o.argon2 = value();
    else if (a == "--unix-user") o.unix_user = value();
    else if (a == "--unix-password-file") o.unix_password_file = value();
    else if (a == "--quick") o.quick = true;
    else if (a == "--rounds") o.rounds = std::atoi(value().c_str());
    else if (a == "--slow-rounds") o.slow_rounds = std::atoi(value().c_str());
    else if (a == "--users") o.users = std::atoi(value().c_str());
    else Fail("unknown argument " + a);
  }
  if (o.rounds <= 0) o.rounds = o.quick ? 50 : 2000;
  if (o.slow_rounds <= 0) o.slow_rounds = o.quick ? 8 : 200;
  o.slow_rounds = std::min(o.slow_rounds, o.rounds);
  if (o.users <= 0) o.users = 1000;
  if (o.out.empty() || o.module.empty()) Fail("--out and --module are required");
  for (const std::string* p : {&o.module, &o.nofloor, &o.argon2})
    if (!p->empty() && (!p->starts_with("/") || access(p->c_str(), R_OK) != 0))
      Fail("not an absolute, readable path: " + *p);
  if (o.unix_user.empty() != o.unix_password_file.empty())
    Fail("--unix-user and --unix-password-file go together");
  return o;
}

std::string CurrentCode(const EnrollResult& e, std::int64_t now) {
  char* raw = nullptr;
  size_t len = 0;
  const std::string b32(e.base32.view());
  if (oath_base32_decode(b32.data(), b32.size(), &raw, &len) != OATH_OK) Fail("base32");
  char otp[7] = {};
  oath_totp_generate(raw, len, now, 30, 0, 6, otp);
  std::free(raw);
  return otp;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) Fail("cannot write " + path);
}

// Step 1: the store (users and app passwords through the real admin API, written to
// DIR/passwords, 0600), the Argon2id hash and the service files.
void Prepare(const Options& o, const std::string& dir) {
  const std::string store = dir + "/store";
  Status s = Store::Init(store);
  if (!s.ok()) Fail("init: " + s.message());
  std::string lines;
  {
    Store admin;
    if (!(s = Store::Open(store, Store::Mode::kAdmin, &admin)).ok()) Fail("open: " + s.message());
    MDB_env* env = apppass::internal::StoreAccess::env(admin).get();
    mdb_env_set_flags(env, MDB_NOSYNC, 1);  // building only; synced below
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (int u = 0; u < o.users; ++u) {
      const std::string user = "user" + std::to_string(u);
      EnrollResult e;
      if (!(s = MfaEnroll(admin, user, "bench", now, &e)).ok()) Fail("enroll: " + s.message());
      if (!(s = MfaConfirm(admin, user, CurrentCode(e, now), now)).ok())
        Fail("confirm: " + s.message());
      Created c;
      if (!(s = CreatePassword(admin, {.user = user, .name = "phone", .scopes = {"imap"}}, now, &c))
               .ok())
        Fail("create: " + s.message());
      lines += user + "\t" + std::string(c.password.view()) + "\n";
    }
    mdb_env_sync(env, 1);
  }
  const int fd = ::open((dir + "/passwords").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write(fd, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size()))
    Fail("cannot write the passwords file");
  close(fd);

  if (!o.argon2.empty()) {
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, kArgonPassword, std::strlen(kArgonPassword),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
      Fail("crypto_pwhash_str failed (out of memory?)");
    WriteFile(dir + "/argon2.hash", std::string(hash) + "\n");
  }

  const std::string services = dir + "/services";
  fs::create_directory(services);
  auto service = [&](const std::string& name, const std::string& auth, const std::string& acct) {
    WriteFile(services + "/" + name, "auth required " + auth + "\naccount required " + acct + "\n");
  };
  WriteFile(services + "/other", "");
  const std::string permit = std::string(kSecurity) + "pam_permit.so";
  service("bench-permit", permit, permit);
  const std::string args = " db=" + store + " scope=imap";
  service("bench-apppass", o.module + args, o.module + args);
  if (!o.nofloor.empty()) service("bench-apppass-nofloor", o.nofloor + args, o.nofloor + args);
  if (!o.unix_user.empty()) {
    const std::string unix_mod = std::string(kSecurity) + "pam_unix.so";
    service("bench-unix", unix_mod + " nodelay", unix_mod);
  }
  if (!o.argon2.empty()) {
    const std::string a = o.argon2 + " hash=" + dir + "/argon2.hash";
    service("bench-argon2", a, a);
  }
}

// One whole transaction: pam_start, pam_authenticate, pam_acct_mgmt when authenticate
// succeeded, pam_end. Returns the authenticate result (acct_mgmt's when that failed).
int Transaction(const char* service, const std::string& user, const std::string& password) {
  pam_conv conv{testlib::PasswordConv, const_cast<std::string*>(&password)};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start(service, user.c_str(), &conv, &pamh);
  if (rc != PAM_SUCCESS) return rc;
  rc = pam_authenticate(pamh, PAM_SILENT);
  if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(pamh, PAM_SILENT);
  pam_end(pamh, rc);
  return rc;
}

// This thread's CPU time (user + system), in microseconds: what getrusage(RUSAGE_THREAD)
// reports, read through the clock that is not rounded to the scheduler tick.
double CpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Stack {
  std::string name;      // row name
  const char* service;   // PAM service
  bool accept;           // the right answer: accepted (else refused)
  bool slow;             // runs in --slow-rounds rounds only
  bool first_use;        // each transaction with a user not used before (usage write)
  std::string baseline;  // its pam_permit (the ratio's denominator)
  std::vector<double> wall, cpu;
  int wrong_answers = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * q))];
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

int Run(const Options& o, const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> creds;
  {
    std::ifstream in(dir + "/passwords");
    for (std::string line; std::getline(in, line);) {
      const auto tab = line.find('\t');
      if (tab != std::string::npos) creds.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    }
  }
  if (creds.empty()) Fail("no passwords");
  std::string unix_password;
  if (!o.unix_password_file.empty()) {
    std::ifstream in(o.unix_password_file);
    if (!std::getline(in, unix_password) || unix_password.empty())
      Fail("cannot read " + o.unix_password_file);
  }

  std::vector<Stack> stacks;
  stacks.push_back({"pam_permit", "bench-permit", true, false, false, "pam_permit", {}, {}});
  stacks.push_back({"apppass accepted", "bench-apppass", true, false, false, "pam_permit", {}, {}});
  stacks.push_back({"apppass refused", "bench-apppass", false, false, false, "pam_permit", {}, {}});
  stacks.push_back(
      {"apppass accepted, first use", "bench-apppass", true, false, true, "pam_permit", {}, {}});
  if (!o.nofloor.empty()) {
    stacks.push_back({"apppass accepted (floor 0)",
                      "bench-apppass-nofloor",
                      true,
                      false,
                      false,
                      "pam_permit",
                      {},
                      {}});
    stacks.push_back({"apppass refused (floor 0)",
                      "bench-apppass-nofloor",
                      false,
                      false,
                      false,
                      "pam_permit",
                      {},
                      {}});
  }
  if (!o.unix_user.empty())
    stacks.push_back(
        {"pam_unix (yescrypt)", "bench-unix", true, true, false, "pam_permit", {}, {}});
  if (!o.argon2.empty())
    stacks.push_back({"Argon2id per record (INTERACTIVE)",
                      "bench-argon2",
                      true,
                      true,
                      false,
                      "pam_permit",
                      {},
                      {}});

  // Accepted and refused logins cycle over the first `active` users, each used in the
  // warm-up: their last use is recent, as for a mail client that logs in every few
  // minutes (the usage throttle's steady state). "first use" takes the others in turn.
  const std::size_t active = std::min<std::size_t>(creds.size(), 100);
  std::size_t next_unused = active;
  auto once = [&](Stack& st, int round, bool record) {
    std::string user, password;
    std::size_t k = static_cast<std::size_t>(round) % active;
    if (st.first_use) {
      if (next_unused >= creds.size()) return;  // every user used once: no more samples
      k = next_unused++;
    }
    const auto& c = creds[k];
    if (std::string(st.service) == "bench-unix") user = o.unix_user, password = unix_password;
    else if (std::string(st.service) == "bench-argon2") user = c.first, password = kArgonPassword;
    else user = c.first, password = st.accept ? c.second : kWrong;
    const double c0 = CpuUs();
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = Transaction(st.service, user, password);
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = CpuUs();
    const int want = st.accept ? PAM_SUCCESS : PAM_AUTH_ERR;
    if (rc != want) {
      if (++st.wrong_answers <= 3)
        std::fprintf(stderr, "bench_pam: %s, round %d: %s (want %s)\n", st.name.c_str(), round,
                     pam_strerror(nullptr, rc), pam_strerror(nullptr, want));
      return;
    }
    if (!record) return;
    st.wall.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    st.cpu.push_back(c1 - c0);
  };

  // Warm-up (libraries paged in, caches filled), not recorded.
  for (auto& st : stacks)
    if (!st.first_use)
      for (int i = 0; i < (st.slow ? 1 : static_cast<int>(active)); ++i) once(st, i, false);
  // The slow stacks refuse a wrong password too (untimed): their figures are real checks.
  int wrong_refusals = 0;
  for (auto& st : stacks) {
    if (!st.slow) continue;
    const std::string user = st.service == std::string("bench-unix") ? o.unix_user : "user0";
    const int rc = Transaction(st.service, user, "not the password");
    if (rc != PAM_AUTH_ERR) {
      ++wrong_refusals;
      std::fprintf(stderr, "bench_pam: %s with a wrong password: %s (want %s)\n", st.name.c_str(),
                   pam_strerror(nullptr, rc), pam_strerror(nullptr, PAM_AUTH_ERR));
    }
  }

  std::mt19937 rng(14);
  const int slow_every = std::max(1, o.rounds / o.slow_rounds);
  std::vector<Stack*> order;
  for (int r = 0; r < o.rounds; ++r) {
    order.clear();
    for (auto& st : stacks)
      if (!st.slow || r % slow_every == 0) order.push_back(&st);
    std::shuffle(order.begin(), order.end(), rng);
    for (Stack* st : order) once(*st, r, true);
  }

  // Figures.
  std::map<std::string, double> p50;
  for (auto& st : stacks) p50[st.name] = Percentile(st.wall, 0.5);
  const double unix50 = p50.count("pam_unix (yescrypt)") ? p50["pam_unix (yescrypt)"] : 0;
  nlohmann::json rows = nlohmann::json::array();
  int wrong = wrong_refusals;
  std::printf("# whole PAM transactions, %d rounds interleaved (slow stacks %d), %d users\n",
              o.rounds, o.slow_rounds, o.users);
  std::printf("%-36s %7s %10s %10s %10s %9s %9s\n", "stack", "n", "p50 us", "p99 us", "cpu us",
              "x permit", "unix / x");
  for (auto& st : stacks) {
    wrong += st.wrong_answers;
    const double med = p50[st.name], p99 = Percentile(st.wall, 0.99), cpu = Mean(st.cpu);
    nlohmann::json extra = nlohmann::json::object();
    double ratio = 0, vs_unix = 0;
    if (!st.baseline.empty() && p50[st.baseline] > 0) {
      ratio = med / p50[st.baseline];
      extra["ratio_to"] = st.baseline;
      extra["ratio"] = ratio;
    }
    if (unix50 > 0 && med > 0 && st.name != "pam_unix (yescrypt)") {
      vs_unix = unix50 / med;
      extra["pam_unix_over_this"] = vs_unix;
    }
    extra["mean_us"] = Mean(st.wall);
    if (st.first_use)
      extra["note"] = "a user's first login: the module records its last use (a write)";
    if (st.slow) extra["note"] = "fewer rounds (slow stack), spread over the run";
    if (st.service == std::string("bench-argon2"))
      extra["note"] =
          "one Argon2id record; a user with N app passwords costs up to N of these per login";
    rows.push_back({{"name", st.name},
                    {"n", st.wall.size()},
                    {"p50_us", med},
                    {"p99_us", p99},
                    {"cpu_us", cpu},
                    {"extra", extra}});
    std::printf("%-36s %7zu %10.1f %10.1f %10.1f %9.2f %9.1f\n", st.name.c_str(), st.wall.size(),
                med, p99, cpu, ratio, vs_unix);
  }

  nlohmann::json targets = nlohmann::json::array();
  auto target = [&](const std::string& what, const std::string& row, double limit, const char* op,
                    double value) {
    if (!p50.count(row) || p50[row] <= 0) return;
    const bool met = std::string(op) == "<=" ? value <= limit : value >= limit;
    // What the module adds to a PAM transaction, measured: the gap's size, if any.
    std::string note;
    if (!met && std::string(op) == "<=") {
      const auto it =
          std::find_if(stacks.begin(), stacks.end(), [&](const Stack& s) { return s.name == row; });
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "the module adds %.0f us (p50) and %.0f us CPU (mean) to pam_permit's "
                    "%.0f us / %.0f us CPU",
                    p50[row] - p50["pam_permit"], Mean(it->cpu) - Mean(stacks[0].cpu),
                    p50["pam_permit"], Mean(stacks[0].cpu));
      note = buf;
    }
    targets.push_back({{"what", what},
                       {"value", value},
                       {"limit", limit},
                       {"op", op},
                       {"met", met},
                       {"note", note}});
  };
  const double permit = p50["pam_permit"];
  for (const char* kind : {"accepted", "refused"}) {
    const std::string row = std::string("apppass ") + kind;
    target("PAM: apppass " + std::string(kind) + " / pam_permit (floor 100 us)", row, 2.5,
           "<=", p50[row] / permit);
    target("PAM: apppass " + std::string(kind) + " / pam_permit (floor 0)", row + " (floor 0)", 1.5,
           "<=", p50[row + " (floor 0)"] / permit);
    if (unix50 > 0)
      target("PAM: pam_unix (yescrypt) / apppass " + std::string(kind), row, 100,
             ">=", unix50 / p50[row]);
  }
  nlohmann::json notes = nlohmann::json::array();
  notes.push_back(
      "Each transaction: pam_start, pam_authenticate, pam_acct_mgmt after a success, pam_end, "
      "in one long-lived process through the real libpam under pam_wrapper; stacks in a "
      "shuffled order every round. Ratios of medians. CPU: the thread's user+system time per "
      "transaction, mean (CLOCK_THREAD_CPUTIME_ID: getrusage(RUSAGE_THREAD) without its "
      "rounding to the scheduler tick). Accepted and refused logins cycle over 100 "
      "users used in the warm-up (last use recent: the usage throttle's steady state, as for "
      "a mail client logging in every few minutes); 'first use' logs in users never used "
      "before, so each records its last use.");
  if (!o.argon2.empty())
    notes.push_back(
        "Argon2id per record: crypto_pwhash_str_verify at libsodium's INTERACTIVE limits "
        "(opslimit " +
        std::to_string(crypto_pwhash_OPSLIMIT_INTERACTIVE) + ", memlimit " +
        std::to_string(crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20) +
        " MiB) for ONE stored hash; a salted slow hash cannot be looked up, so a user with N "
        "app passwords costs up to N of these per login (all N for a wrong password).");
  if (o.nofloor.empty()) notes.push_back("No floor-0 build given: its rows are missing.");
  else
    notes.push_back(
        "The floor-0 rows: pam_apppass.so of a build with APPPASS_VERIFY_FLOOR_US=0 in the "
        "same process (the floor is compiled into each module; libapppass-shared.so, the "
        "registry of environments only, is loaded once for both by its soname).");
  if (o.unix_user.empty()) notes.push_back("No pam_unix user given (not root?): row missing.");
  const nlohmann::json result = {{"part", "pam"},
                                 {"title", "Full PAM transactions"},
                                 {"order", 20},
                                 {"config",
                                  {{"rounds", o.rounds},
                                   {"slow_rounds", o.slow_rounds},
                                   {"users", o.users},
                                   {"active_users", active},
                                   {"quick", o.quick},
                                   {"module", o.module},
                                   {"nofloor_module", o.nofloor}}},
                                 {"rows", rows},
                                 {"targets", targets},
                                 {"notes", notes}};
  std::ofstream out(o.out, std::ios::trunc);
  out << result.dump(2) << "\n";
  if (!out.flush()) Fail("cannot write " + o.out);
  if (wrong > 0) {
    std::fprintf(stderr, "bench_pam: %d wrong answers\n", wrong);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchpart::RunScriptIfCalledAsPart(argc, argv, "bench_pam.sh", true);
  const Options o = Parse(argc, argv);
  if (geteuid() != 0) {
    std::printf("# skipped: needs root (a root-only store, /etc/shadow)\n");
    return 77;
  }
  if (sodium_init() < 0 || oath_init() != OATH_OK) Fail("sodium_init/oath_init failed");
  const char* step = std::getenv(kStepEnv);
  if (step != nullptr) return Run(o, step);
  char tmpl[] = "/tmp/apppass-bench-pam.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp failed");
  const std::string dir = tmpl;
  Prepare(o, dir);
  const char* old = std::getenv("LD_PRELOAD");
  const std::string preload = std::string(BENCH_PAM_WRAPPER_LIBRARY) +
                              (old != nullptr && *old != '\0' ? ":" + std::string(old) : "");
  setenv("LD_PRELOAD", preload.c_str(), 1);
  return pamtest::RerunUnderPamWrapper(argv, kStepEnv, dir, dir + "/services", "bench_pam", false);
}
