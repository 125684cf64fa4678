// Unit tests of store_check.h (CheckStore) and of a full store (the map size recorded in
// meta "map_size"): a clean store has no findings and the right counts; each invariant
// broken directly in LMDB gives a problem naming its table and key; a store that cannot
// be opened is Unavailable; a create that finds the map full fails with a clear message
// and leaves the store as it was, and raising the map size lets it through.
//
// Each test gets a fresh store in its own mkdtemp directory (setup), with "alice"
// enrolled and confirmed at kNow and two app passwords. Time is injected.

#include <sys/stat.h>

#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "admin.h"
#include "lmdb_env.h"
#include "records.h"
#include "store.h"
#include "store_check.h"
#include "store_internal.h"
#include "verifier.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;
  std::string dir;
  Store admin;
  std::vector<Created> made;  // alice's two app passwords
};

Status MakeOne(const Store& store, const std::string& user, const std::string& name, Created* out) {
  CreateRequest req;
  req.user = user;
  req.name = name;
  req.scopes = {"imap", "smtp"};
  return CreatePassword(store, req, kNow, out);
}

int Setup(void** state) {
  auto* f = new Fixture;
  f->dir = f->tmp.Join("store");
  Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin);
  for (const char* name : {"phone", "laptop"}) {
    if (!s.ok()) break;
    f->made.emplace_back();
    s = MakeOne(f->admin, "alice", name, &f->made.back());
  }
  if (!s.ok()) {
    print_error("making the test store failed: %s\n", s.message().c_str());
    delete f;
    return -1;
  }
  *state = f;
  return 0;
}

int Teardown(void** state) {
  delete static_cast<Fixture*>(*state);
  return 0;
}

Fixture& Fx(void** state) { return *static_cast<Fixture*>(*state); }

CheckReport Check(const std::string& dir) {
  CheckReport r;
  ASSERT_OK(CheckStore(dir, CheckOptions{.now = kNow}, &r));
  return r;
}

// The report has a problem in `table` whose key and message contain `key` and `what`.
void ExpectProblem(const CheckReport& r, const std::string& table, const std::string& key,
                   const std::string& what) {
  for (const auto& f : r.findings)
    if (f.level == CheckLevel::kProblem && f.table == table &&
        f.key.find(key) != std::string::npos && f.message.find(what) != std::string::npos &&
        !f.fix.empty())
      return;
  fail_msg("no problem in %s about '%s' saying '%s'; report:\n%s", table.c_str(), key.c_str(),
           what.c_str(), FormatCheckText("store", r).c_str());
}

// The hash key of alice's credential `i`.
std::string HashOf(const Fixture& f, std::size_t i) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), false, &txn));
  std::string_view hash;
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(f.admin).ids, f.made[i].cred.id, &hash));
  return std::string(hash);
}

// Runs `edit` in one write transaction on the store, then closes the admin store so
// the check sees the store as another process would.
template <typename Edit>
void Tamper(Fixture& f, Edit edit) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), true, &txn));
  edit(txn, apppass::internal::StoreAccess::dbs(f.admin));
  ASSERT_OK(txn.Commit());
  f.admin = Store();
}

std::string UserId(const std::string& user, const std::string& id) { return user + '\0' + id; }

void CleanStore(void** state) {
  Fixture& f = Fx(state);
  ASSERT_OK(test::EnrollConfirmed(f.admin, "bob", kNow));
  Created b;
  ASSERT_OK(MakeOne(f.admin, "bob", "tablet", &b));
  std::vector<std::string> ids;
  ASSERT_OK(RevokePasswords(f.admin, "bob", RevokeSelector{.id = b.cred.id}, kNow, &ids));
  const CheckReport r = Check(f.dir);
  assert_true(r.findings.empty());
  assert_true(r.clean());
  assert_int_equal(r.users, 2);
  assert_int_equal(r.credentials, 3);
  assert_int_equal(r.active, 2);
  assert_int_equal(r.revoked, 1);
  assert_int_equal(r.expired, 0);
  ASSERT_CONTAINS(
      FormatCheckText("S", r),
      "store S: 2 users, 3 app passwords (2 active, 1 revoked, 0 expired), 0 problems, 0 warnings");
  ASSERT_CONTAINS(FormatCheckJson("S", r),
                  "\"credentials\":{\"active\":2,\"expired\":0,\"revoked\":1,\"total\":3}");
}

void MissingIdsEntry(void** state) {
  Fixture& f = Fx(state);
  const std::string id = f.made[0].cred.id;
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Del(d.ids, id)); });
  const CheckReport r = Check(f.dir);
  assert_false(r.clean());
  ExpectProblem(r, "creds", "id " + id + " (user alice)", "has no ids entry");
  ExpectProblem(r, "user_ids", "alice/" + id, "names an id that ids does not have");
}

