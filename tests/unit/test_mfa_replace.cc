// Unit tests of mfa_replace.h (issue 13): replacing the authenticator app keeps the
// confirmed secret working until a code of the new one swaps them; every step takes a
// code under the throttle, in one transaction; the recovery codes are kept; the record
// round-trips and `apppass check` is clean at every step. And self_service.h's
// SecondFactor::Session(): CREATE and REVOKE without a code, spending nothing, for a
// confirmed enrollment only. The fixture is store_fixture.h: alice is confirmed at kNow.
#include "mfa_replace.h"

#include "code_throttle.h"
#include "recovery_codes.h"
#include "self_service.h"
#include "store_check.h"
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

SecretBuffer Code(std::string_view text) {
  SecretBuffer b(16);
  assert_true(b.valid() && b.assign(text));
  return b;
}

UserRecord UserOf(const Store& store, const std::string& user) {
  UserRecord u;
  ASSERT_OK(MfaGet(store, user, &u));
  return u;
}

void CheckClean(const Fixture& f, std::int64_t now) {
  CheckReport report;
  ASSERT_OK(CheckStore(f.dir, CheckOptions{.now = now}, &report));
  assert_true(report.clean());
}

constexpr std::int64_t kT1 = kNow + 30, kT2 = kNow + 60, kT3 = kNow + 90;

void test_replace(void** state) {
  Fixture& f = Fx(state);
  std::vector<SecretBuffer> codes;
  ASSERT_OK(MfaRecoveryCodes(f.admin, "alice", kNow, &codes));
  const UserRecord before = UserOf(f.admin, "alice");

  // A wrong code: nothing pending, the failure counted.
  EnrollResult r;
  ASSERT_CODE(SelfMfaReplace(f.admin, "alice", Code("000000"), "issuer", kT1, &r),
              kPermissionDenied);
  assert_true(UserOf(f.admin, "alice").pending_secret.empty());
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 1);

  ASSERT_OK(SelfMfaReplace(f.admin, "alice", Code(test::TotpAt(f.secret, kT1)), "issuer", kT1, &r));
  assert_true(r.uri.find("otpauth://totp/") == 0);
  const std::string fresh = test::Base32Decode(r.base32.view());
  assert_int_equal(fresh.size(), 20);
  UserRecord u = UserOf(f.admin, "alice");
  assert_false(u.pending_secret.empty());
  assert_int_equal(u.pending_since, kT1);
  assert_string_equal(u.sealed_secret.c_str(), before.sealed_secret.c_str());
  assert_int_equal(u.last_step, kT1 / kTotpStep);  // the code was spent
  CheckClean(f, kT1);

  // The old secret keeps working meanwhile (a change with its next code).
  Created c;
  SelfCreateRequest req{.name = "phone", .scopes = {"imap"}, .expires = {}, .never = false};
  ASSERT_OK(SelfCreate(f.admin, "alice", req, Code(test::TotpAt(f.secret, kT2)), kT2, &c));

  // A code of the old secret does not confirm the new one; a wrong one is counted.
  ASSERT_CODE(SelfMfaReplaceConfirm(f.admin, "alice", Code(test::TotpAt(f.secret, kT3)), kT3),
              kPermissionDenied);
  assert_false(UserOf(f.admin, "alice").pending_secret.empty());
  ASSERT_OK(SelfMfaReplaceConfirm(f.admin, "alice", Code(test::TotpAt(fresh, kT3)), kT3));
  u = UserOf(f.admin, "alice");
  assert_true(u.pending_secret.empty());
  assert_int_equal(u.pending_since, 0);
  assert_int_equal(u.enrolled, kT3);
  assert_int_equal(*u.confirmed, kT3);
  assert_int_equal(u.last_step, kT3 / kTotpStep);
  assert_int_equal(u.code_failures, 0);  // a right code clears the count
  assert_int_equal(u.recovery.size(), kMaxRecoveryCodes);
  assert_true(u.recovery == before.recovery);  // kept
  CheckClean(f, kT3);

  // Now the new secret is the one: the old one's code is wrong, the new one's works once.
  const std::int64_t t4 = kT3 + 30;
  req.name = "tablet";
  ASSERT_CODE(SelfCreate(f.admin, "alice", req, Code(test::TotpAt(f.secret, t4)), t4, &c),
              kPermissionDenied);
  ASSERT_OK(SelfCreate(f.admin, "alice", req, Code(test::TotpAt(fresh, t4)), t4, &c));
  // Nothing pending any more.
  ASSERT_CODE(SelfMfaReplaceConfirm(f.admin, "alice", Code(test::TotpAt(fresh, t4 + 30)), t4 + 30),
              kPermissionDenied);
}

