#include "verifier.h"

#include <sodium.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "password.h"
#include "records.h"
#include "text.h"

namespace apppass {

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kUnknownUser: return "unknown-user";
    case Outcome::kWrongPassword: return "wrong-password";
    case Outcome::kRevoked: return "revoked";
    case Outcome::kExpired: return "expired";
    case Outcome::kOutOfScope: return "out-of-scope";
    case Outcome::kBadInput: return "bad-input";
    case Outcome::kUnavailable: return "unavailable";
  }
  return "unavailable";
}

namespace {

// What a verification decodes when the creds table is empty.
constexpr std::string_view kDecoyRecord =
    R"({"created":1800000000,"expires":null,"id":"00000000","name":"decoy","revoked":null,)"
    R"("scopes":["imap"],"user":"decoy","v":1})";
// What a verification decodes when the users table is empty.
constexpr std::string_view kDecoyUser =
    R"({"confirmed":null,"enrolled":1800000000,"last_step":-1,"mfa":"none","secret":"",)"
    R"("source":"apppass","user":"decoy","v":1})";
// The record with the null or integer in "expires" and "revoked" swapped (an integer of
// ten digits where it has null, null where it has an integer); a record of another
// layout comes back as it is. Decoding a record and its flipped copy decodes one
// integer and one null per field whatever the credential's state, in the same
// surroundings: a fixed complement decodes measurably faster than a stored record.
std::string Flipped(std::string_view rec) {
  std::string out;
  out.reserve(rec.size() + 16);
  std::size_t pos = 0;
  static constexpr std::string_view kFields[] = {R"("expires":)", R"("revoked":)"};
  for (const std::string_view field : kFields) {
    std::size_t at = rec.find(field, pos);
    if (at == std::string_view::npos) break;
    at += field.size();
    out.append(rec.substr(pos, at - pos));
    std::size_t end = at;
    while (end < rec.size() && rec[end] != ',' && rec[end] != '}') ++end;
    out.append(rec.substr(at, end - at) == "null" ? "1800000000" : "null");
    pos = end;
  }
  out.append(rec.substr(pos));
  return out;
}

// Whether two byte strings are equal, comparing a.size() bytes whatever b holds.
bool SameBytes(std::string_view a, std::string_view b) {
  const bool same_size = a.size() == b.size();
  const std::string_view other = same_size ? b : a;  // a against itself: no match
  const bool same_bytes = sodium_memcmp(a.data(), other.data(), a.size()) == 0;
  return same_bytes && same_size;
}

}  // namespace