void DanglingIdsEntry(void** state) {
  Fixture& f = Fx(state);
  const std::string id = f.made[1].cred.id, hash = HashOf(f, 1);
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Del(d.creds, hash)); });
  ExpectProblem(Check(f.dir), "ids", id, "points to no credential record");
}

void IdsPointsToOtherRecord(void** state) {
  Fixture& f = Fx(state);
  const std::string id0 = f.made[0].cred.id, hash1 = HashOf(f, 1);
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Put(d.ids, id0, hash1)); });
  const CheckReport r = Check(f.dir);
  ExpectProblem(r, "ids", id0, "points to the record of another id");
  ExpectProblem(r, "creds", "id " + id0, "ids points to another record");
}

void UserIdsOfAnotherUser(void** state) {
  Fixture& f = Fx(state);
  const std::string id = f.made[0].cred.id;
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) {
    ASSERT_OK(t.Del(d.user_ids, UserId("alice", id)));
    ASSERT_OK(t.Put(d.user_ids, UserId("mallory", id), ""));
  });
  const CheckReport r = Check(f.dir);
  ExpectProblem(r, "user_ids", "mallory/" + id, "lists the credential of another user (alice)");
  ExpectProblem(r, "creds", "id " + id, "is missing from user_ids");
}

void UndecodableAndNewerRecords(void** state) {
  Fixture& f = Fx(state);
  const std::string h0 = HashOf(f, 0), h1 = HashOf(f, 1);
  Credential c = f.made[1].cred;
  std::string newer = EncodeCredential(c);
  newer.replace(newer.find("\"v\":1"), 5, "\"v\":2");
  // Sealed with the store's tag, as a newer apppass would write them: the tag matches,
  // the contents do not decode.
  const std::string broken = f.admin.SealCredential(h0, "{\"v\":1,}");
  newer = f.admin.SealCredential(h1, newer);
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) {
    ASSERT_OK(t.Put(d.creds, h0, broken));
    ASSERT_OK(t.Put(d.creds, h1, newer));
    ASSERT_OK(t.Put(d.users, "alice", "[]"));
  });
  const CheckReport r = Check(f.dir);
  ExpectProblem(r, "creds", "hash ", "not a JSON object");
  ExpectProblem(r, "creds", "hash ", "format version 2, newer than this apppass understands");
  ExpectProblem(r, "users", "alice", "does not decode");
  assert_int_equal(r.credentials, 0);
}

// A record whose bytes changed after it was sealed, and one moved under another hash.
void DamagedRecords(void** state) {
  Fixture& f = Fx(state);
  const std::string h0 = HashOf(f, 0), h1 = HashOf(f, 1);
  std::string rec0, rec1;
  {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), false, &txn));
    std::string_view v;
    ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(f.admin).creds, h0, &v));
    rec0 = v;
    ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(f.admin).creds, h1, &v));
    rec1 = v;
  }
  // "revoked":null -> "rexoked":null: still JSON, and without the tag it would read as
  // an active credential.
  rec0.replace(rec0.find("\"revoked\""), 9, "\"rexoked\"");
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Put(d.creds, h0, rec0)); });
  CheckReport r = Check(f.dir);
  ExpectProblem(r, "creds", "hash ", "integrity tag does not match");
  assert_int_equal(r.Count(CheckLevel::kProblem), 1);  // the other credential is intact
  assert_int_equal(r.credentials, 1);
  // The other, intact record under the first password's hash.
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Put(d.creds, h0, rec1)); });
  r = Check(f.dir);
  ExpectProblem(r, "creds", "hash ", "integrity tag does not match");
}

void SchemaAndMeta(void** state) {
  Fixture& f = Fx(state);
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) {
    ASSERT_OK(t.Put(d.meta, "schema", "3"));
    ASSERT_OK(t.Put(d.meta, "map_size", "1"));
    ASSERT_OK(t.Put(d.meta, "colour", "blue"));
  });
  const CheckReport r = Check(f.dir);
  ExpectProblem(r, "meta", "schema", "schema version is \"3\"");
  ExpectProblem(r, "meta", "map_size", "is not a size");
  assert_int_equal(r.Count(CheckLevel::kWarning), 1);  // the unknown setting
}

void ActiveWithoutConfirmedEnrollment(void** state) {
  Fixture& f = Fx(state);
  const std::string id = f.made[0].cred.id;
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) { ASSERT_OK(t.Del(d.users, "alice")); });
  ExpectProblem(Check(f.dir), "creds", "id " + id, "its user has no MFA enrollment");
}

