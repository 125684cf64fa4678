// The measuring and the statistics of the timing tests (timing_verify.cc, timing_code.cc),
// as dudect does them (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant time?",
// 2017): a cycle-counter timer, Welch's t-statistic between two classes on the uncropped
// samples and on the samples below several percentiles of the pooled distribution
// (cropping removes the long tail that interrupts and other processes add), and a spin of
// a given length for the negative controls. Header-only; one thread.
#pragma once

#include <sched.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace timing {

constexpr double kThreshold = 10.0;  // |t| the tests allow; dudect's "definitely leaks"

// Crops: the uncropped set, then samples below these pooled percentiles.
constexpr std::array<double, 9> kCrops = {1.0, 0.999, 0.99, 0.95, 0.90, 0.80, 0.60, 0.40, 0.20};

inline std::uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// The timer. rdtscp waits for earlier instructions; the lfences keep later ones (and the
// measured call) from starting early. The TSC runs at a constant rate on every x86 this
// runs on (constant_tsc); ticks are converted to ns at a rate measured against
// CLOCK_MONOTONIC_RAW.
inline std::uint64_t Ticks() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned aux;
  _mm_lfence();
  const std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
#else
  return MonotonicNs();
#endif
}

// Ticks per ns, measured over a short sleep.
inline double CalibrateTicksPerNs() {
  const std::uint64_t n0 = MonotonicNs(), t0 = Ticks();
  timespec d{0, 50'000'000};
  nanosleep(&d, nullptr);
  const std::uint64_t n1 = MonotonicNs(), t1 = Ticks();
  return static_cast<double>(t1 - t0) / static_cast<double>(n1 - n0);
}

// Pins the process to the CPU it runs on (no migration between cores mid-measurement).
// Returns the CPU, or -1 when it could not.
inline int PinToCurrentCpu() {
  const int cpu = sched_getcpu();
  if (cpu < 0) return -1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

// Online mean and variance (Welford), as dudect keeps them.
struct Moments {
  double n = 0, mean = 0, m2 = 0;
  void Add(double x) {
    n += 1;
    const double d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  double Var() const { return n > 1 ? m2 / (n - 1) : 0; }
};

inline double Welch(const Moments& a, const Moments& b) {
  if (a.n < 2 || b.n < 2) return 0;
  const double se = std::sqrt(a.Var() / a.n + b.Var() / b.n);
  if (se == 0) return a.mean == b.mean ? 0 : INFINITY;
  return (a.mean - b.mean) / se;
}

inline double Percentile(const std::vector<std::uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

// Spins `ticks` cycle-counter ticks: the negative controls' artificial leak.
inline void Spin(std::uint64_t ticks) {
  const std::uint64_t end = Ticks() + ticks;
  while (Ticks() < end) {
  }
}

// Per crop of kCrops, the moments of each of `classes` classes of the samples `ticks`
// (class of sample i: klass[i]).
inline std::vector<std::vector<Moments>> CroppedMoments(const std::vector<std::uint32_t>& ticks,
                                                        const std::vector<std::uint8_t>& klass,
                                                        int classes) {
  std::vector<std::uint32_t> pooled = ticks;
  std::sort(pooled.begin(), pooled.end());
  std::array<double, kCrops.size()> limit{};
  for (std::size_t k = 0; k < kCrops.size(); ++k)
    limit[k] = kCrops[k] >= 1.0 ? INFINITY : Percentile(pooled, kCrops[k]);
  std::vector<std::vector<Moments>> m(kCrops.size(), std::vector<Moments>(classes));
  for (std::size_t i = 0; i < ticks.size(); ++i)
    for (std::size_t k = 0; k < kCrops.size(); ++k)
      if (ticks[i] < limit[k]) m[k][klass[i]].Add(ticks[i]);
  return m;
}

// The largest |t| between classes a and b over the crops (`*crop`: where), and the
// smallest difference in means (ns) the run could have flagged (|t| = kThreshold) in its
// most sensitive crop.
struct PairResult {
  double max_t = 0;
  double crop = 1.0;
  double detectable_ns = INFINITY;
};
inline PairResult ComparePair(const std::vector<std::vector<Moments>>& m, int a, int b,
                              double ticks_per_ns) {
  PairResult r;
  for (std::size_t k = 0; k < kCrops.size(); ++k) {
    const double t = std::fabs(Welch(m[k][a], m[k][b]));
    if (t >= r.max_t) {
      r.max_t = t;
      r.crop = kCrops[k];
    }
    const double se = std::sqrt(m[k][a].Var() / std::max(1.0, m[k][a].n) +
                                m[k][b].Var() / std::max(1.0, m[k][b].n));
    r.detectable_ns = std::min(r.detectable_ns, kThreshold * se / ticks_per_ns);
  }
  return r;
}

// Prints (as "# " lines) each class's count and p10, median, p90, p99 and mean in ns of
// the samples `ticks` (class of sample i: klass[i]; class c is named names[c]).
inline void PrintDistributions(const std::vector<std::uint32_t>& ticks,
                               const std::vector<std::uint8_t>& klass, const char* const* names,
                               int classes, double ticks_per_ns) {
  std::vector<std::vector<std::uint32_t>> by_class(classes);
  for (std::size_t i = 0; i < ticks.size(); ++i) by_class[klass[i]].push_back(ticks[i]);
  std::printf("# %-14s %8s %8s %8s %8s %8s %8s   (ns)\n", "class", "count", "p10", "median", "p90",
              "p99", "mean");
  for (int c = 0; c < classes; ++c) {
    auto v = by_class[c];
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (auto x : v) sum += x;
    auto ns = [&](double x) { return x / ticks_per_ns; };
    std::printf("# %-14s %8zu %8.0f %8.0f %8.0f %8.0f %8.0f\n", names[c], v.size(),
                ns(Percentile(v, 0.10)), ns(Percentile(v, 0.50)), ns(Percentile(v, 0.90)),
                ns(Percentile(v, 0.99)), ns(v.empty() ? 0 : sum / static_cast<double>(v.size())));
  }
}

}  // namespace timing
