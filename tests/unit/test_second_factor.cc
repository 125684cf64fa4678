// Unit tests of second_factor.h: the TOTP step of a login. Every outcome and what it
// writes (a refusal that is no attempt writes nothing; a wrong or reused code counts one
// failure; a right code spends its step; a recovery code is removed), the replay rule
// across processes (two processes racing one code: exactly one accepted, the other
// reused-code), the throttle's window through this way in, and recovery codes: typed
// loosely, bound to the user, used once, voided by new ones, removed by a reset.
// Codes are computed with liboath (test::TotpAt). The fixture is store_fixture.h: alice
// is confirmed at kNow, so kNow's step is spent; she has no recovery codes until a test
// makes them.

#include "second_factor.h"

#include "code_throttle.h"
#include "recovery_codes.h"
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

constexpr std::int64_t kT1 = kNow + 30, kT2 = kNow + 60, kT3 = kNow + 90;

CodeDecision Check(const Store& store, std::string_view user, std::string_view code,
                   std::int64_t now) {
  return CheckLoginCode(store, user, code, now);
}

#define ASSERT_CODE_OUTCOME(d, want)                                                            \
  do {                                                                                          \
    const ::apppass::CodeDecision& d_ = (d);                                                    \
    if (d_.outcome != (want))                                                                   \
      fail_msg("%s: expected %s, got %s (%s)", #d,                                              \
               std::string(::apppass::CodeOutcomeName(want)).c_str(),                           \
               std::string(::apppass::CodeOutcomeName(d_.outcome)).c_str(), d_.detail.c_str()); \
  } while (0)

std::string RawUser(const Store& store, const std::string& user) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(internal::StoreAccess::env(store), false, &txn));
  std::string_view v;
  const Status s = txn.Get(internal::StoreAccess::dbs(store).users, user, &v);
  if (s.IsNotFound()) return "<none>";
  ASSERT_OK(s);
  return std::string(v);
}

void PutRawUser(const Store& store, const std::string& user, const std::string& rec) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(internal::StoreAccess::env(store), true, &txn));
  ASSERT_OK(txn.Put(internal::StoreAccess::dbs(store).users, user, rec));
  ASSERT_OK(txn.Commit());
}

UserRecord UserOf(const Store& store, const std::string& user) {
  UserRecord u;
  ASSERT_OK(MfaGet(store, user, &u));
  return u;
}

std::vector<std::string> MakeCodes(const Store& store, const std::string& user,
                                   std::int64_t now = kNow) {
  std::vector<SecretBuffer> codes;
  ASSERT_OK(MfaRecoveryCodes(store, user, now, &codes));
  std::vector<std::string> out;
  for (const auto& c : codes) out.emplace_back(c.view());
  return out;
}

// Checks `code` for `user`: outcome `want`, and `user`'s record unchanged.
void ExpectWritesNothing(const Store& store, const std::string& user, std::string_view code,
                         std::int64_t now, CodeOutcome want) {
  const std::string before = RawUser(store, user);
  ASSERT_CODE_OUTCOME(Check(store, user, code, now), want);
  assert_string_equal(RawUser(store, user).c_str(), before.c_str());
}

void test_accepted(void** state) {
  Fixture& f = Fx(state);
  // Two failures first: a right code clears them.
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, kT1), kT1),
                      CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, kT1), kT1),
                      CodeOutcome::kWrongCode);
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 2);
  const CodeDecision d = Check(f.admin, "alice", test::TotpAt(f.secret, kT1), kT1);
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kAccepted);
  assert_true(d.detail.empty());
  assert_int_equal(d.recovery_codes_left, -1);
  const UserRecord u = UserOf(f.admin, "alice");
  assert_int_equal(u.last_step, kT1 / kTotpStep);
  assert_int_equal(u.code_failures, 0);
  assert_int_equal(u.code_window_start, 0);
  // Typed with spaces, as some apps show it ("123 456").
  std::string spaced = test::TotpAt(f.secret, kT2);
  spaced.insert(3, " ");
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", " " + spaced + " ", kT2), CodeOutcome::kAccepted);
  assert_int_equal(UserOf(f.admin, "alice").last_step, kT2 / kTotpStep);
}

