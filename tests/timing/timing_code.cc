// timing_code: a dudect-style test that the TOTP step of a login (CheckLoginCode,
// second_factor.h) takes the same time for a wrong code as for a reused one, so its time
// cannot tell an attacker which codes a user recently used (a replayed code, one seen
// over a shoulder or in a log) from codes that were never valid.
//
//   timing_code [--samples N] [--max-seconds S] [--users U] [--leak-ns NS] [--sync]
//
// It builds a throwaway store with the real admin API (U users with a confirmed
// enrollment and ten recovery codes each), opens it for administration as the PAM module
// does, pins itself to one CPU, warms up, then times N calls of CheckLoginCode (fewer if
// S seconds of measuring pass first), the class of each drawn at random (never in
// blocks, so drift and noise fall on both alike):
//
//   reused-code   the code a call just before (untimed) accepted: same step, spent
//   wrong-code    six digits that are none of the window's codes
//
// Before every timed call the same untimed call puts the user in the same state for both
// classes: the user's clock moves on by a throttle window and a step, and the current
// code is accepted (so the step is spent and no failures are counted). The timed call
// then does, for either class, one write transaction that reads the record, opens the
// secret, computes and compares every step of the window and every recovery hash, counts
// one failure and commits it. The store is opened with MDB_NOSYNC unless --sync: both
// classes commit the same pages, and an fsync (milliseconds, varying with the disk) would
// only bury a difference of nanoseconds under noise.
//
// Each call is timed with the cycle counter (dudect.h) and includes destroying the
// CodeDecision, as a caller pays it. Analysis as timing_verify does it (dudect.h): Welch's
// t between the two classes on the uncropped samples and on the samples below several
// percentiles; they must keep |t| < 10 under every crop. Each call's outcome is checked.
//
// --leak-ns NS is the negative control: the reused-code class spins NS ns more inside the
// timed region, and the program succeeds only if the test then reports |t| >= 10, i.e. it
// proves the test can see a leak of that size.
//
// Prints both distributions (count, p10, median, p90, p99, mean in ns), the largest |t|
// and the smallest difference in means the run could have detected (10 standard errors).
// "ok - ..." / "not ok - ..." per check; exit 1 if any failed.
//
// Not for sanitizer builds: ASan and UBSan change what each path costs.
#include <liboath/oath.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../lib/report.h"
#include "admin.h"
#include "code_throttle.h"
#include "dudect.h"
#include "second_factor.h"
#include "store_internal.h"
#include "totp.h"

using namespace apppass;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

using testlib::g_failures;
using testlib::Report;

[[noreturn]] void Die(const std::string& what, const Status& s = Status::Ok()) {
  std::fprintf(stderr, "timing_code: %s%s%s\n", what.c_str(), s.ok() ? "" : ": ",
               s.message().c_str());
  std::exit(2);
}

enum Class : std::uint8_t { kReusedC, kWrongC, kClasses };
constexpr std::array<const char*, kClasses> kClassNames = {"reused-code", "wrong-code"};
constexpr std::array<CodeOutcome, kClasses> kExpected = {CodeOutcome::kReusedCode,
                                                         CodeOutcome::kWrongCode};

// The code of raw `secret` at `t`, computed with liboath apart from the code under test.
std::string CodeAt(const std::string& secret, std::int64_t t) {
  char otp[7] = {};
  if (oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(t), kTotpStep, 0,
                         kTotpDigits, otp) != OATH_OK)
    Die("oath_totp_generate");
  return otp;
}

// Six random digits that are none of the codes of `t`'s window.
std::string WrongAt(const std::string& secret, std::int64_t t) {
  const std::string a = CodeAt(secret, t - kTotpStep), b = CodeAt(secret, t),
                    c = CodeAt(secret, t + kTotpStep);
  for (;;) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%06u", randombytes_uniform(1'000'000));
    if (buf != a && buf != b && buf != c) return buf;
  }
}

std::string UserName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%07d", i);
  return buf;
}

struct Users {
  std::vector<std::string> names, secrets;
};

