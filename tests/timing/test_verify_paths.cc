// test_verify_paths: the answers of the equal-work verifier (common/verifier.cc) on the
// paths it takes to do the same work for every outcome, which ordinary stores rarely
// reach: an empty creds table (a decoy record is decoded), a password whose hash sorts
// after every key (the search wraps to the first record), a miss that lands on a
// corrupt neighbour (must stay a refusal, never "unavailable"), the password's own
// record corrupt (must be "unavailable"), another user's password, and user names that
// sort next to an enrolled one or after all of them. Last, that no call of Verify returns
// before its time floor (verifier.h), whatever its outcome.
//
// Prints "ok - ..." / "not ok - ..." per check; exits 1 if any failed.
#include <liboath/oath.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../lib/report.h"
#include "admin.h"
#include "password.h"
#include "store_internal.h"
#include "verifier.h"

using namespace apppass;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;
using testlib::g_failures;
using testlib::Report;

[[noreturn]] void Die(const std::string& what, const Status& s = Status::Ok()) {
  std::fprintf(stderr, "test_verify_paths: %s%s%s\n", what.c_str(), s.ok() ? "" : ": ",
               s.message().c_str());
  std::exit(2);
}

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

// Counts how many of `n` random (well-formed, never issued) passwords get `want`.
int CountOutcome(const std::string& dir, const std::string& user, int n, Outcome want,
                 std::string* seen) {
  Store v;
  if (Status s = Store::Open(dir, Store::Mode::kVerify, &v); !s.ok()) Die("open verify", s);
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    const SecretBuffer pw = GeneratePassword();
    const Decision d = Verify(v, user, pw.view(), "imap", kNow);
    if (d.outcome == want && d.id.empty() && d.name.empty()) {
      ++hits;
    } else {
      *seen = std::string(OutcomeName(d.outcome)) + (d.id.empty() ? "" : " id=" + d.id);
    }
  }
  return hits;
}

Decision VerifyOnce(const std::string& dir, const std::string& user, std::string_view pw) {
  Store v;
  if (Status s = Store::Open(dir, Store::Mode::kVerify, &v); !s.ok()) Die("open verify", s);
  return Verify(v, user, pw, "imap", kNow);
}

// Writes `value` under `key` in `table` directly (a corrupt record).
void PutRaw(const std::string& dir, MDB_dbi StoreDbs::*table, std::string_view key,
            std::string_view value) {
  Store a;
  Status s = Store::Open(dir, Store::Mode::kAdmin, &a);
  if (!s.ok()) Die("open admin", s);
  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(apppass::internal::StoreAccess::env(a), true, &txn)).ok())
    Die("begin", s);
  if (!(s = txn.Put(apppass::internal::StoreAccess::dbs(a).*table, key, value)).ok()) Die("put", s);
  if (!(s = txn.Commit()).ok()) Die("commit", s);
}

}  // namespace

