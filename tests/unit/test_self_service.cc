// Unit tests of self_service.h: every change needs a current TOTP code of the user's
// confirmed enrollment, spent in the same transaction as the change (a refused code
// changes nothing; a refused change spends no code; a code works once), the policy bounds
// what a user may ask for (scopes, expiry, max_active, self-enrollment), and another
// user's records answer "not found"; processes racing with one code make one change.
// Codes are computed with liboath (test::TotpAt). The fixture is store_fixture.h: alice
// is confirmed at kNow, so kNow's step is spent.

#include "self_service.h"

#include "code_throttle.h"
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

// alice's code for time `t`.
SecretBuffer AliceCode(const Fixture& f, std::int64_t t) { return Code(test::TotpAt(f.secret, t)); }

std::int64_t LastStep(const Store& store, const std::string& user) {
  UserRecord u;
  ASSERT_OK(MfaGet(store, user, &u));
  return u.last_step;
}

SelfCreateRequest Req(std::string name, std::vector<std::string> scopes = {"imap"},
                      std::optional<std::int64_t> expires = {}) {
  return SelfCreateRequest{
      .name = std::move(name), .scopes = std::move(scopes), .expires = expires, .never = false};
}

// A user's app passwords (revoked ones too), as "name:state " in name order.
std::string Listing(const Store& store, const std::string& user, std::int64_t now) {
  std::vector<std::string> items;
  for (const Listed& l : List(store, user, true))
    items.push_back(l.cred.name + (l.cred.revoked          ? ":revoked "
                                   : IsActive(l.cred, now) ? ":active "
                                                           : ":expired "));
  std::sort(items.begin(), items.end());
  std::string out;
  for (const auto& i : items) out += i;
  return out;
}

constexpr std::int64_t kT1 = kNow + 30, kT2 = kNow + 60, kT3 = kNow + 90, kT4 = kNow + 120;

void test_create(void** state) {
  Fixture& f = Fx(state);
  Created c;
  ASSERT_OK(
      SelfCreate(f.admin, "alice", Req("phone", {"imap", "smtp"}), AliceCode(f, kT1), kT1, &c));
  assert_string_equal(c.cred.user.c_str(), "alice");
  assert_string_equal(c.cred.name.c_str(), "phone");
  assert_true(c.cred.scopes == (std::vector<std::string>{"imap", "smtp"}));
  assert_int_equal(c.cred.created, kT1);
  assert_false(c.cred.expires.has_value());                       // default_expiry never, no max
  assert_int_equal(LastStep(f.admin, "alice"), kT1 / kTotpStep);  // the code is spent
  ASSERT_OUTCOME(V(f.admin, "alice", c.password.view(), "imap", kT1), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", c.password.view(), "pop3", kT1), Outcome::kOutOfScope);
}

void test_code_checked_and_spent_with_the_change(void** state) {
  Fixture& f = Fx(state);
  Created c;
  // The code of alice's confirmation (kNow's step) was spent then.
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kNow), kNow + 1, &c),
              kPermissionDenied);

  // A change refused after the code was checked (here a label in use) spends no code: the
  // code and the change commit together or not at all.
  Created phone;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kT1), kT1, &phone));
  const Status dup = SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kT2), kT2, &c);
  ASSERT_CODE(dup, kAlreadyExists);
  assert_int_equal(LastStep(f.admin, "alice"), kT1 / kTotpStep);
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("x", {"ssh"}), AliceCode(f, kT2), kT2, &c),
              kInvalidArgument);
  assert_int_equal(LastStep(f.admin, "alice"), kT1 / kTotpStep);
  // So the same code still works, once.
  Created laptop;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("laptop"), AliceCode(f, kT2), kT2, &laptop));
  const Status reused = SelfCreate(f.admin, "alice", Req("tablet"), AliceCode(f, kT2), kT2, &c);
  ASSERT_CODE(reused, kPermissionDenied);
  assert_string_equal(reused.message().c_str(), kWrongCodeMessage);
  // A code spent by a create cannot revoke, nor can an older one.
  std::vector<std::string> ids;
  ASSERT_CODE(SelfRevoke(f.admin, "alice", RevokeSelector{.name = "phone"}, AliceCode(f, kT2),
                         kT2 + 5, &ids),
              kPermissionDenied);
  ASSERT_CODE(SelfRevoke(f.admin, "alice", RevokeSelector{.name = "phone"}, AliceCode(f, kT1),
                         kT2 + 5, &ids),
              kPermissionDenied);
  assert_string_equal(Listing(f.admin, "alice", kT2).c_str(), "laptop:active phone:active ");
  // The next step's code revokes, and is then spent.
  ASSERT_OK(
      SelfRevoke(f.admin, "alice", RevokeSelector{.name = "phone"}, AliceCode(f, kT3), kT3, &ids));
  assert_true(ids == std::vector<std::string>{phone.cred.id});
  ASSERT_OUTCOME(V(f.admin, "alice", phone.password.view(), "imap", kT3), Outcome::kRevoked);
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("tablet"), AliceCode(f, kT3), kT3, &c),
              kPermissionDenied);
  // One step of drift either way, as for every code.
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("tablet"), AliceCode(f, kT4 + 30), kT4, &c));

  // Wrong, malformed, missing: refused with one message, nothing changed. Each in a
  // throttle window of its own (ten wrong codes in one would lock alice out).
  const std::string before = Listing(f.admin, "alice", kT4);
  const std::int64_t step0 = LastStep(f.admin, "alice");
  std::int64_t t = kT4;
  for (const std::string& bad : {"wrong"s, "12345"s, "1234567"s, "abcdef"s, ""s}) {
    t += kCodeFailureWindow;
    const SecretBuffer code = Code(bad == "wrong" ? WrongCode(f.secret, t) : bad);
    const Status s = SelfCreate(f.admin, "alice", Req("other"), code, t, &c);
    ASSERT_CODE(s, kPermissionDenied);
    assert_string_equal(s.message().c_str(), kWrongCodeMessage);
    std::vector<std::string> all;
    const Status r = SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, code, t, &all);
    ASSERT_CODE(r, kPermissionDenied);
    assert_string_equal(r.message().c_str(), kWrongCodeMessage);
  }
  assert_string_equal(Listing(f.admin, "alice", kT4).c_str(), before.c_str());
  assert_int_equal(LastStep(f.admin, "alice"), step0);
}

