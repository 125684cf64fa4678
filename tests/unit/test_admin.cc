// Unit tests of admin.h: MFA enrollment, confirmation and reset, creating, listing and
// revoking app passwords, their ids, names, limits and bad input. The fixture is
// store_fixture.h.

// The fixture brings the headers of common/ these tests use, the standard headers and,
// last, test_util.h (CMocka).
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

void test_create_requires_confirmed_mfa(void** state) {
  Fixture& f = Fx(state);
  Made m;
  Status s = Create(f.admin, "bob", "phone", &m);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "mfa enroll");
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "bob", "apppass-test", kNow, &er));
  ASSERT_CODE(Create(f.admin, "bob", "phone", &m), kPermissionDenied);  // pending is not enough
  assert_true(List(f.admin, "bob", true).empty());
  // Confirmed: now it works.
  ASSERT_OK(
      MfaConfirm(f.admin, "bob", test::TotpAt(test::Base32Decode(er.base32.view()), kNow), kNow));
  ASSERT_OK(Create(f.admin, "bob", "phone", &m));
}

void test_enroll_and_confirm(void** state) {
  Fixture& f = Fx(state);
  // A confirmed enrollment cannot be restarted (it would lock the user out of MFA).
  UserRecord before;
  ASSERT_OK(MfaGet(f.admin, "alice", &before));
  assert_true(before.mfa == MfaState::kConfirmed);
  assert_true(before.confirmed && *before.confirmed == kNow);
  assert_int_equal(before.last_step, kNow / kTotpStep);
  EnrollResult er;
  const Status s = MfaEnroll(f.admin, "alice", "apppass-test", kNow + 60, &er);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "reset");
  UserRecord after;
  ASSERT_OK(MfaGet(f.admin, "alice", &after));
  assert_true(after.mfa == MfaState::kConfirmed);
  assert_string_equal(after.sealed_secret.c_str(), before.sealed_secret.c_str());

  // A new enrollment is pending, with the secret sealed (not in the record in any form).
  ASSERT_OK(MfaEnroll(f.admin, "bob", "Example Mail", kNow, &er));
  assert_int_equal(er.base32.size(), 32);
  ASSERT_CONTAINS(er.uri,
                  "otpauth://totp/Example%20Mail:bob?secret=" + std::string(er.base32.view()));
  const std::string raw = test::Base32Decode(er.base32.view());
  assert_int_equal(raw.size(), kTotpSecretBytes);
  UserRecord bob;
  ASSERT_OK(MfaGet(f.admin, "bob", &bob));
  assert_true(bob.mfa == MfaState::kPending);
  assert_int_equal(bob.enrolled, kNow);
  assert_false(bob.confirmed.has_value());
  assert_int_equal(bob.last_step, -1);
  assert_true(bob.sealed_secret.find(std::string(er.base32.view())) == std::string::npos);
  assert_true(bob.sealed_secret.find(raw) == std::string::npos);

  // Wrong and malformed codes leave it pending.
  const std::string wrong = WrongCode(raw, kNow);
  ASSERT_CODE(MfaConfirm(f.admin, "bob", wrong, kNow), kPermissionDenied);
  ASSERT_CODE(MfaConfirm(f.admin, "bob", "abc", kNow), kPermissionDenied);
  ASSERT_OK(MfaGet(f.admin, "bob", &bob));
  assert_true(bob.mfa == MfaState::kPending);

  // Restarting a pending enrollment replaces the secret.
  EnrollResult er2;
  ASSERT_OK(MfaEnroll(f.admin, "bob", "Example Mail", kNow + 1, &er2));
  const std::string raw2 = test::Base32Decode(er2.base32.view());
  assert_true(raw2 != raw);
  const std::string old_code = test::TotpAt(raw, kNow + 1);
  bool coincides = false;
  for (int w : {-30, 0, 30}) coincides |= old_code == test::TotpAt(raw2, kNow + 1 + w);
  if (!coincides) ASSERT_CODE(MfaConfirm(f.admin, "bob", old_code, kNow + 1), kPermissionDenied);

  // The right code confirms; the same code never works twice; the next step does.
  const std::string code = test::TotpAt(raw2, kNow + 2);
  ASSERT_OK(MfaConfirm(f.admin, "bob", code, kNow + 2));
  ASSERT_OK(MfaGet(f.admin, "bob", &bob));
  assert_true(bob.mfa == MfaState::kConfirmed);
  assert_true(bob.confirmed && *bob.confirmed == kNow + 2);
  assert_int_equal(bob.last_step, (kNow + 2) / kTotpStep);
  ASSERT_CODE(MfaConfirm(f.admin, "bob", code, kNow + 3), kPermissionDenied);
  ASSERT_OK(MfaConfirm(f.admin, "bob", test::TotpAt(raw2, kNow + 32), kNow + 32));
  ASSERT_OK(MfaGet(f.admin, "bob", &bob));
  assert_int_equal(bob.last_step, (kNow + 32) / kTotpStep);
  assert_true(*bob.confirmed == kNow + 2);  // a re-check keeps the confirmation time

  // Nobody to confirm; bad user names.
  ASSERT_CODE(MfaConfirm(f.admin, "carol", "123456", kNow), kNotFound);
  ASSERT_CODE(MfaGet(f.admin, "carol", &bob), kNotFound);
  for (const std::string& bad : {""s, "a\0b"s, "\xff"s, "a\nb"s, std::string(257, 'a')}) {
    ASSERT_CODE(MfaEnroll(f.admin, bad, "x", kNow, &er), kInvalidArgument);
    ASSERT_CODE(MfaConfirm(f.admin, bad, "123456", kNow), kInvalidArgument);
    ASSERT_CODE(MfaGet(f.admin, bad, &bob), kInvalidArgument);
    int n = 0;
    ASSERT_CODE(MfaReset(f.admin, bad, kNow, &n), kInvalidArgument);
    Made m;
    ASSERT_CODE(Create(f.admin, bad, "phone", &m), kInvalidArgument);
    std::vector<std::string> ids;
    ASSERT_CODE(RevokePasswords(f.admin, bad, RevokeSelector{.id = {}, .name = {}, .all = true},
                                kNow, &ids),
                kInvalidArgument);
  }
}

