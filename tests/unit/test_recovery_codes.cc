// Unit tests of recovery_codes.h and the ways codes are made: NormalizeRecoveryCode's rule
// (case, dashes and spaces ignored; exactly kRecoveryCodeChars characters of the app
// password alphabet; nothing else), NewRecoveryCodes (form, randomness, hashes bound to
// the user and apart from app password hashes), and self-service (SelfRecoveryCodes needs
// a current TOTP code, throttled like every change; SelfMfaConfirm of a pending enrollment
// returns codes). The fixture is store_fixture.h: alice confirmed at kNow.

#include "recovery_codes.h"

#include <sodium.h>

#include "code_throttle.h"
#include "second_factor.h"
#include "self_service.h"
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

constexpr std::int64_t kT1 = kNow + 30, kT2 = kNow + 60;

// NormalizeRecoveryCode's result: the normalized text, or "!" when refused.
std::string Norm(std::string_view in) {
  SecretBuffer out(kMaxCodeInput);
  assert_true(out.valid());
  const Status s = NormalizeRecoveryCode(in, out);
  if (!s.ok()) {
    assert_int_equal(static_cast<int>(s.code()), static_cast<int>(Status::Code::kInvalidArgument));
    assert_int_equal(out.size(), 0);  // nothing half-normalized left behind
    return "!";
  }
  return std::string(out.view());
}

UserRecord UserOf(const Store& store, const std::string& user = "alice") {
  UserRecord u;
  ASSERT_OK(MfaGet(store, user, &u));
  return u;
}

SecretBuffer Code(std::string_view text) {
  SecretBuffer b(16);
  assert_true(b.valid() && b.assign(text));
  return b;
}

void test_normalize(void**) {
  const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"abcd-efgh-jkmn", "abcdefghjkmn"},
      {"ABCD-EFGH-JKMN", "abcdefghjkmn"},
      {"aBcD eFgH jKmN", "abcdefghjkmn"},
      {"abcdefghjkmn", "abcdefghjkmn"},
      {"  abcd--efgh  jkmn - ", "abcdefghjkmn"},
      {"2345-6789-wxyz", "23456789wxyz"},
      {"a-b-c-d-e-f-g-h-j-k-m-n", "abcdefghjkmn"},
      // Wrong length.
      {"abcd-efgh-jkm", "!"},
      {"abcd-efgh-jkmnp", "!"},
      {"", "!"},
      {"----", "!"},
      {"            ", "!"},
      // Characters outside the alphabet: the look-alikes it leaves out, digits 0 and 1,
      // other punctuation, tabs, control and non-ASCII bytes.
      {"abcd-efgh-jkmo", "!"},
      {"abcd-efgh-jkml", "!"},
      {"abcd-efgh-jkmi", "!"},
      {"abcd-efgh-jkm0", "!"},
      {"abcd-efgh-jkm1", "!"},
      {"ABCD-EFGH-JKMI", "!"},
      {"abcd_efgh_jkmn", "!"},
      {"abcd.efgh.jkmn", "!"},
      {"abcd\tefgh\tjkmn", "!"},
      {"abcd-efgh-jkmn\n", "!"},
      {"abcd-efgh-jkm\xc3\xa9", "!"},
      {"\xef\xbc\xa1\x62\x63\x64-efgh-jkmn", "!"},  // fullwidth A
  };
  for (const auto& c : cases)
    if (Norm(c.in) != c.out) fail_msg("'%s' -> '%s', want '%s'", c.in, Norm(c.in).c_str(), c.out);
  // With a NUL inside.
  assert_string_equal(Norm(std::string_view("abcd-efgh-jkm\0n", 15)).c_str(), "!");
  // Length limits: kMaxCodeInput of input at most, however much is spaces.
  std::string padded = "abcd-efgh-jkmn" + std::string(kMaxCodeInput - 14, ' ');
  assert_string_equal(Norm(padded).c_str(), "abcdefghjkmn");
  assert_string_equal(Norm(padded + " ").c_str(), "!");
  // An output buffer too small for the input is refused, never overrun.
  SecretBuffer small(8);
  ASSERT_CODE(NormalizeRecoveryCode("abcd-efgh-jkmn", small), kInvalidArgument);
}