// The report has a warning in `table` whose key, message and fix contain `key`, `what`
// and `fix`.
void ExpectWarning(const CheckReport& r, const std::string& table, const std::string& key,
                   const std::string& what, const std::string& fix) {
  for (const auto& f : r.findings)
    if (f.level == CheckLevel::kWarning && f.table == table &&
        f.key.find(key) != std::string::npos && f.message.find(what) != std::string::npos &&
        f.fix.find(fix) != std::string::npos)
      return;
  fail_msg("no warning in %s about '%s' saying '%s' (fix '%s'); report:\n%s", table.c_str(),
           key.c_str(), what.c_str(), fix.c_str(), FormatCheckText("store", r).c_str());
}

// Names stored before new names and labels refused invisible characters: a user
// "\u202eecila" (lists as "alice") and a label with a zero-width space are warnings, the
// store stays clean; a revoked credential's label is not reported.
void InvisibleCharactersInOldNames(void** state) {
  Fixture& f = Fx(state);
  const std::string h0 = HashOf(f, 0), h1 = HashOf(f, 1);
  const std::string spoof = "\u202eecila";
  Credential c0 = f.made[0].cred, c1 = f.made[1].cred;
  c0.name = "pho\u200bne";
  c1.name = "lap\u200btop";
  c1.revoked = kNow;
  const std::string rec0 = f.admin.SealCredential(h0, EncodeCredential(c0));
  const std::string rec1 = f.admin.SealCredential(h1, EncodeCredential(c1));
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) {
    std::string_view alice;
    ASSERT_OK(t.Get(d.users, "alice", &alice));
    UserRecord u;
    ASSERT_OK(DecodeUser(alice, &u));
    u.user = spoof;
    ASSERT_OK(t.Put(d.users, spoof, EncodeUser(u)));
    ASSERT_OK(t.Put(d.creds, h0, rec0));
    ASSERT_OK(t.Put(d.creds, h1, rec1));
  });
  const CheckReport r = Check(f.dir);
  assert_true(r.clean());
  assert_int_equal(r.Count(CheckLevel::kWarning), 2);
  ExpectWarning(r, "users", "\\xe2\\x80\\xaeecila", "the user name contains U+202E",
                "revoke its app passwords and reset its MFA enrollment (apppass mfa reset "
                "\\xe2\\x80\\xaeecila does both); recreate the account under a visible name");
  ExpectWarning(
      r, "creds", "id " + c0.id + " (user alice)",
      "the label \"pho\\xe2\\x80\\x8bne\" contains U+200B",
      "revoke it and create a new one with a visible name: apppass revoke alice " + c0.id);
  const std::string text = FormatCheckText("S", r);
  ASSERT_CONTAINS(text, "warning: users \\xe2\\x80\\xaeecila: the user name contains U+202E");
  ASSERT_CONTAINS(text, "0 problems, 2 warnings");
}

// Old records made without a scope (before create required --scope or --all-services):
// an active one is a warning naming its id, user and label, with the fix; the store stays
// clean. One made with --all-services, and a revoked unscoped one, are not reported.
void UnscopedOldRecords(void** state) {
  Fixture& f = Fx(state);
  Created all;
  CreateRequest req{.user = "alice", .name = "desk", .scopes = {}, .expires = {}};
  req.all_services = true;
  ASSERT_OK(CreatePassword(f.admin, req, kNow, &all));
  assert_true(Check(f.dir).findings.empty());  // control: --all-services is no warning
  const std::string h0 = HashOf(f, 0), h1 = HashOf(f, 1);
  Credential c0 = f.made[0].cred, c1 = f.made[1].cred;
  c0.scopes.clear();
  c1.scopes.clear();
  c1.revoked = kNow;
  const std::string rec0 = f.admin.SealCredential(h0, EncodeCredential(c0));
  const std::string rec1 = f.admin.SealCredential(h1, EncodeCredential(c1));
  Tamper(f, [&](const LmdbTxn& t, const StoreDbs& d) {
    ASSERT_OK(t.Put(d.creds, h0, rec0));
    ASSERT_OK(t.Put(d.creds, h1, rec1));
  });
  const CheckReport r = Check(f.dir);
  assert_true(r.clean());
  assert_int_equal(r.Count(CheckLevel::kWarning), 1);
  ExpectWarning(r, "creds", "id " + c0.id + " (user alice)",
                "the app password \"phone\" has no scopes and was not made with --all-services",
                "revoke it and create it again with --scope (e.g. --scope imap --scope smtp) or "
                "--all-services: apppass revoke alice " +
                    c0.id);
  ASSERT_CONTAINS(FormatCheckText("S", r), "0 problems, 1 warning\n");
}

