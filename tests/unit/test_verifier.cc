// Unit tests of verifier.h, every outcome: read-only verifiers, an unopenable store, new
// credentials seen, wrong and unknown, damaged records, expiry, scopes, normalized input
// and user names that are prefixes of others. The fixture is store_fixture.h.

// The fixture brings the headers of common/ these tests use, the standard headers and,
// last, test_util.h (CMocka).
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

void test_verify_store_is_read_only(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  f.admin = Store();
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  MDB_txn* raw = nullptr;
  const int rc = mdb_txn_begin(apppass::internal::StoreAccess::env(v).get(), nullptr, 0, &raw);
  assert_int_not_equal(rc, MDB_SUCCESS);
  if (rc == MDB_SUCCESS) mdb_txn_abort(raw);
  LmdbTxn txn;
  assert_false(LmdbTxn::Begin(apppass::internal::StoreAccess::env(v), true, &txn).ok());
  // None of the admin operations can write through it.
  Made other;
  assert_false(Create(v, "alice", "tablet", &other).ok());
  std::vector<std::string> ids;
  assert_false(
      RevokePasswords(v, "alice", RevokeSelector{.id = {}, .name = {}, .all = true}, kNow, &ids)
          .ok());
  EnrollResult er;
  assert_false(MfaEnroll(v, "bob", "x", kNow, &er).ok());
  int n = 0;
  assert_false(MfaReset(v, "alice", kNow, &n).ok());
  // And it still verifies.
  ASSERT_OUTCOME(V(v, "alice", m.password), Outcome::kAccepted);
}

void test_verify_unopenable_store(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  f.admin = Store();
  ASSERT_OUTCOME(OpenAndVerify(f.dir, "alice", m.password), Outcome::kAccepted);
  Decision d = OpenAndVerify(f.tmp.Join("nonexistent"), "alice", m.password);
  ASSERT_OUTCOME(d, Outcome::kUnavailable);
  ASSERT_CONTAINS(d.detail, "does not exist");
  assert_int_equal(chmod(f.F("key").c_str(), 0644), 0);
  d = OpenAndVerify(f.dir, "alice", m.password);
  ASSERT_OUTCOME(d, Outcome::kUnavailable);
  assert_true(d.detail.find(m.password) == std::string::npos);
  // A decision starts as unavailable: nothing is accepted by default.
  assert_true(Decision{}.outcome == Outcome::kUnavailable);
}

void test_verifier_sees_new_credentials(void** state) {
  Fixture& f = Fx(state);
  const Made before = MustCreate(f.admin, "alice", "before");
  f.admin = Store();
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  ASSERT_OUTCOME(V(v, "alice", before.password), Outcome::kAccepted);
  // Another process (as the admin tool is) writes while v stays open, enough that the
  // data file grows well beyond what v mapped when it opened.
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  const pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    Store a;
    int rc = Store::Open(f.dir, Store::Mode::kAdmin, &a).ok() ? 0 : 1;
    for (int u = 0; rc == 0 && u < 20; ++u) {
      const std::string user = "user" + std::to_string(u) + std::string(200, 'x');
      rc = test::EnrollConfirmed(a, user, kNow).ok() ? 0 : 2;
      for (int i = 0; rc == 0 && i < 10; ++i)
        rc = Create(a, user, std::string(60, 'n') + std::to_string(i), nullptr).ok() ? 0 : 3;
    }
    Made m;
    if (rc == 0) rc = Create(a, "alice", "later", &m).ok() ? 0 : 4;
    if (rc == 0 && write(fds[1], m.password.data(), m.password.size()) !=
                       static_cast<ssize_t>(m.password.size()))
      rc = 5;
    _exit(rc);
  }
  close(fds[1]);
  char buf[64];
  const ssize_t got = read(fds[0], buf, sizeof buf);
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(got > 0);
  const std::string pw(buf, static_cast<std::size_t>(got));
  ASSERT_OUTCOME(V(v, "alice", pw), Outcome::kAccepted);
  ASSERT_OUTCOME(V(v, "alice", before.password), Outcome::kAccepted);
  struct stat st {};
  assert_int_equal(stat(f.F("data.mdb").c_str(), &st), 0);
  assert_true(st.st_size > 200 * 1024);
  std::vector<Listed> all;
  Store a;
  // One environment per store per process (env_registry.h): while v has it open
  // read-only, it cannot be opened for writing here.
  ASSERT_CODE(Store::Open(f.dir, Store::Mode::kAdmin, &a), kUnavailable);
  v = Store();
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &a));
  ASSERT_OK(ListPasswords(a, "", false, &all));
  assert_int_equal(all.size(), 20 * 10 + 2);
}