void test_mfa_reset(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  const Made b = MustCreate(f.admin, "alice", "laptop");
  const Made c = MustCreate(f.admin, "alice", "old");
  Revoke(f.admin, "alice", RevokeSelector{.id = c.cred.id, .name = {}, .all = false});
  int revoked = -1;
  ASSERT_OK(MfaReset(f.admin, "alice", kNow + 5, &revoked));
  assert_int_equal(revoked, 2);  // the active ones
  for (const Made* m : {&a, &b, &c})
    ASSERT_OUTCOME(V(f.admin, "alice", m->password), Outcome::kRevoked);
  UserRecord u;
  ASSERT_CODE(MfaGet(f.admin, "alice", &u), kNotFound);
  Made m;
  ASSERT_CODE(Create(f.admin, "alice", "new", &m), kPermissionDenied);
  assert_true(List(f.admin, "alice", false).empty());
  assert_int_equal(List(f.admin, "alice", true).size(), 3);
  // Nothing left to reset.
  ASSERT_CODE(MfaReset(f.admin, "alice", kNow + 6, &revoked), kNotFound);
  ASSERT_CODE(MfaReset(f.admin, "nobody", kNow + 6, &revoked), kNotFound);
  // A pending enrollment alone can be reset.
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "bob", "x", kNow, &er));
  ASSERT_OK(MfaReset(f.admin, "bob", kNow, &revoked));
  assert_int_equal(revoked, 0);
  // Enrolling again starts over; the old passwords stay revoked.
  ASSERT_OK(test::EnrollConfirmed(f.admin, "alice", kNow + 60));
  const Made n = MustCreate(f.admin, "alice", "phone");
  ASSERT_OUTCOME(V(f.admin, "alice", n.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", a.password), Outcome::kRevoked);
}

void test_create_and_verify(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "iPhone mail");
  assert_int_equal(m.password.size(), 24);
  assert_int_equal(m.cred.id.size(), 8);
  assert_true(m.cred.id.find_first_not_of("0123456789abcdef") == std::string::npos);
  assert_string_equal(m.cred.user.c_str(), "alice");
  assert_string_equal(m.cred.name.c_str(), "iPhone mail");
  assert_int_equal(m.cred.created, kNow);
  assert_false(m.cred.expires.has_value());
  assert_false(m.cred.revoked.has_value());
  const Decision d = V(f.admin, "alice", m.password);
  ASSERT_OUTCOME(d, Outcome::kAccepted);
  assert_string_equal(d.id.c_str(), m.cred.id.c_str());
  assert_string_equal(d.name.c_str(), "iPhone mail");
  // Through a store opened for verifying, as the PAM module does.
  f.admin = Store();
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  ASSERT_OUTCOME(V(v, "alice", m.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(v, "alice", m.password, "smtp", kNow + 86400 * 365), Outcome::kAccepted);
  // The password is stored nowhere in clear (normalized or displayed).
  const std::string data = test::ReadFile(f.F("data.mdb"));
  std::string normalized = m.password;
  normalized.erase(std::remove(normalized.begin(), normalized.end(), '-'), normalized.end());
  assert_true(data.find(m.password) == std::string::npos);
  assert_true(data.find(normalized) == std::string::npos);
}

void test_ids_unique(void** state) {
  Fixture& f = Fx(state);
  std::set<std::string> ids, passwords;
  for (int i = 0; i < 25; ++i) {
    const Made m = MustCreate(f.admin, "alice", "p" + std::to_string(i));
    ids.insert(m.cred.id);
    passwords.insert(m.password);
  }
  assert_int_equal(ids.size(), 25);
  assert_int_equal(passwords.size(), 25);
}

void test_revoke(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  const Made b = MustCreate(f.admin, "alice", "laptop");
  const Made c = MustCreate(f.admin, "alice", "tablet");
  const Made e = MustCreate(f.admin, "alice", "watch");
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  const Made bob = MustCreate(f.admin, "bob", "phone");

  // By id.
  std::vector<std::string> ids =
      Revoke(f.admin, "alice", RevokeSelector{.id = a.cred.id, .name = {}, .all = false}, kNow + 1);
  assert_true(ids == std::vector<std::string>{a.cred.id});
  Decision d = V(f.admin, "alice", a.password);
  ASSERT_OUTCOME(d, Outcome::kRevoked);
  assert_string_equal(d.id.c_str(), a.cred.id.c_str());  // the log names what was tried
  ASSERT_OUTCOME(V(f.admin, "alice", b.password), Outcome::kAccepted);
  // Again: nothing active matches.
  std::vector<std::string> none;
  ASSERT_CODE(
      RevokePasswords(f.admin, "alice", RevokeSelector{.id = a.cred.id, .name = {}, .all = false},
                      kNow, &none),
      kNotFound);
  // By name.
  ids = Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = "laptop", .all = false});
  assert_true(ids == std::vector<std::string>{b.cred.id});
  ASSERT_OUTCOME(V(f.admin, "alice", b.password), Outcome::kRevoked);
  ASSERT_CODE(
      RevokePasswords(f.admin, "alice", RevokeSelector{.id = {}, .name = "nothing", .all = false},
                      kNow, &none),
      kNotFound);
  ASSERT_CODE(RevokePasswords(f.admin, "alice", RevokeSelector{}, kNow, &none), kNotFound);
  // One user cannot revoke another's password, by id or name.
  ASSERT_CODE(
      RevokePasswords(f.admin, "bob", RevokeSelector{.id = c.cred.id, .name = {}, .all = false},
                      kNow, &none),
      kNotFound);
  ASSERT_CODE(
      RevokePasswords(f.admin, "bob", RevokeSelector{.id = {}, .name = "tablet", .all = false},
                      kNow, &none),
      kNotFound);
  ASSERT_OUTCOME(V(f.admin, "alice", c.password), Outcome::kAccepted);
  // All of alice's; bob's is untouched.
  ids = Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = {}, .all = true}, kNow + 2);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {c.cred.id, e.cred.id};
  std::sort(want.begin(), want.end());
  assert_true(ids == want);
  for (const Made* m : {&a, &b, &c, &e})
    ASSERT_OUTCOME(V(f.admin, "alice", m->password), Outcome::kRevoked);
  ASSERT_OUTCOME(V(f.admin, "bob", bob.password), Outcome::kAccepted);
  ASSERT_CODE(RevokePasswords(f.admin, "alice", RevokeSelector{.id = {}, .name = {}, .all = true},
                              kNow, &none),
              kNotFound);
  // The revocation time is recorded.
  for (const Listed& l : List(f.admin, "alice", true)) {
    assert_true(l.cred.revoked.has_value());
    const std::int64_t want_time = l.cred.id == a.cred.id   ? kNow + 1
                                   : l.cred.id == b.cred.id ? kNow
                                                            : kNow + 2;
    assert_int_equal(*l.cred.revoked, want_time);
  }
}