// One step of drift either way, no more.
void test_drift(void** state) {
  Fixture& f = Fx(state);
  const std::int64_t now = kNow + 300;
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, now - 30), now),
                      CodeOutcome::kAccepted);
  assert_int_equal(UserOf(f.admin, "alice").last_step, (now - 30) / kTotpStep);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, now + 30), now),
                      CodeOutcome::kAccepted);
  assert_int_equal(UserOf(f.admin, "alice").last_step, (now + 30) / kTotpStep);
  const std::int64_t later = now + 600;
  for (std::int64_t off : {-60, 60, -90, 90}) {
    const std::string code = test::TotpAt(f.secret, later + off);
    // A two-step-old code can equal one of the window's by chance (1 in 10^6 per step).
    if (code == test::TotpAt(f.secret, later) || code == test::TotpAt(f.secret, later - 30) ||
        code == test::TotpAt(f.secret, later + 30))
      continue;
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", code, later), CodeOutcome::kWrongCode);
  }
}

// A spent step is never accepted again: the same code, or the code of an earlier step
// still inside the window, is reused-code, and counts as a failure.
void test_reused(void** state) {
  Fixture& f = Fx(state);
  // The confirmation's code (kNow's step) was spent by MfaConfirm.
  CodeDecision d = Check(f.admin, "alice", test::TotpAt(f.secret, kNow), kNow + 1);
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kReusedCode);
  assert_true(d.detail.empty());
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 1);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT1), kT1),
                      CodeOutcome::kAccepted);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT1), kT1),
                      CodeOutcome::kReusedCode);
  // The next step's code, spent early (a clock ahead), spends the current one too.
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT2 + 30), kT2),
                      CodeOutcome::kAccepted);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT2), kT2),
                      CodeOutcome::kReusedCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT1), kT2),
                      CodeOutcome::kReusedCode);
  const UserRecord u = UserOf(f.admin, "alice");
  assert_int_equal(u.code_failures, 2);  // the accepted code in between cleared the first
  assert_int_equal(u.last_step, (kT2 + 30) / kTotpStep);
}

void test_wrong(void** state) {
  Fixture& f = Fx(state);
  const std::string right = test::TotpAt(f.secret, kT1);
  // Malformed input is a wrong code too (it was typed): counted.
  const std::vector<std::string> wrong = {WrongCode(f.secret, kT1),
                                          right.substr(0, 5),
                                          right + "0",
                                          "abcdef",
                                          "      ",
                                          "-",
                                          right.substr(0, 3) + "-" + right.substr(3),
                                          right + "\n",
                                          "\x7f\x80\xff",
                                          "0x1234"};
  int n = 0;
  for (const auto& code : wrong) {
    const CodeDecision d = Check(f.admin, "alice", code, kT1 + 600 * n);  // a new window each
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kWrongCode);
    assert_true(d.detail.empty());
    const UserRecord u = UserOf(f.admin, "alice");
    assert_int_equal(u.code_failures, 1);
    assert_int_equal(u.code_window_start, kT1 + 600 * n);
    assert_int_equal(u.last_step, kNow / kTotpStep);  // nothing spent
    ++n;
  }
  // The right code still works afterwards (nothing was spent).
  const std::int64_t t = kT1 + 600 * n;
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, t), t),
                      CodeOutcome::kAccepted);
}

// No confirmed enrollment: not-enrolled, nothing written (no record made for an unknown
// name, a pending one untouched), whatever the code.
void test_not_enrolled(void** state) {
  Fixture& f = Fx(state);
  ExpectWritesNothing(f.admin, "bob", "123456", kT1, CodeOutcome::kNotEnrolled);
  ExpectWritesNothing(f.admin, "bob", "abcd-efgh-jkmn", kT1, CodeOutcome::kNotEnrolled);
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "carol", "test", kNow, &er));
  const std::string carol = test::Base32Decode(er.base32.view());
  ExpectWritesNothing(f.admin, "carol", test::TotpAt(carol, kT1), kT1, CodeOutcome::kNotEnrolled);
  ExpectWritesNothing(f.admin, "carol", "000000", kT1, CodeOutcome::kNotEnrolled);
  // A pending enrollment is confirmed by 'mfa confirm' only, never by a login.
  assert_true(UserOf(f.admin, "carol").mfa == MfaState::kPending);
  // After a reset alice is not enrolled either.
  int revoked = 0;
  ASSERT_OK(MfaReset(f.admin, "alice", kT1, &revoked));
  ExpectWritesNothing(f.admin, "alice", test::TotpAt(f.secret, kT2), kT2,
                      CodeOutcome::kNotEnrolled);
}

