// timing_verify: a dudect-style test that Verify() takes the same time whatever the
// reason it refuses (unknown user, wrong password, right prefix, revoked, expired, out of
// scope), so its time cannot tell an attacker which users exist or which passwords once
// were or still are valid elsewhere (OpenSSH CVE-2016-6210 is the classic).
//
//   timing_verify [--samples N] [--max-seconds S] [--users U] [--leak-ns NS] [--unpadded]
//
// It builds a throwaway store with the real admin API (U users with a confirmed
// enrollment and four app passwords each: revoked, imap-only, expired, smtp), opens it
// for verifying, pins itself to one CPU, warms up, then times N calls of Verify() (fewer
// if S seconds of measuring pass first: a busy machine gets a bounded run) with
// the class of each call drawn at random (never in blocks, so drift and noise from
// other processes fall on every class alike). Each call is timed with the cycle counter
// (rdtscp between lfences; clock_gettime(CLOCK_MONOTONIC_RAW) elsewhere) and includes
// destroying the Decision, as a caller pays it.
//
// Analysis as dudect does it (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant
// time?", 2017): Welch's t-statistic between two classes, computed on the uncropped
// samples and again on the samples below each of several percentiles of the pooled
// distribution (cropping removes the long tail that interrupts and other processes add,
// which would otherwise drown a small difference). Every pair of the six refusal
// classes must keep |t| < 10 under every crop; the accepted class is printed for
// information only (its answer differs anyway). Each call's outcome is also checked.
//
// Verify() includes its time floor (verifier.h): what is measured is what a caller sees.
// --unpadded times internal::VerifyUnpadded instead, the work without the floor, and
// reports its |t| for information only: the equal-work verifier alone leaves differences
// of 10-30 ns that millions of samples find, which is why the floor exists.
//
// --leak-ns NS is the negative control: the "revoked" class spins NS ns more inside the
// timed region, and the program succeeds only if the test then reports |t| >= 10 for
// that class against the others, i.e. it proves the test can see a leak of that size.
//
// Prints the distribution of each class (count, p10, median, p90, p99, mean in ns), what
// a call costs the CPU (getrusage RUSAGE_THREAD, user + system, over the timed calls: the
// floor's wait included) beside the wall-clock median, the largest |t| per pair and the
// smallest difference in means the run could have detected (10 standard errors).
// "ok - ..." / "not ok - ..." per check; exit 1 if any failed.
//
// Not for sanitizer builds: ASan and UBSan change what each path costs.
#include <liboath/oath.h>
#include <lmdb.h>
#include <sched.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../lib/report.h"
#include "admin.h"
#include "dudect.h"
#include "password.h"
#include "store_internal.h"
#include "verifier.h"

using namespace apppass;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;
// Verification time: after the expired passwords' expiry, before anything else's.
constexpr std::int64_t kVerifyNow = kNow + 7200;

using testlib::g_failures;
using testlib::Report;
using timing::CalibrateTicksPerNs;
using timing::ComparePair;
using timing::CroppedMoments;
using timing::kThreshold;
using timing::MonotonicNs;
using timing::PairResult;
using timing::Percentile;
using timing::PrintDistributions;
using timing::Spin;
using timing::Ticks;

[[noreturn]] void Die(const std::string& what, const Status& s = Status::Ok()) {
  std::fprintf(stderr, "timing_verify: %s%s%s\n", what.c_str(), s.ok() ? "" : ": ",
               s.message().c_str());
  std::exit(2);
}

enum Class : std::uint8_t {
  kUnknownUserC,
  kWrongC,
  kPrefixC,
  kRevokedC,
  kOutOfScopeC,
  kExpiredC,
  kAcceptedC,  // information only
  kClasses,
};
constexpr int kAsserted = kAcceptedC;  // classes 0..kAsserted-1 must be indistinguishable
constexpr std::array<const char*, kClasses> kClassNames = {
    "unknown-user", "wrong-password", "right-prefix", "revoked",
    "out-of-scope", "expired",        "accepted"};
constexpr std::array<Outcome, kClasses> kExpected = {
    Outcome::kUnknownUser, Outcome::kWrongPassword, Outcome::kWrongPassword, Outcome::kRevoked,
    Outcome::kOutOfScope,  Outcome::kExpired,       Outcome::kAccepted};