int main() {
  if (sodium_init() < 0) Die("sodium_init");
  oath_init();
  char tmpl[] = "/tmp/apppass-paths.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string dir = tmpl;
  Status s = Store::Init(dir);
  if (!s.ok()) Die("init", s);
  std::string seen;

  // An empty store: nothing in creds or users.
  Report(CountOutcome(dir, "alice", 16, Outcome::kUnknownUser, &seen) == 16,
         "empty store: unknown-user (a decoy record decoded)", seen);

  // alice: enrolled, no passwords yet.
  Created alice_pw, bob_pw;
  {
    Store a;
    if (!(s = Store::Open(dir, Store::Mode::kAdmin, &a)).ok()) Die("open admin", s);
    for (const char* u : {"alice", "bob"}) {
      EnrollResult e;
      if (!(s = MfaEnroll(a, u, "t", kNow, &e)).ok()) Die("enroll", s);
      if (!(s = MfaConfirm(a, u, CurrentCode(e), kNow)).ok()) Die("confirm", s);
    }
  }
  Report(CountOutcome(dir, "alice", 16, Outcome::kWrongPassword, &seen) == 16,
         "enrolled user, empty creds table: wrong-password", seen);
  {
    Store a;
    if (!(s = Store::Open(dir, Store::Mode::kAdmin, &a)).ok()) Die("open admin", s);
    if (!(s = CreatePassword(a, {.user = "alice", .name = "phone", .scopes = {"imap"}}, kNow,
                             &alice_pw))
             .ok())
      Die("create", s);
    if (!(s = CreatePassword(a, {.user = "bob", .name = "laptop", .scopes = {"imap"}}, kNow,
                             &bob_pw))
             .ok())
      Die("create", s);
  }
  // Two keys: a random hash sorts after both with probability 1/3, so 96 guesses take
  // the wrap-around path (and the ordinary one) many times over.
  Report(CountOutcome(dir, "alice", 96, Outcome::kWrongPassword, &seen) == 96,
         "96 random passwords (some sorting after every key): wrong-password, no id", seen);
  Decision d = VerifyOnce(dir, "alice", alice_pw.password.view());
  Report(d.outcome == Outcome::kAccepted && d.id == alice_pw.cred.id && d.name == "phone",
         "alice's own password: accepted with its id and name",
         std::string(OutcomeName(d.outcome)));
  d = VerifyOnce(dir, "alice", bob_pw.password.view());
  Report(d.outcome == Outcome::kWrongPassword && d.id.empty() && d.name.empty(),
         "bob's password for alice: wrong-password, nothing of bob's copied out",
         std::string(OutcomeName(d.outcome)) + " id=" + d.id);
  // Names next to an enrolled one and after every one.
  for (const char* u : {"alic", "alicf", "alice0", "zzzz", "a"}) {
    d = VerifyOnce(dir, u, alice_pw.password.view());
    Report(d.outcome == Outcome::kUnknownUser && d.id.empty(),
           std::string("alice's password for unknown user '") + u + "': unknown-user",
           std::string(OutcomeName(d.outcome)));
  }

  // Corrupt neighbours: garbage under 64 random keys. Misses land on them often; a
  // record that is not the password's own is never a reason to answer "unavailable".
  for (int i = 0; i < 64; ++i) {
    unsigned char k[kHashBytes];
    randombytes_buf(k, sizeof k);
    PutRaw(dir, &StoreDbs::creds, {reinterpret_cast<char*>(k), sizeof k},
           i % 2 ? "not json" : R"({"v":99})");
  }
  Report(CountOutcome(dir, "alice", 128, Outcome::kWrongPassword, &seen) == 128,
         "128 misses among 64 corrupt records: wrong-password every time", seen);
  d = VerifyOnce(dir, "alice", alice_pw.password.view());
  Report(d.outcome == Outcome::kAccepted, "alice's password still accepted among them",
         std::string(OutcomeName(d.outcome)));

  // The password's own record corrupt: the store cannot answer.
  {
    Store a;
    if (!(s = Store::Open(dir, Store::Mode::kAdmin, &a)).ok()) Die("open admin", s);
    SecretBuffer norm(kMaxPasswordInput);
    if (!NormalizePassword(alice_pw.password.view(), norm).ok()) Die("normalize");
    unsigned char h[kHashBytes];
    a.HashPassword(norm, h);
    LmdbTxn txn;
    if (!(s = LmdbTxn::Begin(apppass::internal::StoreAccess::env(a), true, &txn)).ok())
      Die("begin", s);
    if (!(s = txn.Put(apppass::internal::StoreAccess::dbs(a).creds,
                      {reinterpret_cast<char*>(h), sizeof h}, "{broken"))
             .ok())
      Die("put", s);
    if (!(s = txn.Commit()).ok()) Die("commit", s);
  }
  d = VerifyOnce(dir, "alice", alice_pw.password.view());
  Report(d.outcome == Outcome::kUnavailable && d.id.empty(),
         "alice's own record corrupt: unavailable", std::string(OutcomeName(d.outcome)));
  d = VerifyOnce(dir, "bob", bob_pw.password.view());
  Report(d.outcome == Outcome::kAccepted, "bob unaffected: accepted",
         std::string(OutcomeName(d.outcome)));

  // The time floor: a lower bound, so this cannot flake on a busy machine.
  {
    // Set at build time (APPPASS_VERIFY_FLOOR_US, default 100); 0 only in the fuzz build,
    // which does not run this test.
    Report(VerifyFloorNs() > 0,
           "the time floor is set (" + std::to_string(VerifyFloorNs() / 1000) + " us)", "0");
    Store v, closed;
    if (!(s = Store::Open(dir, Store::Mode::kVerify, &v)).ok()) Die("open verify", s);
    auto ns = [] {
      timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    };
    std::int64_t shortest = INT64_MAX;
    std::string outcomes;
    for (int i = 0; i < 200; ++i) {
      const std::string pw =
          i % 4 == 0 ? std::string(bob_pw.password.view()) : std::string(GeneratePassword().view());
      const Store& st = i % 4 == 3 ? closed : v;
      const std::string user = i % 4 == 2 ? "nobody" : "bob";
      const std::int64_t t0 = ns();
      const Decision dd = Verify(st, user, pw, "imap", kNow);
      shortest = std::min(shortest, ns() - t0);
      if (i < 4) outcomes += std::string(i ? ", " : "") + std::string(OutcomeName(dd.outcome));
    }
    Report(shortest >= VerifyFloorNs(),
           "no verification returns before the floor (" + outcomes + ")",
           "shortest " + std::to_string(shortest) + " ns");
  }

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return g_failures == 0 ? 0 : 1;
}