void test_replace_needs_confirmed(void** state) {
  Fixture& f = Fx(state);
  EnrollResult r;
  const Status s = SelfMfaReplace(f.admin, "bob", Code("123456"), "issuer", kT1, &r);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kNoMfaMessage);
  ASSERT_CODE(SelfMfaReplaceConfirm(f.admin, "bob", Code("123456"), kT1), kPermissionDenied);
}

void test_replace_throttled(void** state) {
  Fixture& f = Fx(state);
  EnrollResult r;
  ASSERT_OK(SelfMfaReplace(f.admin, "alice", Code(test::TotpAt(f.secret, kT1)), "issuer", kT1, &r));
  const std::string fresh = test::Base32Decode(r.base32.view());
  for (int i = 0; i < kMaxCodeFailures; ++i)
    ASSERT_CODE(SelfMfaReplaceConfirm(f.admin, "alice", Code("000000"), kT1), kPermissionDenied);
  // Locked out: even the right code of the new app is refused, and not spent.
  const Status s = SelfMfaReplaceConfirm(f.admin, "alice", Code(test::TotpAt(fresh, kT2)), kT2);
  assert_true(IsCodeThrottled(s));
  assert_false(UserOf(f.admin, "alice").pending_secret.empty());
  const std::int64_t later = kT1 + kCodeFailureWindow + 1;
  ASSERT_OK(SelfMfaReplaceConfirm(f.admin, "alice", Code(test::TotpAt(fresh, later)), later));
}

void test_record_round_trip(void**) {
  UserRecord u;
  u.user = "alice";
  u.mfa = MfaState::kConfirmed;
  u.sealed_secret = "aa";
  u.confirmed = 5;
  u.pending_secret = "bb";
  u.pending_since = 7;
  UserRecord back;
  ASSERT_OK(DecodeUser(EncodeUser(u), &back));
  assert_string_equal(back.pending_secret.c_str(), "bb");
  assert_int_equal(back.pending_since, 7);
  // Without a replacement the record is as before (no new fields).
  u.pending_secret.clear();
  assert_true(EncodeUser(u).find("pending") == std::string::npos);
  // A record with half of it is damaged.
  std::string half = EncodeUser(u);
  half.insert(half.size() - 1, ",\"pending_since\":3");
  assert_false(DecodeUser(half, &back).ok());
}

void test_session_factor(void** state) {
  Fixture& f = Fx(state);
  const std::int64_t step = UserOf(f.admin, "alice").last_step;
  Created c;
  SelfCreateRequest req{.name = "web", .scopes = {"imap"}, .expires = {}, .never = false};
  ASSERT_OK(SelfCreate(f.admin, "alice", req, SecondFactor::Session(), kT1, &c));
  assert_int_equal(UserOf(f.admin, "alice").last_step, step);  // nothing spent
  std::vector<std::string> ids;
  RevokeSelector sel;
  sel.id = c.cred.id;
  ASSERT_OK(SelfRevoke(f.admin, "alice", sel, SecondFactor::Session(), kT1, &ids));
  assert_true(ids == std::vector<std::string>{c.cred.id});
  // Still only a confirmed enrollment's user; and another user's id is not found.
  ASSERT_CODE(SelfCreate(f.admin, "bob", req, SecondFactor::Session(), kT1, &c), kPermissionDenied);
  ASSERT_CODE(SelfRevoke(f.admin, "alice", sel, SecondFactor::Session(), kT1, &ids), kNotFound);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_replace),           STORE_TEST(test_replace_needs_confirmed),
      STORE_TEST(test_replace_throttled), cmocka_unit_test(test_record_round_trip),
      STORE_TEST(test_session_factor),
  };
  return cmocka_run_group_tests_name("mfa_replace", tests, nullptr, nullptr);
}