void MfaResetLeavesAConsistentStore(void** state) {
  Fixture& f = Fx(state);
  int revoked = 0;
  ASSERT_OK(MfaReset(f.admin, "alice", kNow, &revoked));
  assert_int_equal(revoked, 2);
  const CheckReport r = Check(f.dir);
  assert_true(r.findings.empty());
  assert_int_equal(r.users, 0);
  assert_int_equal(r.revoked, 2);
}

void UnopenableStores(void** state) {
  Fixture& f = Fx(state);
  CheckReport r;
  ASSERT_CODE(CheckStore(f.tmp.Join("none"), CheckOptions{.now = kNow}, &r), kUnavailable);
  f.admin = Store();
  {
    std::ofstream out(f.dir + "/data.mdb", std::ios::binary | std::ios::trunc);
    out << std::string(8192, 'x');
  }
  ASSERT_CODE(CheckStore(f.dir, CheckOptions{.now = kNow}, &r), kUnavailable);
}

// A store with the group-accessible modes of an apppass before issue 11: one problem per
// such entry (in table "files", keyed by its path in the store), each with the fix, and
// nothing else read; the check changes nothing. A mode no apppass gave (data.mdb
// group-writable) gets a fix for a person, not "run an admin command".
void GroupAccessibleStore(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  for (const auto& [rel, mode] : std::initializer_list<std::pair<const char*, mode_t>>{
           {"", 0750}, {"/key", 0640}, {"/lock.mdb", 0660}, {"/usage/data.mdb", 0660}})
    assert_int_equal(chmod((f.dir + rel).c_str(), mode), 0);
  CheckReport r = Check(f.dir);
  ExpectProblem(r, "files", ".", "group- or world-accessible");
  ExpectProblem(r, "files", "key", "group- or world-accessible");
  ExpectProblem(r, "files", "lock.mdb", "0660");
  ExpectProblem(r, "files", "usage/data.mdb", "group- or world-accessible");
  for (const auto& x : r.findings)
    if (x.level == CheckLevel::kProblem &&
        x.fix.find("run any admin command as root to tighten it") == std::string::npos)
      fail_msg("problem without the admin-command fix: %s", x.message.c_str());
  assert_int_equal(r.Count(CheckLevel::kProblem), 4);
  assert_int_equal(r.credentials, 0);                    // not read
  assert_int_equal(test::ModeOf(f.dir + "/key"), 0640);  // the check changed nothing
  assert_int_equal(chmod((f.dir + "/data.mdb").c_str(), 0660), 0);
  r = Check(f.dir);
  ExpectProblem(r, "files", "data.mdb", "group- or world-accessible");
  bool person = false;
  for (const auto& x : r.findings)
    person |= x.key == "data.mdb" && x.fix.find("find out who changed it") != std::string::npos;
  assert_true(person);
  // Once tightened by an admin open, clean again.
  assert_int_equal(chmod((f.dir + "/data.mdb").c_str(), 0600), 0);
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  f.admin = Store();
  r = Check(f.dir);
  assert_true(r.findings.empty());
  assert_true(r.credentials > 0);
}

// --- A full store: the map size recorded in meta.

void MapSizeIsValidatedAndRecorded(void** state) {
  Fixture& f = Fx(state);
  test::TempDir other;
  ASSERT_CODE(Store::Init(other.Join("s"), kMinMapSize - 1), kInvalidArgument);
  ASSERT_CODE(Store::Init(other.Join("s"), kMaxMapSize + 1), kInvalidArgument);
  ASSERT_OK(Store::Init(other.Join("s"), kMinMapSize));
  Store s;
  ASSERT_OK(Store::Open(other.Join("s"), Store::Mode::kAdmin, &s));
  assert_int_equal(s.map_size(), kMinMapSize);
  assert_int_equal(f.admin.map_size(), kDefaultMapSize);
  ASSERT_CODE(f.admin.SetMapSize(kMinMapSize - 1), kInvalidArgument);
  ASSERT_OK(f.admin.SetMapSize(std::size_t{2} << 30));
  f.admin = Store();
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  assert_int_equal(f.admin.map_size(), std::size_t{2} << 30);
  assert_true(Check(f.dir).clean());
}