void test_no_enrollment(void** state) {
  Fixture& f = Fx(state);
  Created c;
  std::vector<std::string> ids;
  // bob has no enrollment at all.
  Status s = SelfCreate(f.admin, "bob", Req("phone"), Code("123456"), kT1, &c);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kNoMfaMessage);
  s = SelfRevoke(f.admin, "bob", RevokeSelector{.all = true}, Code("123456"), kT1, &ids);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kNoMfaMessage);
  s = SelfMfaConfirm(f.admin, "bob", Code("123456"), kT1);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kNoMfaMessage);
  UserRecord u;
  ASSERT_CODE(MfaGet(f.admin, "bob", &u), kNotFound);

  // A pending enrollment is not enough for a change, even with its right code, and that
  // code is not spent: it then confirms.
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "bob", "apppass-test", kNow, &er));
  const std::string bob = test::Base32Decode(er.base32.view());
  s = SelfCreate(f.admin, "bob", Req("phone"), Code(test::TotpAt(bob, kT1)), kT1, &c);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kNoMfaMessage);
  assert_string_equal(Listing(f.admin, "bob", kT1).c_str(), "");
  ASSERT_OK(SelfMfaConfirm(f.admin, "bob", Code(test::TotpAt(bob, kT1)), kT1));
  ASSERT_OK(MfaGet(f.admin, "bob", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  ASSERT_OK(SelfCreate(f.admin, "bob", Req("phone"), Code(test::TotpAt(bob, kT2)), kT2, &c));
  // Bad user names never reach the store.
  ASSERT_CODE(SelfCreate(f.admin, "", Req("phone"), Code("123456"), kT1, &c), kInvalidArgument);
  ASSERT_CODE(SelfMfaConfirm(f.admin, "a\nb", Code("123456"), kT1), kInvalidArgument);
}

void test_scopes(void** state) {
  Fixture& f = Fx(state);
  Created c;
  Status s = SelfCreate(f.admin, "alice", Req("all", {}), AliceCode(f, kT1), kT1, &c);
  ASSERT_CODE(s, kInvalidArgument);  // a user always chooses; "every service" is for admins
  ASSERT_CONTAINS(s.message(), "imap pop3 smtp sieve");
  s = SelfCreate(f.admin, "alice", Req("x", {"imap", "ssh"}), AliceCode(f, kT1), kT1, &c);
  ASSERT_CODE(s, kInvalidArgument);
  ASSERT_CONTAINS(s.message(), "\"ssh\"");
  ASSERT_CONTAINS(s.message(), "allowed: imap pop3 smtp sieve");
  s = SelfCreate(f.admin, "alice", Req("x", {"su\x1b[0m"}), AliceCode(f, kT1), kT1, &c);
  ASSERT_CODE(s, kInvalidArgument);
  assert_true(s.message().find('\x1b') == std::string::npos);
  ASSERT_OK(
      SelfCreate(f.admin, "alice", Req("mail", {"sieve", "pop3"}), AliceCode(f, kT1), kT1, &c));
  // The policy's list decides.
  ASSERT_OK(SetPolicy(f.admin, "self_service_scopes", "imap submission"));
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("y", {"smtp"}), AliceCode(f, kT2), kT2, &c),
              kInvalidArgument);
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("y", {"submission"}), AliceCode(f, kT2), kT2, &c));
  assert_string_equal(Listing(f.admin, "alice", kT2).c_str(), "mail:active y:active ");
}