// Input that is no attempt at a code, or a user name that cannot be one: bad-input with a
// reason, never the code; nothing written, no failure counted.
void test_bad_input(void** state) {
  Fixture& f = Fx(state);
  const std::string right = test::TotpAt(f.secret, kT1);
  struct {
    std::string user, code, why;
  } cases[] = {
      {"alice", "", "no code"},
      {"alice", std::string(kMaxCodeInput + 1, '1'), "too long"},
      {"alice", right + std::string(kMaxCodeInput - 5, ' '), "too long"},
      {"alice", right + std::string(1, '\0'), "NUL"},
      {"alice", std::string("\0", 1) + right, "NUL"},
      {"", right, "user"},
      {"ali\nce", right, "user"},
      {std::string(300, 'a'), right, "user"},
      {"alice\xff", right, "user"},
  };
  for (const auto& c : cases) {
    const std::string before = RawUser(f.admin, "alice");
    const CodeDecision d = Check(f.admin, c.user, c.code, kT1);
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kBadInput);
    ASSERT_CONTAINS(d.detail, c.why);
    assert_true(right.empty() || d.detail.find(right) == std::string::npos);
    assert_string_equal(RawUser(f.admin, "alice").c_str(), before.c_str());
  }
  // The longest input considered is still an attempt.
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", std::string(kMaxCodeInput, '1'), kT1),
                      CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", right + std::string(kMaxCodeInput - 6, ' '), kT1),
                      CodeOutcome::kAccepted);
}

// A store that cannot decide: unavailable (fail closed), nothing written.
void test_unavailable(void** state) {
  Fixture& f = Fx(state);
  const std::string right = test::TotpAt(f.secret, kT1);
  // Not a store, or one opened for verifying only (no mfa.key, read-only).
  ASSERT_CODE_OUTCOME(Check(Store(), "alice", right, kT1), CodeOutcome::kUnavailable);
  Store verify;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &verify));
  const CodeDecision v = Check(verify, "alice", right, kT1);
  ASSERT_CODE_OUTCOME(v, CodeOutcome::kUnavailable);
  assert_false(v.detail.empty());
  // A sealed secret that does not open with this store's mfa.key.
  const std::string good = RawUser(f.admin, "alice");
  UserRecord u = UserOf(f.admin, "alice");
  u.sealed_secret = std::string(u.sealed_secret.size(), 'a');
  PutRawUser(f.admin, "alice", EncodeUser(u));
  ExpectWritesNothing(f.admin, "alice", right, kT1, CodeOutcome::kUnavailable);
  ExpectWritesNothing(f.admin, "alice", "000000", kT1, CodeOutcome::kUnavailable);
  // A record that does not decode.
  for (const std::string& rec :
       std::vector<std::string>{"{", "{\"v\":99}", good.substr(0, good.size() / 2)}) {
    PutRawUser(f.admin, "alice", rec);
    const CodeDecision d = Check(f.admin, "alice", right, kT1);
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kUnavailable);
    assert_false(d.detail.empty());
    assert_string_equal(RawUser(f.admin, "alice").c_str(), rec.c_str());
  }
  // Repaired, the code was never spent.
  PutRawUser(f.admin, "alice", good);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", right, kT1), CodeOutcome::kAccepted);
}