void test_verify_wrong_and_unknown(void** state) {
  Fixture& f = Fx(state);
  const Made alice = MustCreate(f.admin, "alice", "phone");
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  const Made bob = MustCreate(f.admin, "bob", "phone");

  // Another well-formed password, never issued.
  SecretBuffer other = GeneratePassword();
  ASSERT_OUTCOME(V(f.admin, "alice", other.view()), Outcome::kWrongPassword);
  // Not an app password at all.
  ASSERT_OUTCOME(V(f.admin, "alice", "hunter2"), Outcome::kWrongPassword);
  ASSERT_OUTCOME(V(f.admin, "alice", "0000-0000-0000-0000-0000"), Outcome::kWrongPassword);
  // Another user's password: wrong, and nothing about the other credential leaks.
  Decision d = V(f.admin, "alice", bob.password);
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_true(d.id.empty() && d.name.empty());
  d = V(f.admin, "bob", alice.password);
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_true(d.id.empty());
  // A revoked password of another user is still just wrong, not "revoked".
  Revoke(f.admin, "bob", RevokeSelector{.id = {}, .name = "phone", .all = false});
  ASSERT_OUTCOME(V(f.admin, "alice", bob.password), Outcome::kWrongPassword);
  // A user never enrolled.
  ASSERT_OUTCOME(V(f.admin, "zed", other.view()), Outcome::kUnknownUser);
  ASSERT_OUTCOME(V(f.admin, "zed", "hunter2"), Outcome::kUnknownUser);
  d = V(f.admin, "zed", alice.password);
  ASSERT_OUTCOME(d, Outcome::kUnknownUser);
  assert_true(d.id.empty());
  // User names are compared exactly.
  ASSERT_OUTCOME(V(f.admin, "Alice", alice.password), Outcome::kUnknownUser);
  ASSERT_OUTCOME(V(f.admin, "alice ", alice.password), Outcome::kUnknownUser);
  ASSERT_OUTCOME(V(f.admin, "alice", alice.password), Outcome::kAccepted);
}

// A record that changed after it was written is unavailable, never a more permissive
// credential: the damage a tag exists for (record_tag.h).
void test_damaged_record_is_unavailable(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  const Made b = MustCreate(f.admin, "alice", "laptop", {"smtp"});
  const Made c = MustCreate(f.admin, "alice", "tablet");
  Revoke(f.admin, "alice", RevokeSelector{.id = a.cred.id, .name = {}, .all = false}, kNow + 1);
  const std::string rec = RawRecord(f.admin, a);
  assert_non_null(std::strstr(rec.c_str(), "\"tag\":\""));
  ASSERT_OUTCOME(V(f.admin, "alice", a.password), Outcome::kRevoked);
  // One flipped bit in the key "revoked" ('v' -> 'w'): the JSON still decodes, as an
  // active credential. The tag refuses it.
  std::string flipped = rec;
  flipped[flipped.find("\"revoked\"") + 3] ^= 0x01;
  PutRawRecord(f.admin, a, flipped);
  Decision d = V(f.admin, "alice", a.password);
  ASSERT_OUTCOME(d, Outcome::kUnavailable);
  assert_non_null(std::strstr(d.detail.c_str(), "integrity tag"));
  // A scope lost: "scopes":["smtp"] -> "scopes":[] would be valid everywhere.
  std::string unscoped = RawRecord(f.admin, b);
  unscoped.replace(unscoped.find("[\"smtp\"]"), 8, "[]");
  PutRawRecord(f.admin, b, unscoped);
  ASSERT_OUTCOME(V(f.admin, "alice", b.password, "imap"), Outcome::kUnavailable);
  // An intact record moved under another password's hash.
  PutRawRecord(f.admin, a, RawRecord(f.admin, c));
  ASSERT_OUTCOME(V(f.admin, "alice", a.password), Outcome::kUnavailable);
  // The tag itself damaged, or gone.
  std::string tagless = RawRecord(f.admin, c);
  tagless[tagless.size() - 5] = tagless[tagless.size() - 5] == '0' ? '1' : '0';
  PutRawRecord(f.admin, c, tagless);
  ASSERT_OUTCOME(V(f.admin, "alice", c.password), Outcome::kUnavailable);
  // The admin tool refuses to list or revoke through a damaged record too.
  std::vector<Listed> listed;
  ASSERT_CODE(ListPasswords(f.admin, "alice", true, &listed), kUnavailable);
}