void test_expiry(void** state) {
  Fixture& f = Fx(state);
  constexpr std::int64_t kDay = 86400;
  Created c;
  std::int64_t t = kT1;
  auto next = [&t] { return t += 30; };
  auto create = [&](const std::string& name, std::optional<std::int64_t> expires, bool never) {
    SelfCreateRequest r = Req(name, {"imap"}, expires);
    r.never = never;
    const std::int64_t now = next();
    return SelfCreate(f.admin, "alice", r, AliceCode(f, now), now, &c);
  };
  // No policy: never by default, any duration, "never".
  ASSERT_OK(create("a", {}, false));
  assert_false(c.cred.expires.has_value());
  ASSERT_OK(create("b", 400 * kDay, false));
  assert_int_equal(*c.cred.expires, t + 400 * kDay);
  ASSERT_OK(create("c", {}, true));
  assert_false(c.cred.expires.has_value());
  for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-5}, std::int64_t{1} << 60})
    ASSERT_CODE(create("d", bad, false), kInvalidArgument);
  ASSERT_CODE(create("d", kDay, true), kInvalidArgument);  // both at once
  // default_expiry applies when none is asked for.
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "30d"));
  ASSERT_OK(create("d", {}, false));
  assert_int_equal(*c.cred.expires, t + 30 * kDay);
  // max_expiry: longer is refused, naming the limit; never too; the limit itself is fine.
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "90d"));
  Status s = create("e", 91 * kDay, false);
  ASSERT_CODE(s, kInvalidArgument);
  ASSERT_CONTAINS(s.message(), "90d");
  s = create("e", {}, true);
  ASSERT_CODE(s, kInvalidArgument);
  ASSERT_CONTAINS(s.message(), "90d");
  ASSERT_OK(create("e", 90 * kDay, false));
  assert_int_equal(*c.cred.expires, t + 90 * kDay);
  ASSERT_OK(create("f", 3600, false));
  assert_int_equal(*c.cred.expires, t + 3600);
  // No default under a max: the max.
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "never"));
  ASSERT_OK(create("g", {}, false));
  assert_int_equal(*c.cred.expires, t + 90 * kDay);
  // Admins are not bound by the expiry rules.
  MustCreate(f.admin, "alice", "admin-made");
  assert_string_equal(Listing(f.admin, "alice", t).c_str(),
                      "a:active admin-made:active b:active c:active d:active e:active f:active "
                      "g:active ");
}

void test_max_active(void** state) {
  Fixture& f = Fx(state);
  ASSERT_OK(SetPolicy(f.admin, "max_active", "2"));
  Created a, b, c;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("a"), AliceCode(f, kT1), kT1, &a));
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("b"), AliceCode(f, kT2), kT2, &b));
  const Status s = SelfCreate(f.admin, "alice", Req("c"), AliceCode(f, kT3), kT3, &c);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "2 active");
  assert_int_equal(LastStep(f.admin, "alice"), kT2 / kTotpStep);  // not spent
  // The admin is bound by the same cap.
  Made m;
  ASSERT_CODE(Create(f.admin, "alice", "admin", &m, {}, {}, kT3), kPermissionDenied);
  // Revoking one makes room; the code refused above still works once.
  std::vector<std::string> ids;
  ASSERT_OK(
      SelfRevoke(f.admin, "alice", RevokeSelector{.id = a.cred.id}, AliceCode(f, kT3), kT3, &ids));
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("c"), AliceCode(f, kT4), kT4, &c));
  assert_string_equal(Listing(f.admin, "alice", kT4).c_str(), "a:revoked b:active c:active ");
}

