// bench_sizes: in-process verification against store size (part "sizes" of
// tests/bench/run-benchmarks).
//
//   bench_sizes --out FILE.json --stores DIR [--quick]
//
// For every store bench_bulk_load made in DIR (1 and 25 app passwords per user), opens it
// for verifying, warms its pages (a read of every table), then times lookups of random
// users, a third each accepted (a known password), wrong password (an existing user) and
// unknown user: first the work alone (internal::VerifyUnpadded), then Verify with its time
// floor. Each call is timed (p50, p99); CPU per call is getrusage(RUSAGE_THREAD) over the
// run divided by the calls. Target: the work's p50 at the largest store <= 1.5x at the
// smallest, for each per-user count. Asserts only that every answer is right.
#include <lmdb.h>

#include <map>
#include <random>

#include "bench_common.h"
#include "store_internal.h"
#include "verifier.h"

using namespace apppass;
using bench::Die;

namespace {

// Reads every key and value of every table once, so the timed lookups find the store's
// pages mapped and in the page cache.
void Warm(const Store& s) {
  StoreTxn txn;
  if (!s.Begin(false, &txn).ok()) Die("begin");
  volatile unsigned char sink = 0;
  for (Table t : {Table::kCreds, Table::kIds, Table::kUserIds, Table::kUsers}) {
    LmdbCursor c = txn.Cursor(t);
    std::string_view k, v;
    while (c.Next(&k, &v)) sink = sink ^ static_cast<unsigned char>(v.empty() ? k[0] : v[0]);
  }
}

struct Lookup {
  std::string user, password;
  Outcome want;
};

// `n` lookups of random users of `st`, a third of each outcome, in random order.
std::vector<Lookup> Lookups(const bench::LoadedStore& st, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Lookup> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    const std::uint64_t i = rng() % st.count;
    const std::string user = bench::UserName(i / st.per_user);
    switch (k % 3) {
      case 0: out.push_back({user, bench::PasswordFor(i), Outcome::kAccepted}); break;
      case 1: out.push_back({user, bench::PasswordFor(i, 2), Outcome::kWrongPassword}); break;
      default:
        out.push_back({"x" + bench::UserName(rng() % st.count), bench::PasswordFor(i, 3),
                       Outcome::kUnknownUser});
    }
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

struct Measured {
  std::vector<double> all, by_outcome[3];
  double cpu_us = 0;
};

template <typename F>
Measured Run(const std::vector<Lookup>& ls, F&& verify) {
  Measured m;
  m.all.reserve(ls.size());
  const double c0 = bench::CpuUs();
  for (const Lookup& l : ls) {
    const double t0 = bench::NowUs();
    const Decision d = verify(l);
    const double us = bench::NowUs() - t0;
    if (d.outcome != l.want)
      Die("user " + l.user + ": " + std::string(OutcomeName(d.outcome)) + ", want " +
          std::string(OutcomeName(l.want)) + " " + d.detail);
    m.all.push_back(us);
    m.by_outcome[l.want == Outcome::kAccepted        ? 0
                 : l.want == Outcome::kWrongPassword ? 1
                                                     : 2]
        .push_back(us);
  }
  m.cpu_us = (bench::CpuUs() - c0) / static_cast<double>(ls.size());
  return m;
}

std::string Count(std::uint64_t n) {
  if (n >= 1'000'000 && n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::ParseArgs(argc, argv);
  if (args.stores.empty()) Die("bench_sizes needs --stores DIR");
  const auto stores = bench::LoadedStores(args.stores);
  if (stores.empty()) Die("no bulk-loaded stores in " + args.stores);
  const int rounds = args.quick ? 900 : 15000;

  nlohmann::json rows = nlohmann::json::array(), targets = nlohmann::json::array();
  std::map<std::uint64_t, std::pair<const bench::LoadedStore*, double>> smallest, largest;
  std::printf("# verification against store size (us; p50/p99; CPU per call)\n");
  for (const auto& st : stores) {
    Store v;
    Status s = Store::Open(st.dir, Store::Mode::kVerify, &v);
    if (!s.ok()) Die("open " + st.dir + ": " + s.message());
    Warm(v);
    const auto ls = Lookups(st, rounds, st.count * 31 + st.per_user);
    Run(std::vector<Lookup>(ls.begin(), ls.begin() + std::min<int>(rounds, 2000)),
        [&](const Lookup& l) {
          return internal::VerifyUnpadded(v, l.user, l.password, "imap", bench::kNow);
        });
    const Measured work = Run(ls, [&](const Lookup& l) {
      return internal::VerifyUnpadded(v, l.user, l.password, "imap", bench::kNow);
    });
    const Measured floor = Run(
        ls, [&](const Lookup& l) { return Verify(v, l.user, l.password, "imap", bench::kNow); });
    const std::string label =
        Count(st.count) + " stored, " + std::to_string(st.per_user) + " per user";
    for (const auto* m : {&work, &floor}) {
      const bool is_work = m == &work;
      nlohmann::json r =
          bench::Row(label + (is_work ? ": work" : ": Verify (floor)"), m->all, m->cpu_us);
      r["extra"]["stored"] = st.count;
      r["extra"]["per_user"] = st.per_user;
      r["extra"]["mode"] = is_work ? "work" : "floor";
      const char* names[] = {"accepted", "wrong", "unknown"};
      for (int o = 0; o < 3; ++o) {
        auto sorted = m->by_outcome[o];
        std::sort(sorted.begin(), sorted.end());
        r["extra"][std::string(names[o]) + " p50 us"] = bench::Pct(sorted, 50);
      }
      std::printf("%-40s p50 %7.1f  p99 %7.1f  cpu %7.1f\n", r["name"].get<std::string>().c_str(),
                  r["p50_us"].get<double>(), r["p99_us"].get<double>(), m->cpu_us);
      rows.push_back(r);
    }
    const double p50 = rows[rows.size() - 2]["p50_us"].get<double>();
    if (!smallest.count(st.per_user)) smallest[st.per_user] = {&st, p50};
    largest[st.per_user] = {&st, p50};
  }
  // Ratios to the smallest store of the same per-user count, beside each row.
  for (auto& r : rows) {
    const std::uint64_t pu = r["extra"]["per_user"];
    const std::string mode = r["extra"]["mode"];
    for (const auto& base : rows)
      if (base["extra"]["per_user"] == pu && base["extra"]["mode"] == mode) {
        r["extra"]["ratio"] = r["p50_us"].get<double>() / base["p50_us"].get<double>();
        r["extra"]["ratio_to"] = base["name"];
        break;
      }
  }
  for (const auto& [pu, big] : largest) {
    const auto& small = smallest[pu];
    if (big.first == small.first) continue;
    targets.push_back(bench::Target(
        "verification work p50 at " + Count(big.first->count) + " / " + Count(small.first->count) +
            " stored (" + std::to_string(pu) + " per user)",
        big.second / small.second, 1.5,
        "<=", "B-tree depth grows by one or two levels; random users miss the CPU caches"));
  }
  const nlohmann::json out = {
      {"part", "sizes"},
      {"title", "In-process verification against store size"},
      {"order", 10},
      {"config",
       {{"lookups_per_store", rounds},
        {"mix", "1/3 accepted, 1/3 wrong password, 1/3 unknown user; random users"},
        {"floor_us", VerifyFloorNs() / 1000}}},
      {"rows", rows},
      {"columns", {"accepted p50 us", "wrong p50 us", "unknown p50 us"}},
      {"targets", targets},
      {"notes",
       {"work: internal::VerifyUnpadded, the verification without its time floor; "
        "Verify (floor): what the PAM module and SASL plugin call",
        "CPU: getrusage(RUSAGE_THREAD) user+system over the run / calls",
        "stores built by tests/bench/bench_bulk_load (sealed records as the admin API writes "
        "them); pages warmed by reading every table before timing"}}};
  bench::WriteResult(args.out, out);
  return 0;
}