// The throttle through this way in: kMaxCodeFailures wrong codes in the window, then every
// code is refused until the window ends (a right one too, and it is not spent); reused
// codes count; the lockout writes nothing and does not extend the window.
void test_throttle(void** state) {
  Fixture& f = Fx(state);
  const std::int64_t t0 = kT1;
  for (int i = 0; i < kMaxCodeFailures; ++i)
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, t0 + i), t0 + i),
                        CodeOutcome::kWrongCode);
  const std::string locked = RawUser(f.admin, "alice");
  const std::int64_t in = t0 + 100;
  CodeDecision d = Check(f.admin, "alice", test::TotpAt(f.secret, in), in);
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kThrottled);
  assert_string_equal(d.detail.c_str(),
                      "too many wrong verification codes; try again in 9 minutes");
  ExpectWritesNothing(f.admin, "alice", WrongCode(f.secret, in), in, CodeOutcome::kThrottled);
  ExpectWritesNothing(f.admin, "alice", test::TotpAt(f.secret, t0 + 599), t0 + 599,
                      CodeOutcome::kThrottled);
  assert_string_equal(RawUser(f.admin, "alice").c_str(), locked.c_str());
  assert_int_equal(UserOf(f.admin, "alice").last_step, kNow / kTotpStep);  // not spent
  // The window ends kCodeFailureWindow after its first failure: the right code of that
  // moment passes and clears the count (the step refused during the lockout included).
  const std::int64_t end = t0 + kCodeFailureWindow;
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, end), end),
                      CodeOutcome::kAccepted);
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 0);

  // Reused codes count: kMaxCodeFailures - 1 wrong and one reused lock out.
  const std::int64_t t1 = end + 1;
  for (int i = 0; i < kMaxCodeFailures - 1; ++i)
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, t1), t1),
                        CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, end), t1),
                      CodeOutcome::kReusedCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, t1 + 30), t1 + 30),
                      CodeOutcome::kThrottled);

  // Failures spread over more than a window never lock out: each window starts afresh.
  const std::int64_t t2 = t1 + kCodeFailureWindow;
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, t2), t2),
                      CodeOutcome::kAccepted);
  for (int i = 0; i < 3 * kMaxCodeFailures; ++i) {
    const std::int64_t t = t2 + 1 + i * (kCodeFailureWindow / (kMaxCodeFailures - 1));
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, t), t),
                        CodeOutcome::kWrongCode);
  }
  // Another user is not locked out by alice's failures.
  std::string bob;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow, &bob));
  const std::int64_t t3 = t2 + 20 * kCodeFailureWindow;
  for (int i = 0; i < kMaxCodeFailures; ++i)
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", WrongCode(f.secret, t3), t3),
                        CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", "000000", t3 + 1), CodeOutcome::kThrottled);
  ASSERT_CODE_OUTCOME(Check(f.admin, "bob", test::TotpAt(bob, t3 + 1), t3 + 1),
                      CodeOutcome::kAccepted);
}