// Every character of the alphabet, in either case, at every position.
void test_normalize_alphabet(void**) {
  for (char ch : kPasswordAlphabet) {
    for (std::size_t at = 0; at < kRecoveryCodeChars; ++at) {
      std::string code = "abcdefghjkmn";
      code[at] = ch;
      assert_string_equal(Norm(code).c_str(), code.c_str());
      std::string upper = code;
      upper[at] = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      assert_string_equal(Norm(upper).c_str(), code.c_str());
    }
  }
  for (int b = 0; b < 256; ++b) {
    const char ch = static_cast<char>(b);
    const bool in =
        kPasswordAlphabet.find(static_cast<char>(std::tolower(b))) != std::string_view::npos;
    std::string code = "abcdefghjkmn";
    code[5] = ch;
    if (ch == ' ' || ch == '-') continue;
    assert_true((Norm(code) != "!") == in);
  }
}

void test_new_codes(void** state) {
  Fixture& f = Fx(state);
  std::vector<SecretBuffer> codes;
  std::vector<std::string> hashes;
  ASSERT_OK(NewRecoveryCodes(f.admin, "alice", &codes, &hashes));
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  assert_int_equal(hashes.size(), kMaxRecoveryCodes);
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::string c(codes[i].view());
    assert_int_equal(c.size(), 14);
    assert_true(c[4] == '-' && c[9] == '-');
    const std::string n = Norm(c);
    assert_int_equal(n.size(), kRecoveryCodeChars);
    // The hash is Store::HashRecoveryCode of the normalized code, as hex, for this user.
    SecretBuffer nb(kMaxCodeInput);
    assert_true(nb.assign(n));
    unsigned char h[kHashBytes];
    f.admin.HashRecoveryCode("alice", nb, h);
    char hex[2 * kHashBytes + 1];
    sodium_bin2hex(hex, sizeof hex, h, kHashBytes);
    assert_string_equal(hashes[i].c_str(), hex);
    // Bound to the user: another user's hash of the same code differs, and an app
    // password's hash of it too.
    f.admin.HashRecoveryCode("bob", nb, h);
    sodium_bin2hex(hex, sizeof hex, h, kHashBytes);
    assert_true(hashes[i] != hex);
    f.admin.HashPassword(nb, h);
    sodium_bin2hex(hex, sizeof hex, h, kHashBytes);
    assert_true(hashes[i] != hex);
    seen.push_back(c);
  }
  std::sort(seen.begin(), seen.end());
  assert_true(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  // Two calls never give the same codes (59 bits each).
  std::vector<SecretBuffer> again;
  std::vector<std::string> again_hashes;
  ASSERT_OK(NewRecoveryCodes(f.admin, "alice", &again, &again_hashes));
  for (const auto& h : again_hashes)
    assert_int_equal(std::count(hashes.begin(), hashes.end(), h), 0);
  // NewRecoveryCodes itself stores nothing.
  assert_true(UserOf(f.admin).recovery.empty());
}

// Every character of the alphabet shows up in practice, and no other (a broken generator,
// e.g. one index always 0, would fail this).
void test_new_codes_spread(void** state) {
  Fixture& f = Fx(state);
  std::string all;
  for (int round = 0; round < 20; ++round) {
    std::vector<SecretBuffer> codes;
    std::vector<std::string> hashes;
    ASSERT_OK(NewRecoveryCodes(f.admin, "alice", &codes, &hashes));
    for (const auto& c : codes) all += Norm(c.view());
  }
  for (char ch : kPasswordAlphabet) assert_true(all.find(ch) != std::string::npos);
  for (char ch : all) assert_true(kPasswordAlphabet.find(ch) != std::string_view::npos);
}