void test_expiry(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "temp", {}, kNow + 10);
  assert_true(m.cred.expires && *m.cred.expires == kNow + 10);
  ASSERT_OUTCOME(V(f.admin, "alice", m.password, "imap", kNow), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", m.password, "imap", kNow + 9), Outcome::kAccepted);
  Decision d = V(f.admin, "alice", m.password, "imap", kNow + 10);
  ASSERT_OUTCOME(d, Outcome::kExpired);
  assert_string_equal(d.id.c_str(), m.cred.id.c_str());
  ASSERT_OUTCOME(V(f.admin, "alice", m.password, "imap", kNow + 11), Outcome::kExpired);
  ASSERT_OUTCOME(V(f.admin, "alice", m.password, "imap", kNow + 86400 * 3650), Outcome::kExpired);
  // Expiry must be in the future.
  Made x;
  ASSERT_CODE(Create(f.admin, "alice", "past", &x, {}, kNow), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", "past", &x, {}, kNow - 1), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", "past", &x, {}, 0), kInvalidArgument);
  // Revoked wins over expired, expired over out of scope.
  const Made s = MustCreate(f.admin, "alice", "scoped", {"pop3"}, kNow + 10);
  ASSERT_OUTCOME(V(f.admin, "alice", s.password, "imap", kNow + 20), Outcome::kExpired);
  Revoke(f.admin, "alice", RevokeSelector{.id = s.cred.id, .name = {}, .all = false}, kNow + 30);
  ASSERT_OUTCOME(V(f.admin, "alice", s.password, "imap", kNow + 20), Outcome::kRevoked);
}