Users BuildStore(const std::string& dir, int users) {
  Status s = Store::Init(dir);
  if (!s.ok()) Die("init", s);
  Store admin;
  if (!(s = Store::Open(dir, Store::Mode::kAdmin, &admin)).ok()) Die("open admin", s);
  mdb_env_set_flags(apppass::internal::StoreAccess::env(admin).get(), MDB_NOSYNC, 1);
  Users out;
  for (int u = 0; u < users; ++u) {
    const std::string user = UserName(u);
    EnrollResult e;
    if (!(s = MfaEnroll(admin, user, "timing", kNow, &e)).ok()) Die("enroll", s);
    char* raw = nullptr;
    size_t len = 0;
    const std::string b32(e.base32.view());
    if (oath_base32_decode(b32.data(), b32.size(), &raw, &len) != OATH_OK) Die("base32");
    const std::string secret(raw, len);
    std::free(raw);
    std::vector<SecretBuffer> codes;
    if (!(s = MfaConfirm(admin, user, CodeAt(secret, kNow), kNow, &codes)).ok()) Die("confirm", s);
    if (codes.size() != kMaxRecoveryCodes) Die("confirm made no recovery codes");
    out.names.push_back(user);
    out.secrets.push_back(secret);
  }
  if (mdb_env_sync(apppass::internal::StoreAccess::env(admin).get(), 1) != MDB_SUCCESS) Die("sync");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long samples = 200'000;
  int users = 64;
  double leak_ns = 0;
  double max_seconds = 0;  // 0: no limit
  bool sync = false;
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
    } else if (a == "--sync") {
      sync = true;
    } else {
      std::fprintf(stderr,
                   "usage: timing_code [--samples N] [--max-seconds S] [--users U] "
                   "[--leak-ns NS] [--sync]\n");
      return 2;
    }
  }
  if (samples < 1000 || users < 1) Die("need --samples >= 1000 and --users >= 1");
  if (sodium_init() < 0) Die("sodium_init");
  oath_init();
  const int cpu = timing::PinToCurrentCpu();

  char tmpl[] = "/tmp/apppass-timing-code.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string dir = tmpl;
  const std::uint64_t build0 = timing::MonotonicNs();
  const Users pool = BuildStore(dir, users);
  const double build_s = static_cast<double>(timing::MonotonicNs() - build0) / 1e9;
  Store store;
  if (Status s = Store::Open(dir, Store::Mode::kAdmin, &store); !s.ok()) Die("open admin", s);
  if (!sync) mdb_env_set_flags(apppass::internal::StoreAccess::env(store).get(), MDB_NOSYNC, 1);

  const double ticks_per_ns = timing::CalibrateTicksPerNs();
  const auto leak_ticks = static_cast<std::uint64_t>(leak_ns * ticks_per_ns);

  // Each user's clock: a throttle window and a step on at every use, so every timed call
  // starts from the same state (no failures counted, the current step just spent).
  std::vector<std::int64_t> clock(static_cast<std::size_t>(users), kNow);
  // The inputs of each call are copied into the same buffers, of the same length for both
  // classes, before the clock starts.
  std::string user_buf, code_buf;
  user_buf.reserve(64);
  code_buf.reserve(64);

  std::vector<std::uint32_t> ticks(static_cast<std::size_t>(samples));
  std::vector<std::uint8_t> klass(static_cast<std::size_t>(samples));
  std::array<long, kClasses> wrong_answers{};
  long setup_failures = 0;
  const long warmup = std::max<long>(2'000, samples / 20);
  const std::uint64_t run0 = timing::MonotonicNs();
  const auto budget_ns = static_cast<std::uint64_t>(max_seconds * 1e9);
  bool cut = false;
  for (long i = -warmup; i < samples; ++i) {
    if (budget_ns != 0 && i > 0 && i % 1024 == 0 && timing::MonotonicNs() - run0 > budget_ns) {
      samples = i;
      cut = true;
      break;
    }
    const int c = static_cast<int>(randombytes_uniform(kClasses));
    const std::size_t u = randombytes_uniform(static_cast<std::uint32_t>(users));
    const std::int64_t t = clock[u] += kCodeFailureWindow + kTotpStep;
    const std::string& secret = pool.secrets[u];
    const std::string now_code = CodeAt(secret, t);
    user_buf.assign(pool.names[u]);
    // The same state for both classes: the current code accepted, its step spent.
    if (CheckLoginCode(store, user_buf, now_code, t).outcome != CodeOutcome::kAccepted)
      ++setup_failures;
    // Both codes made for both classes: the work before the clock starts (liboath, the
    // caches it leaves) is the same whichever is timed.
    const std::string wrong_code = WrongAt(secret, t);
    code_buf.assign(c == kReusedC ? now_code : wrong_code);
    // Decided before the clock starts: a branch on the class inside the timed region
    // would itself be mispredicted for one class only.
    const std::uint64_t spin = c == kReusedC ? leak_ticks : 0;
    CodeOutcome got;
    const std::uint64_t t0 = timing::Ticks();
    {
      const CodeDecision d = CheckLoginCode(store, user_buf, code_buf, t);
      got = d.outcome;
      if (spin != 0) timing::Spin(spin);
    }
    const std::uint64_t t1 = timing::Ticks();
    if (got != kExpected[c]) ++wrong_answers[c];
    if (i < 0) continue;  // warm-up: caches, branch predictors, page faults
    ticks[static_cast<std::size_t>(i)] =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(t1 - t0, UINT32_MAX));
    klass[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c);
  }
  const double run_s = static_cast<double>(timing::MonotonicNs() - run0) / 1e9;
  ticks.resize(static_cast<std::size_t>(samples));
  klass.resize(static_cast<std::size_t>(samples));
  store = Store();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  const std::string where = cpu >= 0 ? "pinned to CPU " + std::to_string(cpu) : "not pinned";
  const std::string control =
      leak_ticks ? ", control: reused-code spins " + std::to_string(std::lround(leak_ns)) + " ns"
                 : "";
  std::printf(
      "# %ld samples%s (+%ld warm-up), %d users, store built in %.1f s, measured in %.1f s, "
      "%s, %.3f ticks/ns, %s%s\n",
      samples, cut ? " (time limit reached)" : "", warmup, users, build_s, run_s, where.c_str(),
      ticks_per_ns, sync ? "fsync on commit" : "MDB_NOSYNC", control.c_str());

  timing::PrintDistributions(ticks, klass, kClassNames.data(), kClasses, ticks_per_ns);
  const auto m = timing::CroppedMoments(ticks, klass, kClasses);
  const timing::PairResult r = timing::ComparePair(m, kReusedC, kWrongC, ticks_per_ns);
  std::printf("# %-30s %8s %6s %12s\n", "pair", "max|t|", "crop", "detectable");
  std::printf("# %-30s %8.2f %5.1f%% %9.1f ns\n", "reused-code vs wrong-code", r.max_t,
              r.crop * 100, r.detectable_ns);

  // Too few samples would make the t-test pass for want of power.
  constexpr long kMinSamples = 20'000;
  Report(samples >= kMinSamples, "enough samples for the t-test to mean something",
         std::to_string(samples) + " < " + std::to_string(kMinSamples));
  Report(setup_failures == 0, "every setup call accepted the current code",
         std::to_string(setup_failures) + " not accepted");
  const long wrong = wrong_answers[kReusedC] + wrong_answers[kWrongC];
  Report(wrong == 0, "every timed call gave its class's outcome",
         std::to_string(wrong) + " wrong answers");
  char why[64];
  std::snprintf(why, sizeof why, "max |t| = %.2f", r.max_t);
  if (leak_ticks == 0)
    Report(r.max_t < timing::kThreshold,
           "a reused and a wrong code are not told apart by time (|t| < 10 under every crop)", why);
  else
    Report(r.max_t >= timing::kThreshold,
           "negative control: a " + std::to_string(static_cast<int>(leak_ns)) +
               " ns leak in the reused-code class is caught (|t| >= 10)",
           why);
  return g_failures == 0 ? 0 : 1;
}