void test_bad_input(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  auto bad = [&](std::string_view user, std::string_view pw) {
    const Decision d = V(f.admin, user, pw);
    ASSERT_OUTCOME(d, Outcome::kBadInput);
    assert_false(d.detail.empty());
    if (!pw.empty()) assert_true(d.detail.find(pw) == std::string::npos);
    assert_true(d.detail.find(m.password) == std::string::npos);
    assert_true(d.id.empty());
  };
  bad("alice", "");
  bad("alice", std::string(1 << 20, 'a'));
  bad("alice", m.password + std::string(1 << 20, '-'));  // never truncated to a match
  bad("alice", m.password + std::string(kMaxPasswordInput + 1 - m.password.size(), '-'));
  bad("alice", m.password + '\0');
  bad("alice", std::string(1, '\0') + m.password);
  std::string mid = m.password;
  mid[4] = '\0';
  bad("alice", mid);
  bad("", m.password);
  bad("alice\0"s, m.password);
  bad("al\0ice"s, m.password);
  bad("\xff", m.password);
  bad("alic\xc3", m.password);
  bad("ali\nce", m.password);
  bad(std::string(257, 'a'), m.password);
  // At the limit it is still read, and accepted.
  const std::string at_limit = m.password + std::string(kMaxPasswordInput - m.password.size(), '-');
  ASSERT_OUTCOME(V(f.admin, "alice", at_limit), Outcome::kAccepted);
}

