// files_swap_race: while one process swaps a store file back and forth between the real
// file and a bad one (renameat2 RENAME_EXCHANGE, atomic), verifier processes open the
// store and verify, over and over, the way the PAM module and the SASL plugin do
// (Store::Open in verify mode, then Verify).
//
//   test_swap_race APPPASS SECONDS_PER_SCENARIO
//
// The bad file is a symlink into another store that has the same key and one more app
// password of alice's (OTHER_PW), or a FIFO. Reading anything through the symlink could
// accept OTHER_PW: any accept of it is a failure. So is a verifier that hangs (killed by
// an alarm), or the real password refused while the store opened. Prints per scenario the
// swaps, opens, refusals and verifications. Needs root (exit 77 otherwise).
//
// SWAP_ONLY=TEXT runs only the scenarios whose name contains TEXT.
//
// Not covered (lmdb_files.h): a FIFO swapped in for data.mdb between the check and LMDB's
// own open(2) of it blocks that open; SWAP_DATA_FIFO=1 adds that scenario, which hangs
// its verifiers within seconds. Only root (or the store's owner) can write the store
// directory; the check refuses a directory anyone else may write.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../lib/report.h"
#include "store.h"
#include "usage.h"
#include "verifier.h"

namespace {

using testlib::Die;
using testlib::g_failures;
using testlib::Report;

std::string Sh(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) Die("popen failed");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) Die("command failed: " + cmd);
  return out;
}

// Shared between the verifier processes and the parent (MAP_SHARED).
struct Counters {
  std::atomic<long> opens, refused, accepted, other_accepted, wrong_refusal, unavailable;
  std::atomic<long> usage_refused, usage_recorded;
};

struct Scenario {
  std::string name;
  std::string target;  // the path swapped
  std::string bad;     // what it is swapped with: "symlink:PATH" or "fifo"
};

volatile sig_atomic_t g_stop = 0;
void OnTerm(int) { g_stop = 1; }

