// What the benchmark parts of tests/bench/run-benchmarks share (bench_sizes, bench_procs,
// bench_admin, bench_memory, bench_sasl, bench_bulk_load): the deterministic app
// passwords of a bulk-loaded store, percentiles, CPU time, the command line (--out FILE
// --quick --stores DIR) and the JSON result file every part writes (the contract is in
// tests/bench/report.py). Header-only; single-threaded use.
#pragma once

#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "password.h"

namespace bench {

// The "now" of every bench store and verification (unix seconds).
inline constexpr std::int64_t kNow = 1'800'000'000;

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

// splitmix64: a fast, deterministic stream (not a secret: bench passwords only).
inline std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The app password of credential `i` of a bulk-loaded store (bench_bulk_load.cc), in the
// form `apppass create` shows ("abcd-efgh-..."). `salt` 0: the stored one; any other
// value: a well-formed password no record has (2^-99).
inline std::string PasswordFor(std::uint64_t i, std::uint64_t salt = 0) {
  const std::string_view alpha = apppass::kPasswordAlphabet;
  std::string out;
  std::uint64_t r = Mix(i * 2 + (salt << 40)), r2 = Mix(i * 2 + 1 + (salt << 40));
  for (std::size_t c = 0; c < apppass::kPasswordChars; ++c) {
    if (c > 0 && c % apppass::kPasswordGroup == 0) out.push_back('-');
    std::uint64_t& src = c < 10 ? r : r2;
    out.push_back(alpha[src % alpha.size()]);
    src /= alpha.size();
  }
  return out;
}

// User `u` of a bulk-loaded store; its credentials are u*per_user .. u*per_user+per_user-1.
inline std::string UserName(std::uint64_t u) {
  char b[32];
  std::snprintf(b, sizeof b, "u%09llu", static_cast<unsigned long long>(u));
  return b;
}
// A credential's id (8 hex digits, as the admin API makes them).
inline std::string CredId(std::uint64_t i) {
  char b[16];
  std::snprintf(b, sizeof b, "%08llx", static_cast<unsigned long long>(i));
  return b;
}

// Nearest-rank percentile of sorted `v` (p in 0..100).
inline double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(k, sorted.size() - 1)];
}

// User + system CPU time of this thread (RUSAGE_THREAD) or process, microseconds.
inline double CpuUs(int who = RUSAGE_THREAD) {
  rusage ru{};
  getrusage(who, &ru);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

inline double NowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A JSON row of the result file from timed samples (microseconds).
inline nlohmann::json Row(const std::string& name, std::vector<double> us, double cpu_us = -1) {
  std::sort(us.begin(), us.end());
  nlohmann::json r = {{"name", name},
                      {"n", us.size()},
                      {"p50_us", Pct(us, 50)},
                      {"p99_us", Pct(us, 99)},
                      {"extra", nlohmann::json::object()}};
  if (cpu_us >= 0) r["cpu_us"] = cpu_us;
  return r;
}

inline nlohmann::json Target(const std::string& what, double value, double limit,
                             const std::string& op, const std::string& note = "") {
  const bool met = op == "<=" ? value <= limit : value >= limit;
  return {{"what", what}, {"value", value}, {"limit", limit},
          {"op", op},     {"met", met},     {"note", note}};
}

// The command line every part takes: --out FILE.json [--quick] [--stores DIR]
// [--nofloor-build DIR] (the build with APPPASS_VERIFY_FLOOR_US=0, for parts that also
// measure the work without the time floor).
struct Args {
  std::string out, stores, nofloor_build;
  bool quick = false;
};
inline Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--quick") a.quick = true;
    else if (s == "--out" && i + 1 < argc) a.out = argv[++i];
    else if (s == "--stores" && i + 1 < argc) a.stores = argv[++i];
    else if (s == "--nofloor-build" && i + 1 < argc) a.nofloor_build = argv[++i];
    else
      Die(std::string("usage: ") + argv[0] +
          " --out FILE.json [--quick] [--stores DIR] [--nofloor-build DIR]");
  }
  if (a.out.empty()) Die(std::string("usage: ") + argv[0] + " --out FILE.json [--quick]");
  return a;
}

inline void WriteResult(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) Die("cannot write " + path);
}

// A bulk-loaded store as bench_bulk_load describes it in STORES/NAME.json.
struct LoadedStore {
  std::string dir;
  std::uint64_t count = 0, per_user = 0;
  nlohmann::json info;
};
// Every store under `stores` (sorted by count, then per_user).
inline std::vector<LoadedStore> LoadedStores(const std::string& stores) {
  std::vector<LoadedStore> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(stores, ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream f(e.path());
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) continue;
    LoadedStore s;
    s.dir = j.value("dir", "");
    s.count = j.value("count", 0ULL);
    s.per_user = j.value("per_user", 1ULL);
    s.info = j;
    if (!s.dir.empty() && std::filesystem::exists(s.dir + "/data.mdb")) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const LoadedStore& a, const LoadedStore& b) {
    return a.count != b.count ? a.count < b.count : a.per_user < b.per_user;
  });
  return out;
}

}  // namespace bench