void test_limit(void** state) {
  Fixture& f = Fx(state);
  Made a, b, c, d, x;
  ASSERT_OK(SetPolicy(f.admin, "max_active", "3"));  // the stored policy sets the cap
  ASSERT_OK(Create(f.admin, "alice", "a", &a));
  ASSERT_OK(Create(f.admin, "alice", "b", &b));
  ASSERT_OK(Create(f.admin, "alice", "c", &c));
  Status s = Create(f.admin, "alice", "d", &x);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "3 active");
  assert_int_equal(List(f.admin, "alice", true).size(), 3);  // nothing half-created
  Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = "b", .all = false});
  ASSERT_OK(Create(f.admin, "alice", "d", &d));
  ASSERT_CODE(Create(f.admin, "alice", "e", &x), kPermissionDenied);
  // Expired ones do not count.
  Made t;
  ASSERT_OK(SetPolicy(f.admin, "max_active", "4"));
  ASSERT_OK(Create(f.admin, "alice", "t", &t, {}, kNow + 10));
  ASSERT_CODE(Create(f.admin, "alice", "e", &x, {}, {}, kNow + 5), kPermissionDenied);
  ASSERT_OK(Create(f.admin, "alice", "e", &x, {}, {}, kNow + 20));
  ASSERT_OK(ResetPolicy(f.admin));
  // The default limit.
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  for (int i = 0; i < kDefaultMaxActive; ++i) MustCreate(f.admin, "bob", "p" + std::to_string(i));
  ASSERT_CODE(Create(f.admin, "bob", "one-more", &x), kPermissionDenied);
}