// Recovery codes: kMaxRecoveryCodes of the form "xxxx-xxxx-xxxx", each passing once (the
// count left going down), typed in any case with or without dashes and spaces; a TOTP
// code still works beside them; during the lockout they are refused too.
void test_recovery_codes(void** state) {
  Fixture& f = Fx(state);
  const std::vector<std::string> codes = MakeCodes(f.admin, "alice");
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  for (const auto& c : codes) {
    assert_int_equal(c.size(), 14);
    assert_true(c[4] == '-' && c[9] == '-');
    for (std::size_t i = 0; i < c.size(); ++i)
      if (i != 4 && i != 9) assert_true(kPasswordAlphabet.find(c[i]) != std::string_view::npos);
    assert_int_equal(std::count(codes.begin(), codes.end(), c), 1);
  }
  const UserRecord u = UserOf(f.admin, "alice");
  assert_int_equal(u.recovery.size(), kMaxRecoveryCodes);
  for (const auto& h : u.recovery)  // hashes only, never the codes
    for (const auto& c : codes) {
      assert_true(h.find(c) == std::string::npos);
      assert_true(RawUser(f.admin, "alice").find(c.substr(0, 4) + c.substr(5, 4)) ==
                  std::string::npos);
    }

  auto upper = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  };
  auto bare = [](std::string s) {
    s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
    return s;
  };
  const std::vector<std::string> typed = {
      codes[0],
      upper(codes[1]),
      bare(codes[2]),
      " " + upper(bare(codes[3])).insert(6, " ") + " ",
      codes[4].substr(0, 4) + " " + codes[4].substr(5, 4) + " " + codes[4].substr(10),
      "--" + codes[5] + "--",
  };
  // A failure before: a recovery code clears the count like a TOTP code.
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", "000000", kT1), CodeOutcome::kWrongCode);
  int left = static_cast<int>(kMaxRecoveryCodes);
  for (const auto& t : typed) {
    const CodeDecision d = Check(f.admin, "alice", t, kT1);
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kRecoveryCode);
    assert_int_equal(d.recovery_codes_left, --left);
    assert_int_equal(UserOf(f.admin, "alice").recovery.size(), left);
    assert_int_equal(UserOf(f.admin, "alice").code_failures, 0);
  }
  // Used once: the same code again, however typed, is a wrong code.
  for (int i = 0; i < 3; ++i)
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", codes[i], kT1 + 600 * (i + 1)),
                        CodeOutcome::kWrongCode);
  // A recovery code spends no TOTP step, and a TOTP code still passes beside them.
  assert_int_equal(UserOf(f.admin, "alice").last_step, kNow / kTotpStep);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", test::TotpAt(f.secret, kT2), kT2),
                      CodeOutcome::kAccepted);
  assert_int_equal(UserOf(f.admin, "alice").recovery.size(), left);
  // Almost a code: one character changed, one dropped, one added, a foreign character.
  std::string changed = codes[6];
  changed[0] = changed[0] == 'a' ? 'b' : 'a';
  const std::int64_t t = kT2 + 3000;
  for (const auto& near : {changed, codes[6].substr(1), codes[6] + "a",
                           codes[6].substr(0, 13) + "0", codes[6].substr(0, 13) + "\xc3"}) {
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", near, t), CodeOutcome::kWrongCode);
  }
  // The lockout refuses a recovery code too, and does not spend it.
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", codes[6], t), CodeOutcome::kThrottled);
  assert_int_equal(UserOf(f.admin, "alice").recovery.size(), left);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", codes[6], t + kCodeFailureWindow),
                      CodeOutcome::kRecoveryCode);
  // Down to the last one: codes_left reaches 0 and none pass after.
  const std::int64_t t2 = t + kCodeFailureWindow;
  for (std::size_t i = 7; i < codes.size(); ++i) {
    const CodeDecision d = Check(f.admin, "alice", codes[i], t2);
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kRecoveryCode);
    assert_int_equal(d.recovery_codes_left, static_cast<int>(codes.size() - 1 - i));
  }
  assert_true(UserOf(f.admin, "alice").recovery.empty());
  assert_true(RawUser(f.admin, "alice").find("recovery") == std::string::npos);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", codes[9], t2), CodeOutcome::kWrongCode);
}

// Hashes are bound to the user: bob cannot pass with alice's code, even when alice's hash
// list is copied into bob's record (a store written by someone who can write it); alice's
// code stays unused.
void test_recovery_bound_to_user(void** state) {
  Fixture& f = Fx(state);
  std::string bob;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow, &bob));
  const std::vector<std::string> a = MakeCodes(f.admin, "alice");
  const std::vector<std::string> b = MakeCodes(f.admin, "bob");
  for (const auto& ha : UserOf(f.admin, "alice").recovery)
    for (const auto& hb : UserOf(f.admin, "bob").recovery) assert_true(ha != hb);
  ASSERT_CODE_OUTCOME(Check(f.admin, "bob", a[0], kT1), CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", b[0], kT1), CodeOutcome::kWrongCode);
  UserRecord ub = UserOf(f.admin, "bob");
  ub.recovery = UserOf(f.admin, "alice").recovery;
  PutRawUser(f.admin, "bob", EncodeUser(ub));
  ASSERT_CODE_OUTCOME(Check(f.admin, "bob", a[1], kT1 + 600), CodeOutcome::kWrongCode);
  assert_int_equal(UserOf(f.admin, "alice").recovery.size(), kMaxRecoveryCodes);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", a[0], kT1 + 600), CodeOutcome::kRecoveryCode);
}

