// bench_procs: 1, 2 and 4 processes verifying at once (part "procs" of
// tests/bench/run-benchmarks).
//
//   bench_procs --out FILE.json --stores DIR [--quick]
//
// On the largest one-per-user store bench_bulk_load made in DIR, forks N processes
// (N = 1, 2, 4); each opens the store itself (as each Dovecot auth worker or smtpd does),
// warms up, waits at a common start, then verifies random users (half accepted, half
// wrong password) for a fixed time and reports its count. Throughput is the sum over the
// processes; the ratio is against one process. Measured twice: Verify with its time floor
// (what a login costs) and the work alone (internal::VerifyUnpadded). Target: 2 processes
// >= 1.8x one (Verify). Asserts only that every answer is right.
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "bench_common.h"
#include "verifier.h"

using namespace apppass;
using bench::Die;

namespace {

struct Result {
  double ops = 0, cpu_us = 0;
};

// One child: opens the store, waits for the byte on `go`, verifies for `seconds`, writes a
// Result to `back`. Exits non-zero on a wrong answer.
[[noreturn]] void Child(const bench::LoadedStore& st, bool floor, double seconds, int seed, int go,
                        int back) {
  Store v;
  if (!Store::Open(st.dir, Store::Mode::kVerify, &v).ok()) _exit(3);
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
  auto one = [&](std::uint64_t k) {
    const std::uint64_t i = rng() % st.count;
    const bool good = k % 2 == 0;
    const Decision d =
        floor ? Verify(v, bench::UserName(i / st.per_user), bench::PasswordFor(i, good ? 0 : 2),
                       "imap", bench::kNow)
              : internal::VerifyUnpadded(v, bench::UserName(i / st.per_user),
                                         bench::PasswordFor(i, good ? 0 : 2), "imap", bench::kNow);
    if (d.outcome != (good ? Outcome::kAccepted : Outcome::kWrongPassword)) _exit(4);
  };
  for (std::uint64_t k = 0; k < 500; ++k) one(k);
  char c;
  if (read(go, &c, 1) != 1) _exit(5);
  Result r;
  const double c0 = bench::CpuUs(RUSAGE_SELF), t0 = bench::NowUs();
  const double end = t0 + seconds * 1e6;
  std::uint64_t k = 0;
  while (bench::NowUs() < end) one(k++);
  r.ops = static_cast<double>(k) / ((bench::NowUs() - t0) / 1e6);
  r.cpu_us = (bench::CpuUs(RUSAGE_SELF) - c0) / static_cast<double>(k);
  if (write(back, &r, sizeof r) != sizeof r) _exit(6);
  _exit(0);
}

// Throughput (verifications per second, all processes) and CPU per verification.
Result RunN(const bench::LoadedStore& st, int n, bool floor, double seconds) {
  int go[2], back[2];
  if (pipe(go) != 0 || pipe(back) != 0) Die("pipe");
  std::vector<pid_t> kids;
  for (int p = 0; p < n; ++p) {
    const pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      close(go[1]);
      close(back[0]);
      Child(st, floor, seconds, 100 * n + p, go[0], back[1]);
    }
    kids.push_back(pid);
  }
  close(go[0]);
  close(back[1]);
  usleep(300'000);  // every child has opened and warmed up
  const std::string bytes(static_cast<std::size_t>(n), 'g');
  if (write(go[1], bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) Die("write");
  Result total;
  for (int p = 0; p < n; ++p) {
    Result r;
    if (read(back[0], &r, sizeof r) != sizeof r) Die("a verifying process failed");
    total.ops += r.ops;
    total.cpu_us += r.cpu_us / n;
  }
  for (pid_t pid : kids) {
    int st_ = 0;
    waitpid(pid, &st_, 0);
    if (!WIFEXITED(st_) || WEXITSTATUS(st_) != 0) Die("a verifying process failed (wrong answer?)");
  }
  close(go[1]);
  close(back[0]);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::ParseArgs(argc, argv);
  if (args.stores.empty()) Die("bench_procs needs --stores DIR");
  const bench::LoadedStore* st = nullptr;
  const auto stores = bench::LoadedStores(args.stores);
  for (const auto& s : stores)
    if (s.per_user == 1 && (st == nullptr || s.count > st->count) && s.count <= 1'000'000) st = &s;
  if (st == nullptr) Die("no one-per-user store in " + args.stores);
  const double seconds = args.quick ? 0.3 : 4;

  nlohmann::json rows = nlohmann::json::array(), targets = nlohmann::json::array();
  std::printf("# %llu stored; verifications per second, all processes together\n",
              static_cast<unsigned long long>(st->count));
  for (const bool floor : {true, false}) {
    double one = 0;
    for (const int n : {1, 2, 4}) {
      const Result r = RunN(*st, n, floor, seconds);
      if (n == 1) one = r.ops;
      nlohmann::json row = {{"name", std::to_string(n) + (n == 1 ? " process" : " processes") +
                                         (floor ? ", Verify (floor)" : ", work")},
                            {"n", n},
                            {"cpu_us", r.cpu_us},
                            {"extra",
                             {{"per_second", r.ops},
                              {"ratio", r.ops / one},
                              {"ratio_to", floor ? "1 process, Verify (floor)" : "1 process, work"},
                              {"mean_us", 1e6 * n / r.ops}}}};
      std::printf("%-32s %10.0f /s  x%.2f  cpu %.1f us\n", row["name"].get<std::string>().c_str(),
                  r.ops, r.ops / one, r.cpu_us);
      rows.push_back(row);
      if (n == 2 && floor)
        targets.push_back(bench::Target(
            "2 verifying processes / 1 (throughput, Verify with floor)", r.ops / one, 1.8, ">=",
            "two cores: the second process runs on the other core unless the machine is busy"));
    }
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const nlohmann::json out = {
      {"part", "procs"},
      {"title", "Verifying processes at once"},
      {"order", 40},
      {"config",
       {{"stored", st->count},
        {"seconds_per_run", seconds},
        {"cores", cores},
        {"mix", "1/2 accepted, 1/2 wrong password; random users"}}},
      {"rows", rows},
      {"targets", targets},
      {"notes",
       {"each process opens the store itself and verifies in a loop for a fixed time; "
        "throughput = verifications per second summed over the processes",
        "mean_us = processes / throughput: the time one verification takes in each process",
        "with more processes than cores the ratio cannot pass the number of cores"}}};
  bench::WriteResult(args.out, out);
  return 0;
}
