// bench_verify: what one verification costs as the store grows.
//
// Builds a throwaway store with N users (one confirmed enrollment and two app passwords
// each, through the real admin API), then times the verification's work for each outcome
// (internal::VerifyUnpadded), Verify() itself with its time floor (verifier.h) for an
// accepted and a wrong password, and the cost of opening the store (what the PAM module
// pays when it opens it). For each: median and 99th percentile of the wall-clock time, and
// the CPU time per call (getrusage RUSAGE_THREAD, user + system, over all the calls): a
// floor that spins costs its whole length in CPU, one that sleeps would not.
// It prints figures; it asserts only that every outcome is the right one, never a time
// (timed assertions flake on busy machines).
//
// Usage: bench_verify [USERS...]   (default: 1000 10000 100000)
#include <liboath/oath.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "admin.h"
#include "password.h"
#include "store_internal.h"
#include "verifier.h"

using namespace apppass;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_verify: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

std::string CurrentCode(const EnrollResult& e) {
  char* raw = nullptr;
  size_t len = 0;
  const std::string b32(e.base32.view());
  if (oath_base32_decode(b32.data(), b32.size(), &raw, &len) != OATH_OK) std::exit(1);
  char otp[7] = {};
  oath_totp_generate(raw, len, kNow, 30, 0, 6, otp);
  std::free(raw);
  return otp;
}

struct Figures {
  double median, p99;  // wall clock, us
  double cpu;          // CPU time per call (user + system), us
};

double CpuUs() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

template <typename F>
Figures Time(int rounds, F&& f) {
  std::vector<double> us;
  us.reserve(rounds);
  const double cpu0 = CpuUs();
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f(i);
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  const double cpu = (CpuUs() - cpu0) / rounds;
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], cpu};
}

void Print(const char* what, const Figures& f) {
  std::printf("  %-40s %8.1f %8.1f %8.1f\n", what, f.median, f.p99, f.cpu);
}

void Run(int users) {
  char tmpl[] = "/tmp/apppass-bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  Status s = Store::Init(dir);
  if (!s.ok()) Die("init", s);
  Store admin;
  if (!(s = Store::Open(dir, Store::Mode::kAdmin, &admin)).ok()) Die("open", s);
  mdb_env_set_flags(apppass::internal::StoreAccess::env(admin).get(), MDB_NOSYNC,
                    1);  // building only; verifiers unaffected

  std::vector<std::string> names, passwords;
  for (int u = 0; u < users; ++u) {
    const std::string user = "user" + std::to_string(u);
    EnrollResult e;
    if (!(s = MfaEnroll(admin, user, "bench", kNow, &e)).ok()) Die("enroll", s);
    if (!(s = MfaConfirm(admin, user, CurrentCode(e), kNow)).ok()) Die("confirm", s);
    for (const char* label : {"phone", "laptop"}) {
      Created c;
      CreateRequest req{.user = user, .name = label, .scopes = {"imap"}};
      if (!(s = CreatePassword(admin, req, kNow, &c)).ok()) Die("create", s);
      if (u < 2000) {  // keep a sample to verify
        names.push_back(user);
        passwords.emplace_back(c.password.view());
      }
    }
  }
  mdb_env_sync(apppass::internal::StoreAccess::env(admin).get(), 1);

  Figures open = Time(2000, [&](int) {
    Store v;
    if (!Store::Open(dir, Store::Mode::kVerify, &v).ok()) std::exit(1);
  });
  Store verify;
  if (!(s = Store::Open(dir, Store::Mode::kVerify, &verify)).ok()) Die("open verify", s);
  const int n = static_cast<int>(passwords.size());
  auto expect = [](const Decision& d, Outcome o) {
    if (d.outcome != o) {
      std::fprintf(stderr, "bench_verify: wrong outcome %s\n",
                   std::string(OutcomeName(d.outcome)).c_str());
      std::exit(1);
    }
  };
  const std::string wrong = "abcd-efgh-jkmn-pqrs-tuvw";
  Figures ok = Time(20000, [&](int i) {
    expect(internal::VerifyUnpadded(verify, names[i % n], passwords[i % n], "imap", kNow),
           Outcome::kAccepted);
  });
  Figures bad = Time(20000, [&](int i) {
    expect(internal::VerifyUnpadded(verify, names[i % n], wrong, "imap", kNow),
           Outcome::kWrongPassword);
  });
  Figures unknown = Time(20000, [&](int i) {
    expect(internal::VerifyUnpadded(verify, "nobody" + std::to_string(i), wrong, "imap", kNow),
           Outcome::kUnknownUser);
  });
  Figures scope = Time(20000, [&](int i) {
    expect(internal::VerifyUnpadded(verify, names[i % n], passwords[i % n], "smtp", kNow),
           Outcome::kOutOfScope);
  });
  // Verify() with its floor: fewer rounds, each takes the floor's whole length.
  Figures floor_ok = Time(5000, [&](int i) {
    expect(Verify(verify, names[i % n], passwords[i % n], "imap", kNow), Outcome::kAccepted);
  });
  Figures floor_bad = Time(5000, [&](int i) {
    expect(Verify(verify, names[i % n], wrong, "imap", kNow), Outcome::kWrongPassword);
  });
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(dir + "/data.mdb", ec);
  std::printf("# %d users, %d passwords, data.mdb %.1f MiB\n", users, users * 2,
              static_cast<double>(bytes) / (1 << 20));
  std::printf("  %-40s %8s %8s %8s\n", "(us)", "p50", "p99", "cpu/call");
  Print("open the store (kVerify)", open);
  Print("work: accepted", ok);
  Print("work: wrong password", bad);
  Print("work: unknown user", unknown);
  Print("work: out of scope", scope);
  const std::string floor = "Verify, " + std::to_string(VerifyFloorNs() / 1000) + " us floor (" +
                            std::string(VerifyFloorMode()) + "): ";
  Print((floor + "accepted").c_str(), floor_ok);
  Print((floor + "wrong").c_str(), floor_bad);
  std::fflush(stdout);
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000, 100000};
  oath_init();
  std::printf(
      "# wall time p50/p99 and CPU time per call (getrusage RUSAGE_THREAD); \"work\" is the "
      "verification without its floor, Verify() pads every call to %lld us (%s)\n",
      static_cast<long long>(VerifyFloorNs() / 1000), std::string(VerifyFloorMode()).c_str());
  for (int n : sizes) Run(n);
  return 0;
}