std::string CurrentCode(const EnrollResult& e) {
  char* raw = nullptr;
  size_t len = 0;
  const std::string b32(e.base32.view());
  if (oath_base32_decode(b32.data(), b32.size(), &raw, &len) != OATH_OK) Die("base32");
  char otp[7] = {};
  oath_totp_generate(raw, len, kNow, 30, 0, 6, otp);
  std::free(raw);
  return otp;
}

// Known users get even numbers and unknown ones odd, so both have the same length and
// their keys interleave in the users table (an unknown name is not always past the end).
std::string UserName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%07d", i);
  return buf;
}

struct Pools {
  std::vector<std::string> known, unknown;
  std::vector<std::string> revoked, scoped, expired, accepted, prefix;  // per known user
  std::vector<std::string> random;  // valid-looking passwords of nobody
};

// Label of equal length for every credential, long enough that copying it allocates.
std::string Label(const char* kind, int u) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-mail-client-%07d", kind, u);
  return buf;
}

Pools BuildStore(const std::string& dir, int users) {
  Status s = Store::Init(dir);
  if (!s.ok()) Die("init", s);
  Store admin;
  if (!(s = Store::Open(dir, Store::Mode::kAdmin, &admin)).ok()) Die("open admin", s);
  mdb_env_set_flags(apppass::internal::StoreAccess::env(admin).get(), MDB_NOSYNC,
                    1);  // building only

  Pools p;
  auto create = [&](const std::string& user, const std::string& name, const char* scope,
                    std::optional<std::int64_t> expires, Created* c) {
    CreateRequest req{.user = user, .name = name, .scopes = {scope}, .expires = expires};
    if (!(s = CreatePassword(admin, req, kNow, c)).ok()) Die("create", s);
  };
  for (int u = 0; u < users; ++u) {
    const std::string user = UserName(2 * u);
    EnrollResult e;
    if (!(s = MfaEnroll(admin, user, "timing", kNow, &e)).ok()) Die("enroll", s);
    if (!(s = MfaConfirm(admin, user, CurrentCode(e), kNow)).ok()) Die("confirm", s);
    Created r, o, x, a;
    // Every record has the same shape (one scope of four letters, a label of equal
    // length); they differ only in what makes each outcome.
    create(user, Label("rvkd", u), "smtp", std::nullopt, &r);
    create(user, Label("scop", u), "imap", std::nullopt, &o);
    create(user, Label("expd", u), "smtp", kNow + 3600, &x);
    create(user, Label("good", u), "smtp", std::nullopt, &a);
    std::vector<std::string> ids;
    if (!(s = RevokePasswords(admin, user, RevokeSelector{.id = r.cred.id}, kNow + 60, &ids)).ok())
      Die("revoke", s);
    p.known.push_back(user);
    p.unknown.push_back(UserName(2 * u + 1));
    p.revoked.emplace_back(r.password.view());
    p.scoped.emplace_back(o.password.view());
    p.expired.emplace_back(x.password.view());
    p.accepted.emplace_back(a.password.view());
    // The real password with its last two characters changed (to other alphabet
    // characters, so it is still a well-formed app password).
    std::string pre(a.password.view());
    for (std::size_t i = pre.size() - 2; i < pre.size(); ++i) {
      const auto at = kPasswordAlphabet.find(pre[i]);
      pre[i] = kPasswordAlphabet[(at + 1 + randombytes_uniform(30)) % kPasswordAlphabet.size()];
    }
    p.prefix.push_back(pre);
  }
  for (int i = 0; i < 4096; ++i) p.random.emplace_back(GeneratePassword().view());
  if (mdb_env_sync(apppass::internal::StoreAccess::env(admin).get(), 1) != MDB_SUCCESS) Die("sync");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  long samples = 400'000;
  int users = 1000;
  double leak_ns = 0;
  double max_seconds = 0;  // 0: no limit
  bool unpadded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) {
      samples = std::atol(argv[++i]);
    } else if (a == "--users" && i + 1 < argc) {
      users = std::atoi(argv[++i]);
    } else if (a == "--max-seconds" && i + 1 < argc) {
      max_seconds = std::atof(argv[++i]);
    } else if (a == "--leak-ns" && i + 1 < argc) {
      leak_ns = std::atof(argv[++i]);
    } else if (a == "--unpadded") {
      unpadded = true;
    } else {
      std::fprintf(stderr,
                   "usage: timing_verify [--samples N] [--max-seconds S] [--users U] "
                   "[--leak-ns NS] [--unpadded]\n");
      return 2;
    }
  }
  if (samples < 1000 || users < 1) Die("need --samples >= 1000 and --users >= 1");
  if (sodium_init() < 0) Die("sodium_init");
  oath_init();

  // One CPU: no migration between cores mid-measurement.
  const int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  const bool pinned = cpu >= 0 && sched_setaffinity(0, sizeof set, &set) == 0;

  char tmpl[] = "/tmp/apppass-timing.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string dir = tmpl;
  const std::uint64_t build0 = MonotonicNs();
  const Pools pools = BuildStore(dir, users);
  const double build_s = static_cast<double>(MonotonicNs() - build0) / 1e9;
  Store store;
  if (Status s = Store::Open(dir, Store::Mode::kVerify, &store); !s.ok()) Die("open verify", s);

  const double ticks_per_ns = CalibrateTicksPerNs();
  const auto leak_ticks = static_cast<std::uint64_t>(leak_ns * ticks_per_ns);

  // The input of each call is copied into the same buffers, of the same length for
  // every class, before the clock starts.
  std::string user_buf, pass_buf;
  user_buf.reserve(64);
  pass_buf.reserve(64);
  auto prepare = [&](int c, std::size_t u) -> std::string_view {
    const std::string* user = &pools.known[u];
    const std::string* pass = nullptr;
    switch (c) {
      case kUnknownUserC:
        user = &pools.unknown[u];
        pass = &pools.random[randombytes_uniform(static_cast<std::uint32_t>(pools.random.size()))];
        break;
      case kWrongC:
        pass = &pools.random[randombytes_uniform(static_cast<std::uint32_t>(pools.random.size()))];
        break;
      case kPrefixC: pass = &pools.prefix[u]; break;
      case kRevokedC: pass = &pools.revoked[u]; break;
      case kOutOfScopeC: pass = &pools.scoped[u]; break;
      case kExpiredC: pass = &pools.expired[u]; break;
      default: pass = &pools.accepted[u]; break;
    }
    user_buf.assign(*user);
    pass_buf.assign(*pass);
    return "smtp";
  };

  std::vector<std::uint32_t> ticks(static_cast<std::size_t>(samples));
  std::vector<std::uint8_t> klass(static_cast<std::size_t>(samples));
  std::array<long, kClasses> wrong_answers{};
  const long warmup = std::max<long>(20'000, samples / 20);
  const std::uint64_t run0 = MonotonicNs();
  const auto budget_ns = static_cast<std::uint64_t>(max_seconds * 1e9);
  bool cut = false;
  rusage ru0{};
  for (long i = -warmup; i < samples; ++i) {
    if (i == 0) getrusage(RUSAGE_THREAD, &ru0);
    if (budget_ns != 0 && i > 0 && i % 4096 == 0 && MonotonicNs() - run0 > budget_ns) {
      samples = i;
      cut = true;
      break;
    }
    const int c = static_cast<int>(randombytes_uniform(kClasses));
    const std::size_t u = randombytes_uniform(static_cast<std::uint32_t>(users));
    const std::string_view service = prepare(c, u);
    Outcome got;
    // Decided before the clock starts: a branch on the class inside the timed region
    // would itself be mispredicted for one class only, a few ns that the padded
    // measurement (spread of a few tens of ns) sees.
    const std::uint64_t spin = c == kRevokedC ? leak_ticks : 0;
    const std::uint64_t t0 = Ticks();
    {
      const Decision d =
          unpadded ? internal::VerifyUnpadded(store, user_buf, pass_buf, service, kVerifyNow)
                   : Verify(store, user_buf, pass_buf, service, kVerifyNow);
      got = d.outcome;
      if (spin != 0) Spin(spin);
    }
    const std::uint64_t t1 = Ticks();
    if (got != kExpected[c]) ++wrong_answers[c];
    if (i < 0) continue;  // warm-up: caches, branch predictors, page faults
    ticks[static_cast<std::size_t>(i)] =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(t1 - t0, UINT32_MAX));
    klass[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c);
  }
  rusage ru1{};
  getrusage(RUSAGE_THREAD, &ru1);
  const double run_s = static_cast<double>(MonotonicNs() - run0) / 1e9;
  ticks.resize(static_cast<std::size_t>(samples));
  klass.resize(static_cast<std::size_t>(samples));
  store = Store();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  const std::string where = pinned ? "pinned to CPU " + std::to_string(cpu) : "not pinned";
  const std::string control =
      leak_ticks ? ", control: revoked spins " + std::to_string(std::lround(leak_ns)) + " ns" : "";
  const std::string floor = unpadded ? "unpadded (no time floor)"
                                     : "time floor " + std::to_string(VerifyFloorNs() / 1000) +
                                           " us (" + std::string(VerifyFloorMode()) + ")";
  std::printf(
      "# %ld samples%s (+%ld warm-up), %d users (%d credentials), store built in %.1f s, "
      "measured in %.1f s, %s, %.3f ticks/ns, %s%s\n",
      samples, cut ? " (time limit reached)" : "", warmup, users, users * 4, build_s, run_s,
      where.c_str(), ticks_per_ns, floor.c_str(), control.c_str());

  // Distributions.
  PrintDistributions(ticks, klass, kClassNames.data(), kClasses, ticks_per_ns);

  // Every sample, sorted: the pooled percentiles.
  std::vector<std::uint32_t> pooled = ticks;
  std::sort(pooled.begin(), pooled.end());

  // What a call costs the CPU (the floor's wait included, the harness's few hundred ns of
  // preparation too): this thread's user + system time over the timed calls.
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  const double user_us = us(ru1.ru_utime) - us(ru0.ru_utime);
  const double sys_us = us(ru1.ru_stime) - us(ru0.ru_stime);
  const double calls = static_cast<double>(std::max(1L, samples));
  std::printf(
      "# cpu per call %.1f us (user %.1f + sys %.1f, getrusage RUSAGE_THREAD over %ld "
      "calls); wall p50 %.1f us, p99 %.1f us (all classes)\n",
      (user_us + sys_us) / calls, user_us / calls, sys_us / calls, samples,
      Percentile(pooled, 0.50) / ticks_per_ns / 1000,
      Percentile(pooled, 0.99) / ticks_per_ns / 1000);

  // Welch's t per pair and crop.
  const auto m = CroppedMoments(ticks, klass, kClasses);
  std::printf("# %-30s %8s %6s %12s\n", "pair", "max|t|", "crop", "detectable");
  double worst_clean = 0, worst_leak_pair = INFINITY;
  for (int a = 0; a < kClasses; ++a) {
    for (int b = a + 1; b < kClasses; ++b) {
      const PairResult r = ComparePair(m, a, b, ticks_per_ns);
      const double max_t = r.max_t;
      const std::string pair = std::string(kClassNames[a]) + " vs " + kClassNames[b];
      // "detectable": the smallest difference in means this run would have flagged
      // (|t| = 10) in its most sensitive crop.
      std::printf("# %-30s %8.2f %5.1f%% %9.1f ns%s\n", pair.c_str(), max_t, r.crop * 100,
                  r.detectable_ns, (a >= kAsserted || b >= kAsserted) ? "  (info)" : "");
      if (a >= kAsserted || b >= kAsserted) continue;
      const bool involves_leak = a == kRevokedC || b == kRevokedC;
      if (leak_ticks != 0 && involves_leak) worst_leak_pair = std::min(worst_leak_pair, max_t);
      else worst_clean = std::max(worst_clean, max_t);
    }
  }

  // Too few samples would make the t-test pass for want of power.
  constexpr long kMinSamples = 20'000;
  Report(samples >= kMinSamples, "enough samples for the t-test to mean something",
         std::to_string(samples) + " < " + std::to_string(kMinSamples));
  long wrong = 0;
  for (long w : wrong_answers) wrong += w;
  Report(wrong == 0, "every verification gave its class's outcome",
         std::to_string(wrong) + " wrong answers");
  if (leak_ticks == 0 && unpadded) {
    std::printf("# info: without the time floor, max |t| = %.2f (%s)\n", worst_clean,
                worst_clean < kThreshold ? "not told apart" : "told apart: the floor is needed");
  } else if (leak_ticks == 0) {
    char why[64];
    std::snprintf(why, sizeof why, "max |t| = %.2f", worst_clean);
    Report(worst_clean < kThreshold,
           "no pair of refusal classes is told apart by time (|t| < 10 under every crop)", why);
  } else {
    char why[96];
    std::snprintf(why, sizeof why, "smallest max |t| against revoked = %.2f", worst_leak_pair);
    Report(worst_leak_pair >= kThreshold,
           "negative control: a " + std::to_string(static_cast<int>(leak_ns)) +
               " ns leak in one class is caught (|t| >= 10 against every other class)",
           why);
  }
  return g_failures == 0 ? 0 : 1;
}