// Every refusal does the same work, so the time a verification takes cannot tell an
// unknown user from a wrong password, nor a wrong password from one that is revoked,
// expired or out of scope (OpenSSH CVE-2016-6210 is what happens otherwise):
//   - each table is searched twice, so that every verification makes one search that
//     finds its key and one that does not (LMDB ends a search early on an exact match):
//     first the asked key, then on a hit a key just after it that is never there, on a
//     miss the neighbour the first search landed on (both on the path the first search
//     warmed; a search elsewhere would miss the CPU caches and cost far more);
//   - the creds search always lands on a record (this password's, or its neighbour),
//     whose tag is checked and which is decoded, and so is a copy of it with the null or
//     integer in "revoked" and "expires" swapped (they decode at different speeds), so
//     every state costs the same;
//   - keys and the user are compared in constant time, every state flag and scope is
//     computed, id and name are always copied, and the outcome is picked from a table.
// What remains (the decoder's dependence on the record's length, and a few tens of
// nanoseconds between outcomes) is hidden by Verify's time floor below. tests/timing
// measures all of this; docs/reliability.md, "Timing", has the figures.
namespace internal {

Decision VerifyUnpadded(const Store& store, std::string_view user, std::string_view password,
                        std::string_view service, std::int64_t now) {
  Decision d;
  if (!store.is_open()) {
    d.detail = "store not open";
    return d;  // kUnavailable
  }
  Status s = ValidateUserName(user);
  if (!s.ok()) {
    d.outcome = Outcome::kBadInput;
    d.detail = s.message();
    return d;
  }
  if (password.empty() || password.size() > kMaxPasswordInput ||
      password.find('\0') != std::string_view::npos) {
    d.outcome = Outcome::kBadInput;
    d.detail = password.empty()                      ? "empty password"
               : password.size() > kMaxPasswordInput ? "password longer than 512 bytes"
                                                     : "password contains a NUL byte";
    return d;
  }
  SecretBuffer normalized(kMaxPasswordInput);
  unsigned char hash[kHashBytes] = {};
  if (!normalized.valid()) {
    d.detail = "out of secure memory";
    return d;  // kUnavailable
  }
  // A string that cannot be an app password still costs the same lookups below (it
  // hashes to a key that is never found), so its timing tells nothing more.
  const bool well_formed = NormalizePassword(password, normalized).ok();
  if (!well_formed) normalized.assign("\x01not-an-app-password");
  store.HashPassword(normalized, hash);
  normalized.clear();

  StoreTxn txn;
  s = store.Begin(false, &txn);
  if (!s.ok()) {
    sodium_memzero(hash, sizeof hash);
    d.detail = s.message();
    return d;
  }
  auto fail = [&d](int rc) {
    d.detail = LmdbStatus(rc, "reading the store").message();
    return d;  // kUnavailable
  };

  // creds: this password's record, or its neighbour.
  LmdbCursor creds = txn.Cursor(Table::kCreds), creds2 = txn.Cursor(Table::kCreds);
  MDB_val key{kHashBytes, hash}, val{};
  int rc = creds.SeekOrFirst(&key, &val);
  const bool empty = rc == MDB_NOTFOUND;  // no credential at all
  if (rc != MDB_SUCCESS && !empty) {
    sodium_memzero(hash, sizeof hash);
    return fail(rc);
  }
  const bool key_match =
      !empty && SameBytes({reinterpret_cast<const char*>(hash), kHashBytes}, FromVal(key));
  // The key the search landed on, for the record's tag (the decoy's is never valid). It
  // points into the read transaction's pages, which stay put until it ends.
  static constexpr char kNoKey[kHashBytes] = {};
  const std::string_view landed = empty ? std::string_view(kNoKey, kHashBytes) : FromVal(key);
  sodium_memzero(hash, sizeof hash);
  // The balancing search: on a miss the neighbour the first one landed on, on a hit the
  // key followed by a zero byte (sorts right after it, never there).
  unsigned char other[kHashBytes + 1] = {};
  if (!empty && key.mv_size == kHashBytes) std::memcpy(other, key.mv_data, kHashBytes);
  MDB_val key2{kHashBytes + static_cast<std::size_t>(key_match), other}, val2{};
  rc = creds2.SeekOrFirst(&key2, &val2);
  sodium_memzero(other, sizeof other);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return fail(rc);

  // users: the same two searches.
  LmdbCursor users = txn.Cursor(Table::kUsers), users2 = txn.Cursor(Table::kUsers);
  MDB_val ukey = ToVal(user), uval{};
  rc = users.SeekOrFirst(&ukey, &uval);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return fail(rc);
  const bool user_found = rc == MDB_SUCCESS && SameBytes(user, FromVal(ukey));
  // The enrollment record the search landed on (the user's, or its neighbour), decoded
  // either way: whether the user has confirmed MFA (Decision::enrolled) costs the same.
  const std::string_view user_rec = rc == MDB_SUCCESS ? FromVal(uval) : kDecoyUser;
  // On a hit (or an empty table) the user followed by a byte no user name contains,
  // else the neighbour the first search landed on.
  const bool probe_absent = user_found || rc != MDB_SUCCESS;
  char ubuf[kMaxUserLength + 1];
  const std::string_view from = probe_absent ? user : FromVal(ukey);
  const std::size_t ulen = std::min(from.size(), kMaxUserLength);
  std::memcpy(ubuf, from.data(), ulen);
  ubuf[ulen] = '\x01';
  MDB_val ukey2{ulen + static_cast<std::size_t>(probe_absent), ubuf}, uval2{};
  rc = users2.SeekOrFirst(&ukey2, &uval2);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return fail(rc);

  // Decode the record under the cursor whether or not it is ours, and its flipped copy.
  // A neighbour that does not decode only matters if it was ours: then the store is
  // corrupt (unavailable).
  const std::string_view rec = empty ? kDecoyRecord : FromVal(val);
  // A record that is damaged (record_tag.h) is never read as a credential: a flipped bit
  // in "revoked" must not make a revoked password valid.
  const bool intact = store.CredentialIntact(landed, rec);
  if (key_match && !intact) {
    d.detail =
        "the credential record is damaged (its integrity tag does not match); run 'apppass check'";
    return d;  // kUnavailable
  }
  Credential c;
  const Status decoded = DecodeCredential(rec, &c);
  if (key_match && !decoded.ok()) {
    d.detail = decoded.message();
    return d;
  }
  {
    Credential scratch;
    (void)DecodeCredential(Flipped(rec), &scratch);
  }
  const bool decoded_ok = decoded.ok();
  const bool user_match = SameBytes(user, c.user);
  const bool match = key_match && intact && decoded_ok && well_formed && user_match;

  const bool revoked = c.revoked.has_value();
  const bool expired = c.expires.has_value() && c.expires.value_or(0) <= now;
  bool in_scope = c.scopes.empty();
  for (const auto& sc : c.scopes) in_scope |= sc == service;  // no early exit
  // [revoked][expired][in scope]; a miss is [user enrolled].
  static constexpr Outcome kHit[2][2][2] = {
      {{Outcome::kOutOfScope, Outcome::kAccepted}, {Outcome::kExpired, Outcome::kExpired}},
      {{Outcome::kRevoked, Outcome::kRevoked}, {Outcome::kRevoked, Outcome::kRevoked}}};
  static constexpr Outcome kMiss[2] = {Outcome::kUnknownUser, Outcome::kWrongPassword};
  const Outcome hit = kHit[revoked][expired][in_scope];
  const Outcome miss = kMiss[user_found];
  d.id = c.id;
  d.name = c.name;
  if (!match) {
    d.id.clear();
    d.name.clear();
  }
  d.outcome = match ? hit : miss;
  UserRecord u;
  const Status user_decoded = DecodeUser(user_rec, &u);
  if (user_found && !user_decoded.ok()) {
    // Fail closed: whether this user must use MFA cannot be read.
    d.id.clear();
    d.name.clear();
    d.outcome = Outcome::kUnavailable;
    d.detail = user_decoded.message();
    return d;
  }
  d.enrolled = user_found && u.mfa == MfaState::kConfirmed;
  return d;
}

}  // namespace internal