void test_other_users_records_not_found(void** state) {
  Fixture& f = Fx(state);
  std::string bob_secret;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow, &bob_secret));
  const Made bobs = MustCreate(f.admin, "bob", "bobphone");
  ASSERT_OK(test::EnrollConfirmed(f.admin, "al", kNow));  // a prefix of alice
  const Made als = MustCreate(f.admin, "al", "phone");
  Created mine;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kT1), kT1, &mine));
  for (const RevokeSelector& sel :
       {RevokeSelector{.id = bobs.cred.id}, RevokeSelector{.name = "bobphone"},
        RevokeSelector{.id = als.cred.id}, RevokeSelector{.id = "00000000"},
        RevokeSelector{.name = "nothing"}}) {
    std::vector<std::string> ids;
    const Status s = SelfRevoke(f.admin, "alice", sel, AliceCode(f, kT2), kT2, &ids);
    ASSERT_CODE(s, kNotFound);
    assert_true(s.message().find("bob") == std::string::npos);
    assert_true(ids.empty());
  }
  assert_string_equal(Listing(f.admin, "bob", kT2).c_str(), "bobphone:active ");
  assert_string_equal(Listing(f.admin, "al", kT2).c_str(), "phone:active ");
  // The refused revokes spent nothing: the code still revokes alice's own "phone" (and
  // only hers, though al has one of that name).
  std::vector<std::string> ids;
  ASSERT_OK(
      SelfRevoke(f.admin, "alice", RevokeSelector{.name = "phone"}, AliceCode(f, kT2), kT2, &ids));
  assert_true(ids == std::vector<std::string>{mine.cred.id});
  assert_string_equal(Listing(f.admin, "al", kT2).c_str(), "phone:active ");
  // bob's code is no use for alice.
  ASSERT_CODE(
      SelfCreate(f.admin, "alice", Req("x"), Code(test::TotpAt(bob_secret, kT3)), kT3, &mine),
      kPermissionDenied);
}

void test_revoke_selectors(void** state) {
  Fixture& f = Fx(state);
  Created a, b, c;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("a"), AliceCode(f, kT1), kT1, &a));
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("b"), AliceCode(f, kT2), kT2, &b));
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("c"), AliceCode(f, kT3), kT3, &c));
  std::vector<std::string> ids;
  // Exactly one selector.
  for (const RevokeSelector& sel : {RevokeSelector{}, RevokeSelector{.id = a.cred.id, .name = "b"},
                                    RevokeSelector{.id = a.cred.id, .all = true}})
    ASSERT_CODE(SelfRevoke(f.admin, "alice", sel, AliceCode(f, kT4), kT4, &ids), kInvalidArgument);
  std::int64_t t = kT4;
  ASSERT_OK(SelfRevoke(f.admin, "alice", RevokeSelector{.name = "b"}, AliceCode(f, t), t, &ids));
  assert_true(ids == std::vector<std::string>{b.cred.id});
  t += 30;
  ids.clear();
  ASSERT_OK(
      SelfRevoke(f.admin, "alice", RevokeSelector{.id = a.cred.id}, AliceCode(f, t), t, &ids));
  assert_true(ids == std::vector<std::string>{a.cred.id});
  t += 30;
  // Already revoked: not found.
  ASSERT_CODE(
      SelfRevoke(f.admin, "alice", RevokeSelector{.id = a.cred.id}, AliceCode(f, t), t, &ids),
      kNotFound);
  ids.clear();
  ASSERT_OK(SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, AliceCode(f, t), t, &ids));
  assert_true(ids == std::vector<std::string>{c.cred.id});
  t += 30;
  ASSERT_CODE(SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, AliceCode(f, t), t, &ids),
              kNotFound);
  for (const Created* x : {&a, &b, &c})
    ASSERT_OUTCOME(V(f.admin, "alice", x->password.view(), "imap", t), Outcome::kRevoked);
}