void FullMapFailsCleanly(void** state) {
  Fixture& f = Fx(state);
  test::TempDir tmp;
  const std::string dir = tmp.Join("s");
  ASSERT_OK(Store::Init(dir, kMinMapSize));
  Store admin;
  ASSERT_OK(Store::Open(dir, Store::Mode::kAdmin, &admin));
  ASSERT_OK(test::EnrollConfirmed(admin, "alice", kNow));
  ASSERT_OK(SetPolicy(admin, "max_active", "1000"));
  std::vector<std::string> passwords;
  Status s;
  for (int i = 0; i < 5000; ++i) {
    Created c;
    s = MakeOne(admin, "alice", "p" + std::to_string(i), &c);
    if (!s.ok()) break;
    passwords.emplace_back(c.password.view());
  }
  ASSERT_CODE(s, kUnavailable);
  ASSERT_CONTAINS(s.message(), "the store is full");
  ASSERT_CONTAINS(s.message(), "nothing was changed");
  ASSERT_CONTAINS(s.message(), "apppass init --map-size");
  print_message("a %zu KiB map held %zu app passwords\n", kMinMapSize >> 10, passwords.size());
  assert_true(passwords.size() > 5);
  // Enrollments touch one table, so freed pages hold some more; enroll until one fails
  // the same way. Revoking may still fit in freed pages: done whole, or refused.
  Status enroll;
  int enrolled = 0;
  for (; enrolled < 2000; ++enrolled) {
    EnrollResult er;
    enroll = MfaEnroll(admin, "user" + std::to_string(enrolled), "t", kNow, &er);
    if (!enroll.ok()) break;
  }
  print_message("then %d enrollments\n", enrolled);
  ASSERT_CODE(enroll, kUnavailable);
  ASSERT_CONTAINS(enroll.message(), "the store is full");
  std::vector<std::string> revoked_ids;
  const Status revoke =
      RevokePasswords(admin, "alice", RevokeSelector{.name = "p0"}, kNow, &revoked_ids);
  assert_true(revoke.ok() || revoke.message().find("the store is full") != std::string::npos);
  if (revoke.ok()) passwords.erase(passwords.begin());
  // The store is as it was: every password listed, verifying, and check clean.
  std::vector<Listed> listed;
  ASSERT_OK(ListPasswords(admin, "alice", false, &listed));
  assert_int_equal(listed.size(), passwords.size());
  CheckReport r = Check(dir);
  assert_true(r.clean());
  assert_int_equal(r.active, passwords.size());
  assert_int_equal(r.users, 1 + enrolled);
  Store verifier;
  ASSERT_OK(Store::Open(dir, Store::Mode::kVerify, &verifier));
  for (const auto& p : passwords)
    ASSERT_OUTCOME(Verify(verifier, "alice", p, "imap", kNow), Outcome::kAccepted);
  // Raising the map size lets the next create through, on the same open store.
  ASSERT_OK(admin.SetMapSize(std::size_t{1} << 20));
  Created more;
  ASSERT_OK(MakeOne(admin, "alice", "after", &more));
  ASSERT_OUTCOME(Verify(verifier, "alice", more.password.view(), "imap", kNow), Outcome::kAccepted);
  // Not smaller than what is in use (once the store has grown past the old map).
  std::size_t extra = 1;
  for (; extra < 200; ++extra) {
    ASSERT_OK(MakeOne(admin, "alice", "more" + std::to_string(extra), &more));
    MDB_envinfo info{};
    mdb_env_info(apppass::internal::StoreAccess::env(admin).get(), &info);
    if ((info.me_last_pgno + 1) * 4096 > kMinMapSize + 8192) break;
  }
  ASSERT_CODE(admin.SetMapSize(kMinMapSize), kInvalidArgument);
  r = Check(dir);
  assert_true(r.clean());
  assert_int_equal(r.active, passwords.size() + 1 + extra);  // "after", then the loop
  (void)f;
}

}  // namespace
}  // namespace apppass

#define T(f) cmocka_unit_test_setup_teardown(apppass::f, apppass::Setup, apppass::Teardown)

int main() {
  const struct CMUnitTest tests[] = {
      T(CleanStore),
      T(MissingIdsEntry),
      T(DanglingIdsEntry),
      T(IdsPointsToOtherRecord),
      T(UserIdsOfAnotherUser),
      T(UndecodableAndNewerRecords),
      T(DamagedRecords),
      T(SchemaAndMeta),
      T(ActiveWithoutConfirmedEnrollment),
      T(InvisibleCharactersInOldNames),
      T(UnscopedOldRecords),
      T(MfaResetLeavesAConsistentStore),
      T(UnopenableStores),
      T(GroupAccessibleStore),
      T(MapSizeIsValidatedAndRecorded),
      T(FullMapFailsCleanly),
  };
  return cmocka_run_group_tests_name("store_check", tests, nullptr, nullptr);
}