// New codes void the old; a reset removes them (a new enrollment has none); MfaGet's
// count says how many are left; only a confirmed enrollment gets codes.
void test_recovery_lifecycle(void** state) {
  Fixture& f = Fx(state);
  const std::vector<std::string> first = MakeCodes(f.admin, "alice");
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", first[0], kT1), CodeOutcome::kRecoveryCode);
  assert_int_equal(UserOf(f.admin, "alice").recovery.size(), kMaxRecoveryCodes - 1);
  const std::vector<std::string> second = MakeCodes(f.admin, "alice", kT1);
  assert_int_equal(UserOf(f.admin, "alice").recovery.size(), kMaxRecoveryCodes);
  for (const auto& c : first) assert_int_equal(std::count(second.begin(), second.end(), c), 0);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", first[1], kT1), CodeOutcome::kWrongCode);
  ASSERT_CODE_OUTCOME(Check(f.admin, "alice", second[1], kT1), CodeOutcome::kRecoveryCode);

  // Making codes needs a confirmed enrollment and writes nothing otherwise.
  std::vector<SecretBuffer> none;
  ASSERT_CODE(MfaRecoveryCodes(f.admin, "bob", kT1, &none), kPermissionDenied);
  assert_string_equal(RawUser(f.admin, "bob").c_str(), "<none>");
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "carol", "test", kNow, &er));
  const std::string pending = RawUser(f.admin, "carol");
  ASSERT_CODE(MfaRecoveryCodes(f.admin, "carol", kT1, &none), kPermissionDenied);
  assert_string_equal(RawUser(f.admin, "carol").c_str(), pending.c_str());
  assert_true(none.empty());
  ASSERT_CODE(MfaRecoveryCodes(f.admin, "bad\nname", kT1, &none), kInvalidArgument);

  // A reset takes them with the enrollment; after a new one they are gone for good.
  int revoked = 0;
  ASSERT_OK(MfaReset(f.admin, "alice", kT2, &revoked));
  std::string secret;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "alice", kT2, &secret));
  assert_true(UserOf(f.admin, "alice").recovery.empty());
  for (std::size_t i = 2; i < 5; ++i)
    ASSERT_CODE_OUTCOME(Check(f.admin, "alice", second[i], kT3), CodeOutcome::kWrongCode);
}

// Confirming a pending enrollment with recovery_codes makes them in the same transaction;
// a re-check of a confirmed one makes none; without the out parameter none are made; a
// refused code makes none. MfaImport the same.
void test_confirm_makes_codes(void** state) {
  Fixture& f = Fx(state);
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "carol", "test", kNow, &er));
  const std::string carol = test::Base32Decode(er.base32.view());
  std::vector<SecretBuffer> codes;
  ASSERT_CODE(MfaConfirm(f.admin, "carol", WrongCode(carol, kT1), kT1, &codes), kPermissionDenied);
  assert_true(codes.empty());
  assert_true(UserOf(f.admin, "carol").recovery.empty());
  ASSERT_OK(MfaConfirm(f.admin, "carol", test::TotpAt(carol, kT1), kT1, &codes));
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  assert_int_equal(UserOf(f.admin, "carol").recovery.size(), kMaxRecoveryCodes);
  const std::string first(codes[0].view());
  // A re-check: no new codes, the old ones stay.
  ASSERT_OK(MfaConfirm(f.admin, "carol", test::TotpAt(carol, kT2), kT2, &codes));
  assert_true(codes.empty());
  ASSERT_CODE_OUTCOME(Check(f.admin, "carol", first, kT2), CodeOutcome::kRecoveryCode);
  // Without the out parameter (as before issue 12): confirmed, no codes.
  EnrollResult ed;
  ASSERT_OK(MfaEnroll(f.admin, "dave", "test", kNow, &ed));
  const std::string dave = test::Base32Decode(ed.base32.view());
  ASSERT_OK(MfaConfirm(f.admin, "dave", test::TotpAt(dave, kT1), kT1));
  assert_true(UserOf(f.admin, "dave").recovery.empty());
  // An import confirms too.
  ExistingTotp existing;
  existing.source = "oath";
  existing.secret = SecretBuffer(20);
  assert_true(existing.secret.assign(std::string(20, '\x42')));
  ASSERT_OK(MfaImport(f.admin, "erin", existing, test::TotpAt(std::string(20, '\x42'), kT1), kT1,
                      &codes));
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  assert_int_equal(UserOf(f.admin, "erin").recovery.size(), kMaxRecoveryCodes);
  ASSERT_CODE_OUTCOME(Check(f.admin, "erin", codes[3].view(), kT2), CodeOutcome::kRecoveryCode);
}