void test_self_enroll(void** state) {
  Fixture& f = Fx(state);
  EnrollResult er;
  UserRecord u;
  // Off by default: refused, nothing recorded.
  Status s = SelfMfaEnroll(f.admin, "carol", "Example", kNow, &er);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kSelfEnrollOffMessage);
  ASSERT_CODE(MfaGet(f.admin, "carol", &u), kNotFound);
  // Allowed: a pending enrollment, restartable while pending.
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "yes"));
  ASSERT_OK(SelfMfaEnroll(f.admin, "carol", "Example", kNow, &er));
  ASSERT_CONTAINS(er.uri, "otpauth://totp/Example:carol?secret=");
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kPending);
  const std::string first = test::Base32Decode(er.base32.view());
  ASSERT_OK(SelfMfaEnroll(f.admin, "carol", "Example", kNow + 1, &er));
  const std::string secret = test::Base32Decode(er.base32.view());
  assert_true(secret != first);
  // Confirm: a wrong code leaves it pending; the right one confirms; not twice.
  s = SelfMfaConfirm(f.admin, "carol", Code(WrongCode(secret, kT1)), kT1);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kWrongCodeMessage);
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kPending);
  ASSERT_OK(SelfMfaConfirm(f.admin, "carol", Code(test::TotpAt(secret, kT1)), kT1));
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  assert_true(u.confirmed && *u.confirmed == kT1);
  ASSERT_CODE(SelfMfaConfirm(f.admin, "carol", Code(test::TotpAt(secret, kT1)), kT1),
              kPermissionDenied);
  // Confirmed: no restart by the user (it would let whoever has the shell replace the
  // device); the admin resets.
  s = SelfMfaEnroll(f.admin, "carol", "Example", kT2, &er);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kAlreadyEnrolledMessage);
  s = SelfMfaEnroll(f.admin, "alice", "Example", kT2, &er);
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kAlreadyEnrolledMessage);
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  // Carol may now create with her own codes.
  Created c;
  ASSERT_OK(SelfCreate(f.admin, "carol", Req("phone"), Code(test::TotpAt(secret, kT2)), kT2, &c));
  // Turned off again: a pending enrollment can no longer be restarted (but still confirmed).
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "no"));
  ASSERT_OK(MfaEnroll(f.admin, "dave", "Example", kNow, &er));
  ASSERT_CODE(SelfMfaEnroll(f.admin, "dave", "Example", kNow, &er), kPermissionDenied);
  ASSERT_OK(SelfMfaConfirm(f.admin, "dave",
                           Code(test::TotpAt(test::Base32Decode(er.base32.view()), kT1)), kT1));
  // New names are checked as MfaEnroll checks them.
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "yes"));
  ASSERT_CODE(SelfMfaEnroll(f.admin, "e\xe2\x80\xae", "Example", kNow, &er), kInvalidArgument);
}

// Corrupt policy: every self-service call that depends on it refuses, nothing changes and
// no code is spent.
void test_corrupt_policy(void** state) {
  Fixture& f = Fx(state);
  {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), true, &txn));
    ASSERT_OK(
        txn.Put(apppass::internal::StoreAccess::dbs(f.admin).meta, "policy", R"({"version":9})"));
    ASSERT_OK(txn.Commit());
  }
  Created c;
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kT1), kT1, &c), kUnavailable);
  EnrollResult er;
  ASSERT_CODE(SelfMfaEnroll(f.admin, "carol", "Example", kT1, &er), kUnavailable);
  UserRecord u;
  ASSERT_CODE(MfaGet(f.admin, "carol", &u), kNotFound);
  assert_int_equal(LastStep(f.admin, "alice"), kNow / kTotpStep);
  assert_string_equal(Listing(f.admin, "alice", kT1).c_str(), "");
  // After a reset the same code works.
  ASSERT_OK(ResetPolicy(f.admin));
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, kT1), kT1, &c));
}

// Processes racing with one code: LMDB serializes the writers, and each checks the code in
// its own write transaction, so exactly one change goes through; the others see the step
// spent. Each child opens its own Store (never one across fork()).
void test_one_code_many_processes(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();  // closed in this process before forking
  constexpr int kChildren = 6;
  int go[2];
  assert_int_equal(::pipe(go), 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < kChildren; ++i) {
    const pid_t pid = ::fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      Store store;
      if (!Store::Open(f.dir, Store::Mode::kAdmin, &store).ok()) ::_exit(3);
      char c;
      if (::read(go[0], &c, 1) != 0) ::_exit(4);  // EOF: all go at once
      Created made;
      const Status s =
          SelfCreate(store, "alice", Req("p" + std::to_string(i)), AliceCode(f, kT1), kT1, &made);
      if (s.ok()) ::_exit(0);
      ::_exit(s.code() == Status::Code::kPermissionDenied && s.message() == kWrongCodeMessage ? 10
                                                                                              : 5);
    }
    kids.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);
  int created = 0, refused = 0;
  for (pid_t pid : kids) {
    int st = 0;
    assert_int_equal(::waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 0) ++created;
    else if (WEXITSTATUS(st) == 10) ++refused;
    else fail_msg("a child exited %d", WEXITSTATUS(st));
  }
  assert_int_equal(created, 1);
  assert_int_equal(refused, kChildren - 1);
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  assert_int_equal(List(f.admin, "alice", true).size(), 1);
  assert_int_equal(LastStep(f.admin, "alice"), kT1 / kTotpStep);
}