// Self-service: new codes need a current TOTP code (spent with them, in one transaction),
// never a recovery code; wrong codes are counted and throttled; no confirmed enrollment
// is kNoMfaMessage.
void test_self_recovery_codes(void** state) {
  Fixture& f = Fx(state);
  std::vector<SecretBuffer> codes;
  ASSERT_OK(SelfRecoveryCodes(f.admin, "alice", Code(test::TotpAt(f.secret, kT1)), kT1, &codes));
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  assert_int_equal(UserOf(f.admin).recovery.size(), kMaxRecoveryCodes);
  assert_int_equal(UserOf(f.admin).last_step, kT1 / kTotpStep);
  const std::string first(codes[0].view());
  // The same code again: refused, and the codes stay as they were.
  std::vector<SecretBuffer> none;
  const std::vector<std::string> before = UserOf(f.admin).recovery;
  const Status reused =
      SelfRecoveryCodes(f.admin, "alice", Code(test::TotpAt(f.secret, kT1)), kT1, &none);
  ASSERT_CODE(reused, kPermissionDenied);
  assert_string_equal(reused.message().c_str(), kWrongCodeMessage);
  assert_true(none.empty());
  assert_true(UserOf(f.admin).recovery == before);
  assert_int_equal(UserOf(f.admin).code_failures, 1);
  // A recovery code does not make new ones.
  ASSERT_CODE(SelfRecoveryCodes(f.admin, "alice", Code(first), kT1, &none), kPermissionDenied);
  assert_true(UserOf(f.admin).recovery == before);
  // Throttled like every change: kMaxCodeFailures wrong codes, then even the right one.
  for (int i = 0; i < kMaxCodeFailures - 2; ++i)
    ASSERT_CODE(SelfRecoveryCodes(f.admin, "alice", Code(WrongCode(f.secret, kT2)), kT2, &none),
                kPermissionDenied);
  const Status locked =
      SelfRecoveryCodes(f.admin, "alice", Code(test::TotpAt(f.secret, kT2)), kT2, &none);
  assert_true(IsCodeThrottled(locked));
  assert_true(UserOf(f.admin).recovery == before);
  // After the window, new codes void the old.
  const std::int64_t later = kT1 + kCodeFailureWindow;
  ASSERT_OK(
      SelfRecoveryCodes(f.admin, "alice", Code(test::TotpAt(f.secret, later)), later, &codes));
  assert_true(UserOf(f.admin).recovery != before);
  assert_true(CheckLoginCode(f.admin, "alice", first, later).outcome == CodeOutcome::kWrongCode);
  assert_true(CheckLoginCode(f.admin, "alice", codes[0].view(), later).outcome ==
              CodeOutcome::kRecoveryCode);
  // Nobody enrolled, or only pending: kNoMfaMessage.
  const Status nobody = SelfRecoveryCodes(f.admin, "bob", Code("123456"), kT1, &none);
  ASSERT_CODE(nobody, kPermissionDenied);
  assert_string_equal(nobody.message().c_str(), kNoMfaMessage);
}

// SelfMfaConfirm of a pending enrollment returns the new codes (one transaction with the
// confirmation); a re-check of a confirmed one returns none and keeps the old.
void test_self_confirm_codes(void** state) {
  Fixture& f = Fx(state);
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "yes"));
  EnrollResult er;
  ASSERT_OK(SelfMfaEnroll(f.admin, "carol", "test", kNow, &er));
  const std::string carol = test::Base32Decode(er.base32.view());
  std::vector<SecretBuffer> codes;
  ASSERT_CODE(SelfMfaConfirm(f.admin, "carol", Code(WrongCode(carol, kT1)), kT1, &codes),
              kPermissionDenied);
  assert_true(codes.empty());
  ASSERT_OK(SelfMfaConfirm(f.admin, "carol", Code(test::TotpAt(carol, kT1)), kT1, &codes));
  assert_int_equal(codes.size(), kMaxRecoveryCodes);
  UserRecord u;
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  assert_int_equal(u.recovery.size(), kMaxRecoveryCodes);
  assert_int_equal(u.last_step, kT1 / kTotpStep);
  assert_int_equal(u.code_failures, 0);
  const std::vector<std::string> hashes = u.recovery;
  std::vector<SecretBuffer> more;
  ASSERT_OK(SelfMfaConfirm(f.admin, "carol", Code(test::TotpAt(carol, kT2)), kT2, &more));
  assert_true(more.empty());
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.recovery == hashes);
  assert_true(CheckLoginCode(f.admin, "carol", codes[9].view(), kT2).outcome ==
              CodeOutcome::kRecoveryCode);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normalize),     cmocka_unit_test(test_normalize_alphabet),
      STORE_TEST(test_new_codes),           STORE_TEST(test_new_codes_spread),
      STORE_TEST(test_self_recovery_codes), STORE_TEST(test_self_confirm_codes),
  };
  return cmocka_run_group_tests_name("recovery_codes", tests, nullptr, nullptr);
}