void test_scopes(void** state) {
  Fixture& f = Fx(state);
  const Made pop = MustCreate(f.admin, "alice", "pop", {"pop3"});
  Decision d = V(f.admin, "alice", pop.password, "imap");
  ASSERT_OUTCOME(d, Outcome::kOutOfScope);
  assert_string_equal(d.id.c_str(), pop.cred.id.c_str());
  ASSERT_OUTCOME(V(f.admin, "alice", pop.password, "pop3"), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", pop.password, "pop"), Outcome::kOutOfScope);
  ASSERT_OUTCOME(V(f.admin, "alice", pop.password, "pop3 "), Outcome::kOutOfScope);
  ASSERT_OUTCOME(V(f.admin, "alice", pop.password, ""), Outcome::kOutOfScope);

  // Several scopes, stored sorted without duplicates.
  const Made two = MustCreate(f.admin, "alice", "two", {"smtp", "imap", "smtp"});
  assert_true(two.cred.scopes == (std::vector<std::string>{"imap", "smtp"}));
  ASSERT_OUTCOME(V(f.admin, "alice", two.password, "imap"), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", two.password, "smtp"), Outcome::kAccepted);
  ASSERT_OUTCOME(V(f.admin, "alice", two.password, "pop3"), Outcome::kOutOfScope);

  // --all-services: any service, and the record says it was chosen.
  const Made any = MustCreate(f.admin, "alice", "any");
  assert_true(any.cred.all_services);
  assert_true(any.cred.scopes.empty());
  ASSERT_CONTAINS(RawRecord(f.admin, any), "\"all_services\":true");
  for (const char* service : {"imap", "pop3", "smtp", "sieve", "dovecot", ""})
    ASSERT_OUTCOME(V(f.admin, "alice", any.password, service), Outcome::kAccepted);
  // An old record made without a scope (no all_services) keeps working everywhere.
  Credential old = any.cred;
  old.all_services = false;
  std::string hash;
  {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), false, &txn));
    std::string_view h;
    ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(f.admin).ids, any.cred.id, &h));
    hash = h;
  }
  PutRawRecord(f.admin, any, f.admin.SealCredential(hash, EncodeCredential(old)));
  assert_null(std::strstr(RawRecord(f.admin, any).c_str(), "all_services"));
  for (const char* service : {"imap", "pop3", "smtp", "sieve", "dovecot", ""})
    ASSERT_OUTCOME(V(f.admin, "alice", any.password, service), Outcome::kAccepted);
  // Neither a scope nor --all-services: refused, with what to do; both at once: refused.
  CreateRequest req{.user = "alice", .name = "nothing", .scopes = {}, .expires = {}};
  Created c;
  Status s = CreatePassword(f.admin, req, kNow, &c);
  ASSERT_CODE(s, kInvalidArgument);
  assert_string_equal(s.message().c_str(),
                      "choose the services this password is for with --scope (e.g. --scope imap "
                      "--scope smtp), or --all-services");
  req.scopes = {"imap"};
  req.all_services = true;
  ASSERT_CODE(CreatePassword(f.admin, req, kNow, &c), kInvalidArgument);
  assert_int_equal(List(f.admin, "alice", true).size(), 3);  // pop, two, any: nothing added

  // Scope validation.
  Made x;
  ASSERT_CODE(Create(f.admin, "alice", "bad", &x, {"IMAP"}), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", "bad", &x, {""}), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", "bad", &x, {"imap", "im ap"}), kInvalidArgument);
  std::vector<std::string> many;
  for (int i = 0; i < 17; ++i) many.push_back("s" + std::to_string(i));
  ASSERT_CODE(Create(f.admin, "alice", "bad", &x, many), kInvalidArgument);
  many.pop_back();
  ASSERT_OK(Create(f.admin, "alice", "sixteen", &x, many));
  ASSERT_OUTCOME(V(f.admin, "alice", x.password, "s15"), Outcome::kAccepted);
  // Label validation.
  ASSERT_CODE(Create(f.admin, "alice", "", &x), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", std::string(65, 'n'), &x), kInvalidArgument);
  ASSERT_CODE(Create(f.admin, "alice", "a\nb", &x), kInvalidArgument);
}

void test_normalized_input(void** state) {
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  std::string upper = m.password, bare, spaced = m.password, tabbed = m.password;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (char c : m.password)
    if (c != '-') bare.push_back(c);
  std::replace(spaced.begin(), spaced.end(), '-', ' ');
  std::replace(tabbed.begin(), tabbed.end(), '-', '\t');
  for (const std::string& in :
       {m.password, upper, bare, spaced, tabbed, " " + bare + " ", "-" + upper + "-"}) {
    const Decision d = V(f.admin, "alice", in);
    if (d.outcome != Outcome::kAccepted) fail_msg("variant '%s' not accepted", in.c_str());
  }
  // One character off is wrong, not close enough.
  std::string off = bare;
  off[0] = off[0] == 'a' ? 'b' : 'a';
  ASSERT_OUTCOME(V(f.admin, "alice", off), Outcome::kWrongPassword);
  ASSERT_OUTCOME(V(f.admin, "alice", bare.substr(1)), Outcome::kWrongPassword);
  ASSERT_OUTCOME(V(f.admin, "alice", bare + "a"), Outcome::kWrongPassword);
}