// The throttle's rule on a record (code_throttle.h): kMaxCodeFailures wrong codes in a
// fixed window of kCodeFailureWindow seconds from the first, then refused until it ends.
void test_throttle_rule(void**) {
  constexpr std::int64_t t0 = 1700000000;
  UserRecord u;
  ASSERT_OK(CodeThrottleCheck(u, t0));
  for (int i = 0; i < kMaxCodeFailures - 1; ++i) CountCodeFailure(&u, t0 + i);
  assert_int_equal(u.code_failures, kMaxCodeFailures - 1);
  assert_int_equal(u.code_window_start, t0);
  ASSERT_OK(CodeThrottleCheck(u, t0 + 10));
  CountCodeFailure(&u, t0 + 10);
  const struct {
    std::int64_t at;
    const char* message;
  } locked[] = {
      {t0 + 10, "too many wrong verification codes; try again in 10 minutes"},
      {t0 + 60, "too many wrong verification codes; try again in 9 minutes"},
      {t0 + 539, "too many wrong verification codes; try again in 2 minutes"},
      {t0 + 540, "too many wrong verification codes; try again in 1 minute"},
      {t0 + 599, "too many wrong verification codes; try again in 1 minute"},
  };
  for (const auto& l : locked) {
    const Status s = CodeThrottleCheck(u, l.at);
    ASSERT_CODE(s, kPermissionDenied);
    assert_string_equal(s.message().c_str(), l.message);
    assert_true(IsCodeThrottled(s));
  }
  // The window is fixed: it ends kCodeFailureWindow after its first wrong code.
  ASSERT_OK(CodeThrottleCheck(u, t0 + kCodeFailureWindow));
  // A clock set back before the window's start ends it (never a lockout longer than one
  // window from now).
  ASSERT_OK(CodeThrottleCheck(u, t0 - 1));
  // A wrong code after the window starts a new one.
  CountCodeFailure(&u, t0 + kCodeFailureWindow);
  assert_int_equal(u.code_failures, 1);
  assert_int_equal(u.code_window_start, t0 + kCodeFailureWindow);
  ClearCodeFailures(&u);
  assert_int_equal(u.code_failures, 0);
  assert_int_equal(u.code_window_start, 0);
  assert_false(IsCodeThrottled(Status::PermissionDenied(kWrongCodeMessage)));
  assert_false(IsCodeThrottled(Status::Unavailable("too many wrong verification codes")));
}

// alice's enrollment record as stored (JSON).
std::string RawUser(const Store& store, const std::string& user) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(internal::StoreAccess::env(store), false, &txn));
  std::string_view v;
  ASSERT_OK(txn.Get(internal::StoreAccess::dbs(store).users, user, &v));
  return std::string(v);
}

UserRecord UserOf(const Store& store, const std::string& user) {
  UserRecord u;
  ASSERT_OK(MfaGet(store, user, &u));
  return u;
}

void AssertWrong(const Status& s) {
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(), kWrongCodeMessage);
}

void AssertThrottled(const Status& s, const char* minutes) {
  ASSERT_CODE(s, kPermissionDenied);
  assert_string_equal(s.message().c_str(),
                      ("too many wrong verification codes; try again in "s + minutes).c_str());
}