void test_duplicate_name(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  Made x;
  const Status s = Create(f.admin, "alice", "phone", &x);
  ASSERT_CODE(s, kAlreadyExists);
  ASSERT_CONTAINS(s.message(), a.cred.id);
  // Another user may use the same name.
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  ASSERT_OK(Create(f.admin, "bob", "phone", &x));
  // Once revoked (or expired), the name is free again.
  Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = "phone", .all = false});
  const Made b = MustCreate(f.admin, "alice", "phone");
  ASSERT_OUTCOME(V(f.admin, "alice", b.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", a.password), Outcome::kRevoked);
  MustCreate(f.admin, "alice", "tablet", {}, kNow + 10);
  ASSERT_CODE(Create(f.admin, "alice", "tablet", &x), kAlreadyExists);
  ASSERT_OK(Create(f.admin, "alice", "tablet", &x, {}, {}, kNow + 10));
}

void test_list(void** state) {
  Fixture& f = Fx(state);
  const Made phone = MustCreate(f.admin, "alice", "phone", {"imap"});
  const Made laptop = MustCreate(f.admin, "alice", "laptop", {}, kNow + 1000);
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  MustCreate(f.admin, "bob", "tablet");

  std::vector<Listed> l = List(f.admin, "alice", false);
  assert_int_equal(l.size(), 2);
  std::set<std::string> names;
  for (const Listed& e : l) {
    names.insert(e.cred.name);
    assert_string_equal(e.cred.user.c_str(), "alice");
    assert_false(e.last_use.has_value());
    if (e.cred.id == phone.cred.id) assert_true(e.cred.scopes == std::vector<std::string>{"imap"});
    if (e.cred.id == laptop.cred.id) assert_true(e.cred.expires && *e.cred.expires == kNow + 1000);
  }
  assert_true(names == (std::set<std::string>{"phone", "laptop"}));

  Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = "laptop", .all = false}, kNow + 5);
  l = List(f.admin, "alice", false);
  assert_int_equal(l.size(), 1);
  assert_string_equal(l[0].cred.name.c_str(), "phone");
  l = List(f.admin, "alice", true);
  assert_int_equal(l.size(), 2);
  for (const Listed& e : l)
    if (e.cred.name == "laptop") assert_true(e.cred.revoked && *e.cred.revoked == kNow + 5);

  assert_int_equal(List(f.admin, "", true).size(), 3);
  assert_int_equal(List(f.admin, "", false).size(), 2);
  assert_true(List(f.admin, "nobody", true).empty());
  std::vector<Listed> out;
  ASSERT_CODE(ListPasswords(f.admin, "\xff", false, &out), kInvalidArgument);

  // Last use comes from the usage database.
  UsageDb usage;
  ASSERT_OK(UsageDb::Open(f.dir, true, &usage));
  ASSERT_OK(usage.Record(
      phone.cred.id,
      Usage{.version = kUsageVersion, .time = kNow + 7, .service = "imap", .rhost = "192.0.2.7"},
      60));
  for (const Listed& e : List(f.admin, "alice", true)) {
    if (e.cred.id == phone.cred.id) {
      assert_true(e.last_use.has_value());
      assert_int_equal(e.last_use->time, kNow + 7);
      assert_string_equal(e.last_use->rhost.c_str(), "192.0.2.7");
    } else {
      assert_false(e.last_use.has_value());
    }
  }
  // Without a usage database, listing still works.
  usage = UsageDb();
  std::error_code ec;
  std::filesystem::remove_all(f.F("usage"), ec);
  assert_int_equal(List(f.admin, "alice", true).size(), 2);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_create_requires_confirmed_mfa),
      STORE_TEST(test_enroll_and_confirm),
      STORE_TEST(test_mfa_reset),
      STORE_TEST(test_create_and_verify),
      STORE_TEST(test_ids_unique),
      STORE_TEST(test_revoke),
      STORE_TEST(test_bad_input),
      STORE_TEST(test_limit),
      STORE_TEST(test_duplicate_name),
      STORE_TEST(test_list),
  };
  return cmocka_run_group_tests_name("admin", tests, nullptr, nullptr);
}