// Two processes racing one code on one store: the step is read and spent in one write
// transaction, so exactly one is accepted and the other sees reused-code. Repeated with a
// new step each round (and a recovery code raced the same way). Each child opens its own
// Store after fork().
void test_replay_race(void** state) {
  Fixture& f = Fx(state);
  const std::vector<std::string> codes = MakeCodes(f.admin, "alice");
  f.admin = Store();  // closed in this process before forking
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::int64_t t = kT1 + 30 * round;
    // Even rounds race a TOTP code; odd ones one recovery code.
    const bool recovery = round % 2 == 1;
    const std::string code = recovery ? codes[round] : test::TotpAt(f.secret, t);
    int go[2];
    assert_int_equal(::pipe(go), 0);
    std::vector<pid_t> kids;
    for (int i = 0; i < 2; ++i) {
      const pid_t pid = ::fork();
      assert_true(pid >= 0);
      if (pid == 0) {
        ::close(go[1]);
        Store store;
        if (!Store::Open(f.dir, Store::Mode::kAdmin, &store).ok()) ::_exit(3);
        char c;
        if (::read(go[0], &c, 1) != 0) ::_exit(4);  // EOF: both go at once
        const CodeDecision d = CheckLoginCode(store, "alice", code, t);
        ::_exit(static_cast<int>(d.outcome) + 10);
      }
      kids.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);
    std::vector<CodeOutcome> got;
    for (pid_t pid : kids) {
      int st = 0;
      assert_int_equal(::waitpid(pid, &st, 0), pid);
      assert_true(WIFEXITED(st));
      if (WEXITSTATUS(st) < 10) fail_msg("a child exited %d", WEXITSTATUS(st));
      got.push_back(static_cast<CodeOutcome>(WEXITSTATUS(st) - 10));
    }
    const CodeOutcome win = recovery ? CodeOutcome::kRecoveryCode : CodeOutcome::kAccepted;
    const CodeOutcome lose = recovery ? CodeOutcome::kWrongCode : CodeOutcome::kReusedCode;
    const bool one_each = (got[0] == win && got[1] == lose) || (got[0] == lose && got[1] == win);
    if (!one_each)
      fail_msg("round %d: %s and %s", round, std::string(CodeOutcomeName(got[0])).c_str(),
               std::string(CodeOutcomeName(got[1])).c_str());
  }
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  const UserRecord u = UserOf(f.admin, "alice");
  assert_int_equal(u.last_step, (kT1 + 30 * (kRounds - 2)) / kTotpStep);
  assert_int_equal(u.recovery.size(), kMaxRecoveryCodes - kRounds / 2);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_accepted),
      STORE_TEST(test_drift),
      STORE_TEST(test_reused),
      STORE_TEST(test_wrong),
      STORE_TEST(test_not_enrolled),
      STORE_TEST(test_bad_input),
      STORE_TEST(test_unavailable),
      STORE_TEST(test_throttle),
      STORE_TEST(test_recovery_codes),
      STORE_TEST(test_recovery_bound_to_user),
      STORE_TEST(test_recovery_lifecycle),
      STORE_TEST(test_confirm_makes_codes),
      STORE_TEST(test_replay_race),
  };
  return cmocka_run_group_tests_name("second_factor", tests, nullptr, nullptr);
}