// Five wrong codes in ten minutes, through any way in: every code is then refused (a
// right one too, and it is not spent) until the window ends; nothing changes meanwhile.
void test_throttle_lockout(void** state) {
  Fixture& f = Fx(state);
  Created c;
  std::vector<std::string> ids;
  auto wrong = [&](std::int64_t t) { return Code(WrongCode(f.secret, t)); };
  // The record an apppass without the throttle wrote: no throttle fields.
  assert_true(RawUser(f.admin, "alice").find("code_") == std::string::npos);
  const std::int64_t start = kT1;
  AssertWrong(SelfCreate(f.admin, "alice", Req("phone"), wrong(start), start, &c));
  assert_true(RawUser(f.admin, "alice").find(R"("code_failures":1)") != std::string::npos);
  AssertWrong(SelfCreate(f.admin, "alice", Req("phone"), wrong(start + 1), start + 1, &c));
  AssertWrong(
      SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, wrong(start + 2), start + 2, &ids));
  AssertWrong(
      SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, Code("12"), start + 3, &ids));
  AssertWrong(SelfMfaConfirm(f.admin, "alice", wrong(start + 4), start + 4));
  UserRecord u = UserOf(f.admin, "alice");
  assert_int_equal(u.code_failures, kMaxCodeFailures);
  assert_int_equal(u.code_window_start, start);

  // Locked: refused before the code is compared, right or wrong, by every call; nothing
  // is written (the lockout's attempts are not counted and do not extend it).
  const std::string locked_record = RawUser(f.admin, "alice");
  const std::int64_t tl = start + 5;
  AssertThrottled(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, tl), tl, &c),
                  "10 minutes");
  AssertThrottled(
      SelfRevoke(f.admin, "alice", RevokeSelector{.all = true}, AliceCode(f, tl), tl, &ids),
      "10 minutes");
  AssertThrottled(SelfMfaConfirm(f.admin, "alice", AliceCode(f, tl), tl), "10 minutes");
  AssertThrottled(SelfCreate(f.admin, "alice", Req("phone"), wrong(tl), tl, &c), "10 minutes");
  // The last second of the window; the right code of the first second after it (one step
  // of drift) is refused, and not spent.
  const std::int64_t end = start + kCodeFailureWindow;
  AssertThrottled(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, end), end - 1, &c),
                  "1 minute");
  assert_string_equal(RawUser(f.admin, "alice").c_str(), locked_record.c_str());
  assert_string_equal(Listing(f.admin, "alice", end).c_str(), "");
  assert_int_equal(LastStep(f.admin, "alice"), kNow / kTotpStep);
  // `apppass check` finds nothing wrong with a throttled record.
  CheckReport report;
  ASSERT_OK(CheckStore(f.dir, CheckOptions{.now = end}, &report));
  assert_true(report.clean());
  assert_int_equal(report.users, 1);

  // The window over, the same code works, once, and clears the count (the record is
  // again as an apppass without the throttle wrote it).
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, end), end, &c));
  u = UserOf(f.admin, "alice");
  assert_int_equal(u.code_failures, 0);
  assert_int_equal(u.code_window_start, 0);
  assert_true(RawUser(f.admin, "alice").find("code_") == std::string::npos);
  AssertWrong(SelfCreate(f.admin, "alice", Req("tablet"), AliceCode(f, end), end, &c));
  assert_string_equal(Listing(f.admin, "alice", end).c_str(), "phone:active ");
}

// A right code clears the count, when its change commits; wrong codes in an earlier
// window do not add up.
void test_throttle_right_code_resets(void** state) {
  Fixture& f = Fx(state);
  Created c;
  std::int64_t t = kT1;
  auto four_wrong = [&] {
    for (int i = 0; i < kMaxCodeFailures - 1; ++i, ++t)
      AssertWrong(SelfCreate(f.admin, "alice", Req("x"), Code(WrongCode(f.secret, t)), t, &c));
    assert_int_equal(UserOf(f.admin, "alice").code_failures, kMaxCodeFailures - 1);
  };
  four_wrong();
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("a"), AliceCode(f, t), t, &c));
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 0);
  t += 30;
  four_wrong();  // 8 in this window without the reset
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("b"), AliceCode(f, t), t, &c));
  t += 30;
  // A right code whose change is refused spends nothing and clears nothing: the code's
  // use commits with the change.
  four_wrong();
  ASSERT_CODE(SelfCreate(f.admin, "alice", Req("c", {"ssh"}), AliceCode(f, t), t, &c),
              kInvalidArgument);
  assert_int_equal(UserOf(f.admin, "alice").code_failures, kMaxCodeFailures - 1);
  AssertWrong(SelfCreate(f.admin, "alice", Req("c"), Code(WrongCode(f.secret, t)), t, &c));
  AssertThrottled(SelfCreate(f.admin, "alice", Req("c"), AliceCode(f, t), t + 1, &c), "10 minutes");
  // Four wrong codes, then four more in the next window: no lockout.
  t += kCodeFailureWindow;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("c"), AliceCode(f, t), t, &c));
  t += 30;
  four_wrong();
  t += kCodeFailureWindow;
  four_wrong();
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("d"), AliceCode(f, t), t, &c));
  assert_string_equal(Listing(f.admin, "alice", t).c_str(), "a:active b:active c:active d:active ");
}