#ifndef APPPASS_VERIFY_FLOOR_US
#error "APPPASS_VERIFY_FLOOR_US is set by common/CMakeLists.txt"
#endif
#ifndef APPPASS_VERIFY_FLOOR_MODE
#error "APPPASS_VERIFY_FLOOR_MODE is set by common/CMakeLists.txt"
#endif
std::int64_t VerifyFloorNs() { return std::int64_t{APPPASS_VERIFY_FLOOR_US} * 1000; }

namespace {

// How Verify waits out the floor, chosen at build time (APPPASS_VERIFY_FLOOR_MODE: 0 spin,
// 1 sleep, 2 hybrid; CMake's cache variable of the same name takes the words). Spin is
// the default: the sleep blinds the timing test's negative control and saved no CPU where
// measured, the hybrid saved 2-3 % and weakened the test. The other two stay so that
// benchmarks can compare them on another machine (docs/design.md, "Time floor: spin or
// sleep", has the figures).
enum class FloorMode { kSpin = 0, kSleep = 1, kHybrid = 2 };
constexpr FloorMode kFloorMode = static_cast<FloorMode>(APPPASS_VERIFY_FLOOR_MODE);
static_assert(kFloorMode == FloorMode::kSpin || kFloorMode == FloorMode::kSleep ||
              kFloorMode == FloorMode::kHybrid);

std::int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SpinUntil(std::int64_t deadline) {
  while (MonotonicNs() < deadline) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

// (SleepUntil and SleepThenSpin are [[maybe_unused]]: a build uses one mode, and clang
// warns about the others' functions.)
// Sleeps until CLOCK_MONOTONIC reads `deadline` (absolute: a signal only resumes it). It
// wakes up late by the thread's timer slack (50 us by default) and the wake-up latency.
[[maybe_unused]] void SleepUntil(std::int64_t deadline) {
  const timespec ts{static_cast<time_t>(deadline / 1'000'000'000),
                    static_cast<long>(deadline % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// Hybrid: sleep until kHybridMarginNs before the deadline, with the thread's timer slack
// lowered to kHybridSlackNs for that sleep only (restored after: it belongs to the calling
// program; where prctl is refused, e.g. by a seccomp filter, the sleep keeps the thread's
// slack and simply wakes later), then spin the rest, so that most calls still end on a
// spin. The margin is what the wake-up needed where it was measured: at 30 us 15-20 % of
// the wakes came after the deadline; at 20 us 97 %, which blinded the negative control in
// one run of five.
constexpr std::int64_t kHybridMarginNs = 30'000;
constexpr int kHybridSlackNs = 1;

[[maybe_unused]] void SleepThenSpin(std::int64_t deadline) {
  if (deadline - MonotonicNs() > kHybridMarginNs) {
    const int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    // 0 or less: an error, or a slack that setting would not restore (0 resets to the
    // default); left alone.
    const bool lower =
        old > kHybridSlackNs &&
        prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kHybridSlackNs), 0, 0, 0) == 0;
    SleepUntil(deadline - kHybridMarginNs);
    if (lower) (void)prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(old), 0, 0, 0);
  }
  SpinUntil(deadline);
}

}  // namespace

std::string_view VerifyFloorMode() {
  switch (kFloorMode) {
    case FloorMode::kSpin: return "spin";
    case FloorMode::kSleep: return "sleep";
    case FloorMode::kHybrid: return "hybrid";
  }
  return "spin";
}

// The equal-work verifier above leaves differences of nanoseconds between outcomes (LMDB's
// search and the JSON decoder are not constant time). So every call returns no earlier
// than VerifyFloorNs() after it started: the time then says only whether the work ran
// over the floor (a preempted or cold call, whatever its outcome).
// Spinning by default, not sleeping (measured: docs/design.md, "Time floor: spin or
// sleep"): a sleep wakes up 20-90 us late, noise that also hides a 50 ns leak from
// tests/timing's negative control, and on the machine measured it saved no CPU (the
// sleep and wake-up cost the thread ~25 us of CPU themselves, and the work after a
// wake-up runs colder).
// Where the spin's last clock read lands depends on the work's length modulo the loop's
// period, so the deadline is moved by a uniform random 0..kFloorDitherNs ns, many loop
// periods: the read that ends the spin falls at a uniform phase whatever the work cost.
// docs/reliability.md, "Timing", has the measurements behind the dither.
constexpr std::uint32_t kFloorDitherNs = 256;

Decision Verify(const Store& store, std::string_view user, std::string_view password,
                std::string_view service, std::int64_t now) {
  const std::int64_t floor_ns = VerifyFloorNs();  // 0 only in the fuzzing build
  const std::int64_t deadline =
      MonotonicNs() + (floor_ns > 0 ? floor_ns + randombytes_uniform(kFloorDitherNs) : 0);
  Decision d = internal::VerifyUnpadded(store, user, password, service, now);
  if constexpr (kFloorMode == FloorMode::kSleep) {
    if (MonotonicNs() < deadline) SleepUntil(deadline);
  } else if constexpr (kFloorMode == FloorMode::kHybrid) {
    SleepThenSpin(deadline);
  } else {
    SpinUntil(deadline);
  }
  return d;
}

}  // namespace apppass