void test_user_prefixes(void** state) {
  // "al" is a prefix of "alice": their credentials must never mix.
  Fixture& f = Fx(state);
  ASSERT_OK(test::EnrollConfirmed(f.admin, "al", kNow));
  ASSERT_OK(test::EnrollConfirmed(f.admin, "alice2", kNow));
  const Made a1 = MustCreate(f.admin, "alice", "one");
  MustCreate(f.admin, "alice", "two");
  MustCreate(f.admin, "alice2", "one");
  Made al, x;
  ASSERT_OK(SetPolicy(f.admin, "max_active", "1"));
  ASSERT_OK(Create(f.admin, "al", "one", &al));  // alice's do not count for al
  ASSERT_CODE(Create(f.admin, "al", "two", &x), kPermissionDenied);
  assert_int_equal(List(f.admin, "al", true).size(), 1);
  assert_int_equal(List(f.admin, "alice", true).size(), 2);
  assert_int_equal(List(f.admin, "alice2", true).size(), 1);
  const std::vector<std::string> ids =
      Revoke(f.admin, "al", RevokeSelector{.id = {}, .name = {}, .all = true});
  assert_true(ids == std::vector<std::string>{al.cred.id});
  ASSERT_OUTCOME(V(f.admin, "alice", a1.password), Outcome::kAccepted);
  int n = 0;
  ASSERT_OK(MfaReset(f.admin, "alice", kNow, &n));
  assert_int_equal(n, 2);
  assert_int_equal(List(f.admin, "alice2", false).size(), 1);
}

// Decision::enrolled: a confirmed enrollment, whatever the outcome; what unenrolled=ignore
// (PAM) and apppass_unenrolled: pwcheck (SASL) decide by.
void test_enrolled(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  Decision d = V(f.admin, "alice", a.password);
  ASSERT_OUTCOME(d, Outcome::kAccepted);
  assert_true(d.enrolled);
  d = V(f.admin, "alice", "hunter2");
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_true(d.enrolled);
  // Never enrolled, and enrolled but not confirmed: not enrolled.
  assert_false(V(f.admin, "zed", "hunter2").enrolled);
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "pending", "x", kNow, &er));
  d = V(f.admin, "pending", "hunter2");
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_false(d.enrolled);
  // Bad input tells nothing.
  d = V(f.admin, "alice", "");
  ASSERT_OUTCOME(d, Outcome::kBadInput);
  assert_false(d.enrolled);
  // A user record that does not decode: unavailable, never "not enrolled" (which would
  // let the user's real password through under unenrolled=ignore).
  {
    StoreTxn txn;
    ASSERT_OK(f.admin.Begin(true, &txn));
    ASSERT_OK(txn.Put(Table::kUsers, "alice", "{not json"));
    ASSERT_OK(txn.Commit());
  }
  d = V(f.admin, "alice", "hunter2");
  ASSERT_OUTCOME(d, Outcome::kUnavailable);
  assert_false(d.enrolled);
  ASSERT_OUTCOME(V(f.admin, "alice", a.password), Outcome::kUnavailable);
  // Another user's damaged record changes nothing for this one.
  ASSERT_OUTCOME(V(f.admin, "zed", "hunter2"), Outcome::kUnknownUser);
  // After a reset: not enrolled (and the password revoked).
  int n = 0;
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  const Made b = MustCreate(f.admin, "bob", "phone");
  assert_true(V(f.admin, "bob", b.password).enrolled);
  ASSERT_OK(MfaReset(f.admin, "bob", kNow, &n));
  d = V(f.admin, "bob", b.password);
  ASSERT_OUTCOME(d, Outcome::kRevoked);
  assert_false(d.enrolled);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_verify_store_is_read_only),
      STORE_TEST(test_verify_unopenable_store),
      STORE_TEST(test_verifier_sees_new_credentials),
      STORE_TEST(test_verify_wrong_and_unknown),
      STORE_TEST(test_damaged_record_is_unavailable),
      STORE_TEST(test_expiry),
      STORE_TEST(test_scopes),
      STORE_TEST(test_normalized_input),
      STORE_TEST(test_user_prefixes),
      STORE_TEST(test_enrolled),
  };
  return cmocka_run_group_tests_name("verifier", tests, nullptr, nullptr);
}