// Root at a shell is trusted: the admin's `mfa confirm` is not throttled and does not
// count, and its right code clears a lockout. One user's lockout is not another's.
void test_throttle_admin_and_other_users(void** state) {
  Fixture& f = Fx(state);
  std::string bob;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow, &bob));
  Created c;
  std::int64_t t = kT1;
  for (int i = 0; i < kMaxCodeFailures; ++i, ++t)
    AssertWrong(SelfMfaConfirm(f.admin, "alice", Code(WrongCode(f.secret, t)), t));
  AssertThrottled(SelfMfaConfirm(f.admin, "alice", AliceCode(f, t), t), "10 minutes");
  ASSERT_OK(SelfCreate(f.admin, "bob", Req("phone"), Code(test::TotpAt(bob, t)), t, &c));
  const std::string locked_record = RawUser(f.admin, "alice");
  ASSERT_CODE(MfaConfirm(f.admin, "alice", WrongCode(f.secret, t), t), kPermissionDenied);
  assert_string_equal(RawUser(f.admin, "alice").c_str(), locked_record.c_str());
  ASSERT_OK(MfaConfirm(f.admin, "alice", test::TotpAt(f.secret, t), t));
  assert_int_equal(UserOf(f.admin, "alice").code_failures, 0);
  t += 30;
  ASSERT_OK(SelfCreate(f.admin, "alice", Req("phone"), AliceCode(f, t), t, &c));
}

// Processes racing with wrong codes: the lockout is checked and the failure counted in
// one write transaction, so exactly kMaxCodeFailures codes are compared, however many
// arrive at once.
void test_throttle_many_processes(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();  // closed in this process before forking
  constexpr int kChildren = 12;
  int go[2];
  assert_int_equal(::pipe(go), 0);
  const std::string bad = WrongCode(f.secret, kT1);
  std::vector<pid_t> kids;
  for (int i = 0; i < kChildren; ++i) {
    const pid_t pid = ::fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      Store store;
      if (!Store::Open(f.dir, Store::Mode::kAdmin, &store).ok()) ::_exit(3);
      char ch;
      if (::read(go[0], &ch, 1) != 0) ::_exit(4);  // EOF: all go at once
      Created made;
      const Status s =
          SelfCreate(store, "alice", Req("p" + std::to_string(i)), Code(bad), kT1, &made);
      if (s.code() != Status::Code::kPermissionDenied) ::_exit(5);
      if (s.message() == kWrongCodeMessage) ::_exit(10);
      ::_exit(IsCodeThrottled(s) ? 11 : 6);
    }
    kids.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);
  int wrong = 0, throttled = 0;
  for (pid_t pid : kids) {
    int st = 0;
    assert_int_equal(::waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 10) ++wrong;
    else if (WEXITSTATUS(st) == 11) ++throttled;
    else fail_msg("a child exited %d", WEXITSTATUS(st));
  }
  assert_int_equal(wrong, kMaxCodeFailures);
  assert_int_equal(throttled, kChildren - kMaxCodeFailures);
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  assert_int_equal(UserOf(f.admin, "alice").code_failures, kMaxCodeFailures);
  assert_int_equal(List(f.admin, "alice", true).size(), 0);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_create),
      STORE_TEST(test_code_checked_and_spent_with_the_change),
      STORE_TEST(test_no_enrollment),
      STORE_TEST(test_scopes),
      STORE_TEST(test_expiry),
      STORE_TEST(test_max_active),
      STORE_TEST(test_other_users_records_not_found),
      STORE_TEST(test_revoke_selectors),
      STORE_TEST(test_self_enroll),
      STORE_TEST(test_corrupt_policy),
      STORE_TEST(test_one_code_many_processes),
      cmocka_unit_test(test_throttle_rule),
      STORE_TEST(test_throttle_lockout),
      STORE_TEST(test_throttle_right_code_resets),
      STORE_TEST(test_throttle_admin_and_other_users),
      STORE_TEST(test_throttle_many_processes),
  };
  return cmocka_run_group_tests_name("self_service", tests, nullptr, nullptr);
}