// Swaps `target` with `target.bad` until SIGTERM; returns the number of swaps (exit code
// is not wide enough: written to `*swaps`).
void Swapper(const std::string& target, std::atomic<long>* swaps) {
  ::signal(SIGTERM, OnTerm);
  const std::string bad = target + ".bad";
  while (g_stop == 0) {
    if (::renameat2(AT_FDCWD, target.c_str(), AT_FDCWD, bad.c_str(), RENAME_EXCHANGE) != 0)
      std::_Exit(3);
    swaps->fetch_add(1, std::memory_order_relaxed);
  }
  // Leave the real file in place.
  struct stat st {};
  if (::lstat(bad.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
    ::renameat2(AT_FDCWD, target.c_str(), AT_FDCWD, bad.c_str(), RENAME_EXCHANGE);
  std::_Exit(0);
}

// With `record`, each accept also records last use, as the PAM module does.
void Verifier(const std::string& db, const std::string& pw, const std::string& other_pw,
              int seconds, bool record, Counters* c) {
  // A verifier that blocks (a FIFO) dies here; the parent counts it as a hang.
  ::alarm(static_cast<unsigned>(seconds + 20));
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    apppass::Store store;
    c->opens.fetch_add(1);
    if (!apppass::Store::Open(db, apppass::Store::Mode::kVerify, &store).ok()) {
      c->refused.fetch_add(1);
      continue;
    }
    const std::int64_t now = std::time(nullptr);
    const apppass::Decision other = apppass::Verify(store, "alice", other_pw, "imap", now);
    if (other.outcome == apppass::Outcome::kAccepted) c->other_accepted.fetch_add(1);
    const apppass::Decision d = apppass::Verify(store, "alice", pw, "imap", now);
    if (d.outcome == apppass::Outcome::kAccepted) {
      c->accepted.fetch_add(1);
      if (!record) continue;
      apppass::UsageDb usage;
      const apppass::Usage use{.time = now, .service = "imap", .rhost = "192.0.2.7"};
      if (apppass::UsageDb::Open(db, true, &usage).ok() && usage.Record(d.id, use, 0).ok())
        c->usage_recorded.fetch_add(1);
      else c->usage_refused.fetch_add(1);
    } else if (d.outcome == apppass::Outcome::kUnavailable) c->unavailable.fetch_add(1);
    else c->wrong_refusal.fetch_add(1);
  }
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: test_swap_race APPPASS SECONDS_PER_SCENARIO\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::printf("# skipped: needs root\n");
    return 77;
  }
  const std::string tool = argv[1];
  const int seconds = std::atoi(argv[2]);
  char tmpl[] = "/tmp/apppass-swap.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string tmp = tmpl;

  // The good store (alice, PW) and the other store: a copy (same key) plus OTHER_PW.
  const std::string good = tmp + "/good", other = tmp + "/other";
  auto apppass = [&](const std::string& db, const std::string& args) {
    return Sh(tool + " --db " + db + " " + args + " 2>/dev/null");
  };
  apppass(good, "init");
  const auto enroll = nlohmann::json::parse(apppass(good, "mfa enroll alice --json"));
  const std::string code = Sh("oathtool --totp -b " + enroll.at("secret").get<std::string>());
  apppass(good, "mfa confirm alice " + code.substr(0, 6));
  const std::string pw =
      nlohmann::json::parse(apppass(good, "create alice --name a --all-services --json"))
          .at("password")
          .get<std::string>();
  Sh("cp -a " + good + " " + other);
  const std::string other_pw =
      nlohmann::json::parse(apppass(other, "create alice --name evil --all-services --json"))
          .at("password")
          .get<std::string>();

  // Held open for the whole test: the other store's reader table is then live, with its
  // own last transaction id. A verifier reading it through a swapped lock.mdb would pick
  // the good store's older snapshot, which lacks PW (a "wrong" refusal).
  apppass::Store other_store;
  if (!apppass::Store::Open(other, apppass::Store::Mode::kVerify, &other_store).ok())
    Die("cannot open the other store");

  // The store the verifiers open: a copy of the good one inside `parent`, so that the
  // directory itself can be swapped too.
  const std::string parent = tmp + "/p", db = parent + "/store";
  std::filesystem::create_directory(parent);
  Sh("cp -a " + good + " " + db);

  std::vector<Scenario> scenarios = {
      {"data.mdb <-> symlink to the other store's data.mdb", db + "/data.mdb",
       "symlink:" + other + "/data.mdb"},
      {"lock.mdb <-> symlink to the other store's lock.mdb", db + "/lock.mdb",
       "symlink:" + other + "/lock.mdb"},
      {"key <-> symlink to a valid key (the same bytes)", db + "/key", "symlink:" + other + "/key"},
      {"store directory <-> symlink to the other store", db, "symlink:" + other},
      {"lock.mdb <-> FIFO", db + "/lock.mdb", "fifo"},
      {"key <-> FIFO", db + "/key", "fifo"},
      {"usage/data.mdb <-> symlink to the other store's", db + "/usage/data.mdb",
       "symlink:" + other + "/usage/data.mdb"},
  };
  // The known limit (lmdb_files.h), only on request: shows LMDB's own open of data.mdb
  // blocking on a FIFO swapped in after the check (the verifiers then hang).
  if (std::getenv("SWAP_DATA_FIFO") != nullptr)
    scenarios.push_back({"data.mdb <-> FIFO (known limit)", db + "/data.mdb", "fifo"});
  const int kVerifiers = 3;
  auto* c =
      static_cast<Counters*>(::mmap(nullptr, sizeof(Counters) + sizeof(std::atomic<long>),
                                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (c == MAP_FAILED) Die("mmap");
  auto* swaps = reinterpret_cast<std::atomic<long>*>(c + 1);
  long total_opens = 0, total_swaps = 0;

  for (const Scenario& sc : scenarios) {
    if (const char* only = std::getenv("SWAP_ONLY");
        only != nullptr && sc.name.find(only) == std::string::npos)
      continue;
    new (c) Counters{};
    new (swaps) std::atomic<long>(0);
    const std::string bad = sc.target + ".bad";
    const bool usage = sc.target.find("/usage/") != std::string::npos;
    if (sc.bad == "fifo") {
      if (::mkfifo(bad.c_str(), 0640) != 0) Die("mkfifo");
    } else if (::symlink(sc.bad.substr(8).c_str(), bad.c_str()) != 0) {
      Die("symlink");
    }
    const auto other_usage_before =
        Sh("md5sum " + other + "/usage/data.mdb " + other + "/data.mdb");
    const pid_t swapper = ::fork();
    if (swapper == 0) Swapper(sc.target, swaps);
    std::vector<pid_t> verifiers;
    for (int i = 0; i < kVerifiers; ++i) {
      const pid_t p = ::fork();
      if (p == 0) Verifier(db, pw, other_pw, seconds, usage, c);
      verifiers.push_back(p);
    }
    int hangs = 0, crashes = 0;
    std::string how;
    for (const pid_t p : verifiers) {
      int st = 0;
      ::waitpid(p, &st, 0);
      if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
        ++hangs;
      } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        ++crashes;
        how += WIFSIGNALED(st) ? std::string(" ") + ::strsignal(WTERMSIG(st))
                               : " exit " + std::to_string(WEXITSTATUS(st));
      }
    }
    ::kill(swapper, SIGTERM);
    int st = 0;
    ::waitpid(swapper, &st, 0);
    const bool swapper_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    ::unlink(bad.c_str());
    const auto other_usage_after = Sh("md5sum " + other + "/usage/data.mdb " + other + "/data.mdb");

    const long opens = c->opens, refused = c->refused, accepted = c->accepted;
    total_opens += opens;
    total_swaps += swaps->load();
    std::printf(
        "# %s: %ld swaps, %ld opens: %ld refused, %ld opened (%ld accepted the real "
        "password, %ld unavailable at verify), other store's password accepted %ld times\n",
        sc.name.c_str(), swaps->load(), opens, refused, opens - refused, accepted,
        c->unavailable.load(), c->other_accepted.load());
    std::printf("#   last use: %ld recorded, %ld refused\n", c->usage_recorded.load(),
                c->usage_refused.load());
    Report(swapper_ok && swaps->load() > 100, sc.name + ": the swapper ran",
           std::to_string(swaps->load()) + " swaps");
    Report(hangs == 0, sc.name + ": no verifier hung", std::to_string(hangs) + " hung");
    Report(crashes == 0, sc.name + ": no verifier crashed",
           std::to_string(crashes) + " crashed:" + how);
    Report(c->other_accepted == 0, sc.name + ": the other store's password never accepted",
           std::to_string(c->other_accepted.load()) + " accepts");
    // Known gap (docs/reliability.md, "Known limits"): when data.mdb (or the whole
    // directory) is swapped for another store's, a process that is the store's first
    // opener initialises lock.mdb from the wrong data.mdb before our descriptor check
    // refuses it, and the next readers may pick the previous snapshot until a writer
    // commits. Only someone who may write the store directory (root) can cause it; the
    // other store's password is still never accepted (asserted above). Counted, not failed.
    const bool data_swap =
        sc.name.rfind("data.mdb <-> symlink", 0) == 0 || sc.name.rfind("store directory", 0) == 0;
    if (data_swap)
      std::printf("# known gap: the real password refused as wrong %ld times (stale snapshot)\n",
                  c->wrong_refusal.load());
    else
      Report(c->wrong_refusal == 0, sc.name + ": the real password never refused as wrong",
             std::to_string(c->wrong_refusal.load()) + " times");
    // Both outcomes must have happened, or the race was not tried.
    const long no = usage ? c->usage_refused.load() : refused;
    const long yes = usage ? c->usage_recorded.load() : accepted;
    Report(no > 0 && yes > 0, sc.name + ": the race produced both refusals and successes",
           std::to_string(no) + " refused, " + std::to_string(yes) + " succeeded");
    Report(other_usage_before == other_usage_after,
           sc.name + ": nothing written to the other store");
  }
  std::printf("# total: %ld swaps, %ld store opens\n", total_swaps, total_opens);
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  std::printf("%d failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
