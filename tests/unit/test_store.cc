// Unit tests of the store and everything on top of it: store.h (init, open, file checks),
// admin.h (MFA enrollment, creating, listing and revoking app passwords), verifier.h
// (every outcome) and usage.h (last use and its throttling).
//
// Each test gets a fresh store in its own mkdtemp directory (setup), with user "alice"
// enrolled and confirmed at kNow, opened for administration. Time is always injected.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <cctype>
#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin.h"
#include "env_registry.h"
#include "files.h"
#include "lmdb_env.h"
#include "password.h"
#include "records.h"
#include "store.h"
#include "store_internal.h"
#include "text.h"
#include "totp.h"
#include "usage.h"
#include "verifier.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using namespace std::string_literals;

// The middle of a TOTP step (step 56666667 runs from 1700000010 to 1700000039).
constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;   // destroyed last: everything below lives in it
  std::string dir;     // the store: tmp/store
  std::string secret;  // alice's raw TOTP secret
  Store admin;         // the store opened in kAdmin mode

  std::string F(std::string_view name) const { return dir + "/" + std::string(name); }
};

int Setup(void** state) {
  auto* f = new Fixture;
  if (f->tmp.path().empty()) {
    print_error("mkdtemp failed\n");
    delete f;
    return -1;
  }
  f->dir = f->tmp.Join("store");
  const Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin, &f->secret);
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

// An app password and its credential, as created.
struct Made {
  std::string password;  // display form
  Credential cred;
};

Status Create(const Store& store, const std::string& user, const std::string& name, Made* out,
              std::vector<std::string> scopes = {}, std::optional<std::int64_t> expires = {},
              int max_active = kDefaultMaxActive, std::int64_t now = kNow) {
  CreateRequest req;
  req.user = user;
  req.name = name;
  req.scopes = std::move(scopes);
  req.expires = expires;
  req.max_active = max_active;
  Created c;
  Status s = CreatePassword(store, req, now, &c);
  if (s.ok() && out != nullptr) {
    out->password = std::string(c.password.view());
    out->cred = c.cred;
  }
  return s;
}

// Creates or fails the test.
Made MustCreate(const Store& store, const std::string& user, const std::string& name,
                std::vector<std::string> scopes = {}, std::optional<std::int64_t> expires = {}) {
  Made m;
  const Status s = Create(store, user, name, &m, std::move(scopes), expires);
  if (!s.ok())
    fail_msg("creating '%s' for %s: %s", name.c_str(), user.c_str(), s.message().c_str());
  return m;
}

Decision V(const Store& store, std::string_view user, std::string_view password,
           std::string_view service = "imap", std::int64_t now = kNow) {
  return Verify(store, user, password, service, now);
}

// What a PAM or SASL shim does: open for verifying, then verify; a store that cannot be
// opened is an unavailable decision.
Decision OpenAndVerify(const std::string& dir, std::string_view user, std::string_view password) {
  Store store;
  const Status s = Store::Open(dir, Store::Mode::kVerify, &store);
  if (!s.ok()) {
    Decision d;
    d.detail = s.message();
    return d;
  }
  return Verify(store, user, password, "imap", kNow);
}

// A 6-digit code that is none of the codes valid at `now` (one step either way).
std::string WrongCode(const std::string& secret, std::int64_t now) {
  std::string code = test::TotpAt(secret, now);
  for (int d = 1; d < 10; ++d) {
    code[5] = static_cast<char>('0' + (code[5] - '0' + 1) % 10);
    if (code != test::TotpAt(secret, now - 30) && code != test::TotpAt(secret, now) &&
        code != test::TotpAt(secret, now + 30))
      break;
  }
  return code;
}

Status OpenVerify(const std::string& dir) {
  Store s;
  return Store::Open(dir, Store::Mode::kVerify, &s);
}
Status OpenAdmin(const std::string& dir) {
  Store s;
  return Store::Open(dir, Store::Mode::kAdmin, &s);
}

// Both modes refuse the store with Unavailable (and a message containing `why`).
void ExpectUnopenable(const std::string& dir, const char* why) {
  const Status v = OpenVerify(dir), a = OpenAdmin(dir);
  if (v.code() != Status::Code::kUnavailable || a.code() != Status::Code::kUnavailable)
    fail_msg("store opened or wrong code: verify %s (%s), admin %s (%s)", test::CodeName(v.code()),
             v.message().c_str(), test::CodeName(a.code()), a.message().c_str());
  ASSERT_CONTAINS(v.message(), why);
  ASSERT_CONTAINS(a.message(), why);
}

void ExpectOpenable(const std::string& dir) {
  ASSERT_OK(OpenVerify(dir));
  ASSERT_OK(OpenAdmin(dir));
}

std::vector<Listed> List(const Store& store, const std::string& user, bool include_revoked) {
  std::vector<Listed> out;
  ASSERT_OK(ListPasswords(store, user, include_revoked, &out));
  return out;
}

std::vector<std::string> Revoke(const Store& store, const std::string& user, RevokeSelector sel,
                                std::int64_t now = kNow) {
  std::vector<std::string> ids;
  ASSERT_OK(RevokePasswords(store, user, sel, now, &ids));
  return ids;
}

// ---------------------------------------------------------------------------------------
// Init

void test_init_modes(void** state) {
  Fixture& f = Fx(state);
  assert_int_equal(test::ModeOf(f.dir), 0750);
  assert_int_equal(test::ModeOf(f.F("key")), 0640);
  assert_int_equal(test::ModeOf(f.F("mfa.key")), 0600);
  assert_int_equal(test::ModeOf(f.F("data.mdb")), 0640);
  assert_int_equal(test::ModeOf(f.F("lock.mdb")), 0660);
  assert_int_equal(test::ModeOf(f.F("usage")), 0750);
  assert_int_equal(test::ModeOf(f.F("usage/data.mdb")), 0660);
  assert_int_equal(test::ModeOf(f.F("usage/lock.mdb")), 0660);
  for (const char* name : {"key", "mfa.key", "data.mdb", "lock.mdb"}) {
    struct stat st {};
    assert_int_equal(lstat(f.F(name).c_str(), &st), 0);
    assert_true(S_ISREG(st.st_mode));
  }
  // Two different random 32-byte keys.
  const std::string key = test::ReadFile(f.F("key")), mfa = test::ReadFile(f.F("mfa.key"));
  assert_int_equal(key.size(), kKeyBytes);
  assert_int_equal(mfa.size(), kKeyBytes);
  assert_true(key != mfa);
  assert_true(key != std::string(kKeyBytes, '\0'));

  // Init into an existing empty directory (mkdtemp makes it 0700) fixes its mode.
  const std::string empty = f.tmp.Join("empty");
  assert_int_equal(mkdir(empty.c_str(), 0700), 0);
  ASSERT_OK(Store::Init(empty, ""));
  assert_int_equal(test::ModeOf(empty), 0750);
  ExpectOpenable(empty);
  // Whatever the umask.
  const std::string masked = f.tmp.Join("masked");
  const mode_t old = umask(0077);
  const Status s = Store::Init(masked, "");
  umask(old);
  ASSERT_OK(s);
  assert_int_equal(test::ModeOf(masked + "/key"), 0640);
  assert_int_equal(test::ModeOf(masked + "/lock.mdb"), 0660);
  assert_int_equal(test::ModeOf(masked + "/usage/data.mdb"), 0660);
}

void test_init_refuses_bad_places(void** state) {
  Fixture& f = Fx(state);
  ASSERT_CODE(Store::Init(f.tmp.Join("no/such/parent"), ""), kUnavailable);
  const std::string file = f.tmp.Join("file");
  assert_int_equal(close(open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  ASSERT_CODE(Store::Init(file, ""), kUnavailable);
  const std::string link = f.tmp.Join("link");
  const std::string target = f.tmp.Join("target");
  assert_int_equal(mkdir(target.c_str(), 0750), 0);
  assert_int_equal(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_CODE(Store::Init(link, ""), kUnavailable);
  assert_false(test::ReadFile(target + "/key").size() == kKeyBytes);
  const std::string open_dir = f.tmp.Join("world");
  assert_int_equal(mkdir(open_dir.c_str(), 0700), 0);
  assert_int_equal(chmod(open_dir.c_str(), 0777), 0);
  ASSERT_CODE(Store::Init(open_dir, ""), kUnavailable);
}

void test_init_twice(void** state) {
  Fixture& f = Fx(state);
  const std::string key = test::ReadFile(f.F("key")), mfa = test::ReadFile(f.F("mfa.key"));
  ASSERT_CODE(Store::Init(f.dir, ""), kAlreadyExists);
  assert_true(test::ReadFile(f.F("key")) == key);
  assert_true(test::ReadFile(f.F("mfa.key")) == mfa);
  // Alice's enrollment survived.
  UserRecord u;
  ASSERT_OK(MfaGet(f.admin, "alice", &u));
  // Either the key or the data file is enough to refuse.
  f.admin = Store();
  assert_int_equal(unlink(f.F("key").c_str()), 0);
  ASSERT_CODE(Store::Init(f.dir, ""), kAlreadyExists);
  assert_int_equal(access(f.F("key").c_str(), F_OK), -1);  // not recreated
}

// ---------------------------------------------------------------------------------------
// Open

void test_open_modes(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  assert_false(v.mfa_key().valid());  // verifiers never load the MFA key
  assert_string_equal(v.dir().c_str(), f.dir.c_str());
  v = Store();
  Store a;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &a));
  assert_true(a.mfa_key().valid());
  assert_int_equal(a.mfa_key().size(), kKeyBytes);
  a = Store();
  // Verifying does not need mfa.key at all.
  assert_int_equal(unlink(f.F("mfa.key").c_str()), 0);
  ASSERT_OK(OpenVerify(f.dir));
  ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
}

void test_open_refuses_missing(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  ExpectUnopenable(f.tmp.Join("nonexistent"), "apppass init");
  const std::string empty = f.tmp.Join("empty");
  assert_int_equal(mkdir(empty.c_str(), 0750), 0);
  ExpectUnopenable(empty, "data.mdb");
  // Each file in turn.
  for (const char* name : {"key", "data.mdb"}) {
    const std::string path = f.F(name), aside = path + ".aside";
    assert_int_equal(rename(path.c_str(), aside.c_str()), 0);
    ExpectUnopenable(f.dir, name);
    assert_int_equal(rename(aside.c_str(), path.c_str()), 0);
  }
  ExpectOpenable(f.dir);
  // Verifiers need the reader table to exist (they could not create it with the right
  // owner and mode); the admin tool may create it.
  assert_int_equal(rename(f.F("lock.mdb").c_str(), f.F("lock.aside").c_str()), 0);
  ASSERT_CODE(OpenVerify(f.dir), kUnavailable);
  assert_int_equal(rename(f.F("lock.aside").c_str(), f.F("lock.mdb").c_str()), 0);
  ExpectOpenable(f.dir);
}

void test_open_refuses_symlinks(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  for (const char* name : {"key", "data.mdb", "lock.mdb"}) {
    const std::string path = f.F(name), real = f.tmp.Join(std::string(name) + ".real");
    assert_int_equal(rename(path.c_str(), real.c_str()), 0);
    assert_int_equal(symlink(real.c_str(), path.c_str()), 0);
    ExpectUnopenable(f.dir, name);
    assert_int_equal(unlink(path.c_str()), 0);
    assert_int_equal(rename(real.c_str(), path.c_str()), 0);
  }
  // mfa.key: only the admin reads it.
  const std::string real = f.tmp.Join("mfa.real");
  assert_int_equal(rename(f.F("mfa.key").c_str(), real.c_str()), 0);
  assert_int_equal(symlink(real.c_str(), f.F("mfa.key").c_str()), 0);
  ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
  ASSERT_OK(OpenVerify(f.dir));
  // The store directory itself.
  const std::string link = f.tmp.Join("store-link");
  assert_int_equal(symlink(f.dir.c_str(), link.c_str()), 0);
  ASSERT_CODE(OpenVerify(link), kUnavailable);
}

void test_open_refuses_unsafe_modes(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  struct {
    const char* name;
    mode_t bad;
    mode_t good;
  } const cases[] = {
      {"key", 0644, 0640},  // keys: never world-readable
      {"key", 0660, 0640},  // nor group-writable
      {"key", 0642, 0640},
      {"data.mdb", 0660, 0640},  // the verifiers' group must not write credentials
      {"data.mdb", 0642, 0640},
      {"lock.mdb", 0666, 0660},  // the reader table: group may write, others not
      {"lock.mdb", 0662, 0660},
      {"", 0770, 0750},  // the directory
      {"", 0757, 0750},
  };
  for (const auto& c : cases) {
    const std::string path = c.name[0] ? f.F(c.name) : f.dir;
    assert_int_equal(chmod(path.c_str(), c.bad), 0);
    const Status v = OpenVerify(f.dir), a = OpenAdmin(f.dir);
    if (v.code() != Status::Code::kUnavailable || a.code() != Status::Code::kUnavailable)
      fail_msg("%s mode %04o: verify %s, admin %s", path.c_str(), c.bad, test::CodeName(v.code()),
               test::CodeName(a.code()));
    ASSERT_CONTAINS(v.message(), "chmod");  // the message says how to fix it
    assert_int_equal(chmod(path.c_str(), c.good), 0);
    ExpectOpenable(f.dir);
  }
  // mfa.key: the admin refuses it readable by anyone but its owner (the verifiers'
  // group must not be able to unseal TOTP secrets); verifiers never read it.
  for (mode_t bad : {0644, 0640, 0604, 0620}) {
    assert_int_equal(chmod(f.F("mfa.key").c_str(), bad), 0);
    ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
    ASSERT_OK(OpenVerify(f.dir));
  }
  assert_int_equal(chmod(f.F("mfa.key").c_str(), 0600), 0);
  ExpectOpenable(f.dir);
}

void test_open_refuses_foreign_owner(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  if (geteuid() != 0) skip();  // only root can give files away
  for (const char* name : {"key", "data.mdb", "lock.mdb", ""}) {
    const std::string path = name[0] ? f.F(name) : f.dir;
    assert_int_equal(chown(path.c_str(), 12345, 12345), 0);
    ExpectUnopenable(f.dir, "owned by uid 12345");
    assert_int_equal(chown(path.c_str(), 0, 0), 0);
  }
  ExpectOpenable(f.dir);
}

void test_open_refuses_bad_key_size(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  for (off_t size : {0, 16, 31, 33, 4096}) {
    assert_int_equal(truncate(f.F("key").c_str(), size), 0);
    ExpectUnopenable(f.dir, "key");
  }
}

void test_open_refuses_fifo(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  alarm(20);  // a hang is a failure (SIGALRM kills the test), not a stuck test run
  // A FIFO in place of the key...
  const std::string key = test::ReadFile(f.F("key"));
  assert_int_equal(unlink(f.F("key").c_str()), 0);
  assert_int_equal(mkfifo(f.F("key").c_str(), 0640), 0);
  ExpectUnopenable(f.dir, "key");
  assert_int_equal(unlink(f.F("key").c_str()), 0);
  {
    Fd fd(open(f.F("key").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640));
    assert_true(fd.valid());
    assert_int_equal(write(fd.get(), key.data(), key.size()), static_cast<ssize_t>(key.size()));
  }
  ExpectOpenable(f.dir);
  // ...and of the data file.
  assert_int_equal(unlink(f.F("data.mdb").c_str()), 0);
  assert_int_equal(mkfifo(f.F("data.mdb").c_str(), 0640), 0);
  ExpectUnopenable(f.dir, "data.mdb");
  alarm(0);
}

void test_open_refuses_directory_as_file(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  assert_int_equal(unlink(f.F("data.mdb").c_str()), 0);
  assert_int_equal(mkdir(f.F("data.mdb").c_str(), 0750), 0);
  ExpectUnopenable(f.dir, "regular file");
}

void test_open_refuses_corrupt_data(void** state) {
  Fixture& f = Fx(state);
  MustCreate(f.admin, "alice", "phone");
  f.admin = Store();
  // Garbage over the first pages (both LMDB meta pages).
  {
    Fd fd(open(f.F("data.mdb").c_str(), O_WRONLY));
    assert_true(fd.valid());
    std::string junk(16384, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) & 0xff);
    assert_int_equal(pwrite(fd.get(), junk.data(), junk.size(), 0),
                     static_cast<ssize_t>(junk.size()));
  }
  ExpectUnopenable(f.dir, "");
  Decision d = OpenAndVerify(f.dir, "alice", "abcd-efgh-jkmn-pqrs-tuvw");
  ASSERT_OUTCOME(d, Outcome::kUnavailable);
  // An empty data file.
  assert_int_equal(truncate(f.F("data.mdb").c_str(), 0), 0);
  ExpectUnopenable(f.dir, "");
}

void test_open_refuses_other_schema(void** state) {
  Fixture& f = Fx(state);
  auto set_schema = [&](std::optional<std::string> value) {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), true, &txn));
    if (value)
      ASSERT_OK(txn.Put(apppass::internal::StoreAccess::dbs(f.admin).meta, "schema", *value));
    else
      ASSERT_OK(txn.Del(apppass::internal::StoreAccess::dbs(f.admin).meta, "schema"));
    ASSERT_OK(txn.Commit());
  };
  set_schema("3");
  ExpectUnopenable(f.dir, "schema");
  set_schema("2 ");
  ExpectUnopenable(f.dir, "schema");
  set_schema(std::nullopt);
  ExpectUnopenable(f.dir, "schema");
  set_schema("2");
  ExpectOpenable(f.dir);
  // A table missing.
  {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), true, &txn));
    assert_int_equal(mdb_drop(txn.get(), apppass::internal::StoreAccess::dbs(f.admin).users, 1), MDB_SUCCESS);
    ASSERT_OK(txn.Commit());
  }
  f.admin = Store();
  ExpectUnopenable(f.dir, "users");
}

// Descriptors this process has open now: fd -> target path.
std::map<int, std::string> OpenFds() {
  std::map<int, std::string> fds;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(e.path().filename().c_str());
    std::error_code ec2;
    const auto target = std::filesystem::read_symlink(e.path(), ec2);
    if (!ec2) fds[fd] = target.string();
  }
  return fds;
}

void test_descriptors(void** state) {
  // A PAM module lives in processes that fork and exec: every descriptor the store opens
  // is close-on-exec, and none survives closing the store or a refused open.
  Fixture& f = Fx(state);
  f.admin = Store();
  const std::map<int, std::string> before = OpenFds();
  for (Store::Mode mode : {Store::Mode::kVerify, Store::Mode::kAdmin}) {
    Store store;
    ASSERT_OK(Store::Open(f.dir, mode, &store));
    UsageDb usage;
    ASSERT_OK(UsageDb::Open(f.dir, true, &usage));
    int store_fds = 0;
    for (const auto& [fd, path] : OpenFds()) {
      if (before.count(fd) || path.rfind(f.dir, 0) != 0) continue;
      ++store_fds;
      const int flags = fcntl(fd, F_GETFD);
      if (flags < 0 || (flags & FD_CLOEXEC) == 0)
        fail_msg("%s (fd %d) is not close-on-exec", path.c_str(), fd);
    }
    assert_true(store_fds >= 4);  // data.mdb and lock.mdb of both environments
  }
  assert_true(OpenFds() == before);
  assert_int_equal(chmod(f.F("lock.mdb").c_str(), 0666), 0);
  for (int i = 0; i < 5; ++i) ASSERT_CODE(OpenVerify(f.dir), kUnavailable);
  assert_int_equal(chmod(f.F("lock.mdb").c_str(), 0660), 0);
  assert_int_equal(chmod(f.F("data.mdb").c_str(), 0660), 0);
  for (int i = 0; i < 5; ++i) ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
  assert_true(OpenFds() == before);
}

// ---------------------------------------------------------------------------------------
// Read-only verifiers

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

// ---------------------------------------------------------------------------------------
// MFA

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

// ---------------------------------------------------------------------------------------
// Create and verify

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

// The raw value of the credential `m` (its record as stored, tag included).
std::string RawRecord(const Store& store, const Made& m) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), false, &txn));
  std::string_view hash, rec;
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).ids, m.cred.id, &hash));
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).creds, hash, &rec));
  return std::string(rec);
}

void PutRawRecord(const Store& store, const Made& m, const std::string& rec) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), true, &txn));
  std::string_view hash;
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).ids, m.cred.id, &hash));
  const std::string h(hash);
  ASSERT_OK(txn.Put(apppass::internal::StoreAccess::dbs(store).creds, h, rec));
  ASSERT_OK(txn.Commit());
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

// A schema 1 store (records without tags) still verifies; opening it for administration
// seals every record and records schema 2, after which damage is detected.
void test_schema1_store_is_upgraded(void** state) {
  Fixture& f = Fx(state);
  const Made a = MustCreate(f.admin, "alice", "phone");
  const Made b = MustCreate(f.admin, "alice", "laptop");
  // Make it what apppass wrote before record tags: untagged records, schema 1.
  for (const Made* m : {&a, &b}) {
    std::string rec = RawRecord(f.admin, *m);
    const auto at = rec.find(",\"tag\":\"");
    assert_true(at != std::string::npos);
    PutRawRecord(f.admin, *m, rec.substr(0, at) + "}");
  }
  {
    LmdbTxn txn;
    ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(f.admin), true, &txn));
    ASSERT_OK(txn.Put(apppass::internal::StoreAccess::dbs(f.admin).meta, "schema", "1"));
    ASSERT_OK(txn.Commit());
  }
  f.admin = Store();
  Store v1;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v1));
  assert_int_equal(v1.schema(), 1);
  ASSERT_OUTCOME(V(v1, "alice", a.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(v1, "alice", b.password), Outcome::kAccepted);
  v1 = Store();
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &f.admin));
  assert_int_equal(f.admin.schema(), 2);
  Store v2;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v2));
  assert_int_equal(v2.schema(), 2);
  ASSERT_OUTCOME(V(v2, "alice", a.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(v2, "alice", b.password), Outcome::kAccepted);
  assert_non_null(std::strstr(RawRecord(f.admin, a).c_str(), "\"tag\":\""));
  // Now an untagged record is damage.
  std::string rec = RawRecord(f.admin, a);
  PutRawRecord(f.admin, a, rec.substr(0, rec.find(",\"tag\":\"")) + "}");
  ASSERT_OUTCOME(V(v2, "alice", a.password), Outcome::kUnavailable);
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

  // No scope: any service.
  const Made any = MustCreate(f.admin, "alice", "any");
  for (const char* service : {"imap", "pop3", "smtp", "sieve", "dovecot", ""})
    ASSERT_OUTCOME(V(f.admin, "alice", any.password, service), Outcome::kAccepted);

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

void test_limit(void** state) {
  Fixture& f = Fx(state);
  Made a, b, c, d, x;
  ASSERT_OK(Create(f.admin, "alice", "a", &a, {}, {}, 3));
  ASSERT_OK(Create(f.admin, "alice", "b", &b, {}, {}, 3));
  ASSERT_OK(Create(f.admin, "alice", "c", &c, {}, {}, 3));
  Status s = Create(f.admin, "alice", "d", &x, {}, {}, 3);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "3 active");
  assert_int_equal(List(f.admin, "alice", true).size(), 3);  // nothing half-created
  Revoke(f.admin, "alice", RevokeSelector{.id = {}, .name = "b", .all = false});
  ASSERT_OK(Create(f.admin, "alice", "d", &d, {}, {}, 3));
  ASSERT_CODE(Create(f.admin, "alice", "e", &x, {}, {}, 3), kPermissionDenied);
  // Expired ones do not count.
  Made t;
  ASSERT_OK(Create(f.admin, "alice", "t", &t, {}, kNow + 10, 4));
  ASSERT_CODE(Create(f.admin, "alice", "e", &x, {}, {}, 4, kNow + 5), kPermissionDenied);
  ASSERT_OK(Create(f.admin, "alice", "e", &x, {}, {}, 4, kNow + 20));
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
  ASSERT_OK(Create(f.admin, "alice", "tablet", &x, {}, {}, kDefaultMaxActive, kNow + 10));
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
  ASSERT_OK(Create(f.admin, "al", "one", &al, {}, {}, 1));  // alice's do not count for al
  ASSERT_CODE(Create(f.admin, "al", "two", &x, {}, {}, 1), kPermissionDenied);
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

// ---------------------------------------------------------------------------------------
// Listing and last use

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

void test_usage(void** state) {
  Fixture& f = Fx(state);
  UsageDb db;
  ASSERT_OK(UsageDb::Open(f.dir, true, &db));
  Usage u;
  ASSERT_CODE(db.Get("id1", &u), kNotFound);
  auto use = [](std::int64_t t, const char* service, const char* rhost) {
    return Usage{.version = kUsageVersion, .time = t, .service = service, .rhost = rhost};
  };
  auto expect = [&](std::int64_t t, const char* service, const char* rhost) {
    Usage got;
    ASSERT_OK(db.Get("id1", &got));
    if (got.time != t || got.service != service || got.rhost != rhost)
      fail_msg("last use is %lld %s %s, want %lld %s %s", static_cast<long long>(got.time),
               got.service.c_str(), got.rhost.c_str(), static_cast<long long>(t), service, rhost);
  };
  ASSERT_OK(db.Record("id1", use(1000, "imap", "h1"), 60));
  expect(1000, "imap", "h1");
  // Within the interval, same service and host: the first time stays.
  ASSERT_OK(db.Record("id1", use(1030, "imap", "h1"), 60));
  expect(1000, "imap", "h1");
  ASSERT_OK(db.Record("id1", use(1059, "imap", "h1"), 60));
  expect(1000, "imap", "h1");
  ASSERT_OK(db.Record("id1", use(1060, "imap", "h1"), 60));
  expect(1060, "imap", "h1");
  // Another service or host is written at once.
  ASSERT_OK(db.Record("id1", use(1061, "pop3", "h1"), 60));
  expect(1061, "pop3", "h1");
  ASSERT_OK(db.Record("id1", use(1062, "pop3", "h2"), 60));
  expect(1062, "pop3", "h2");
  // No throttling with an interval of 0.
  ASSERT_OK(db.Record("id1", use(1063, "pop3", "h2"), 0));
  expect(1063, "pop3", "h2");
  // Other credentials are independent.
  ASSERT_OK(db.Record("id2", use(5, "smtp", "h3"), 60));
  expect(1063, "pop3", "h2");
  ASSERT_OK(db.Get("id2", &u));
  assert_int_equal(u.time, 5);
  // Removal.
  ASSERT_OK(db.Remove("id1"));
  ASSERT_CODE(db.Get("id1", &u), kNotFound);
  ASSERT_OK(db.Remove("id1"));
  // Survives reopening (committed).
  db = UsageDb();
  UsageDb ro;
  ASSERT_OK(UsageDb::Open(f.dir, false, &ro));
  ASSERT_OK(ro.Get("id2", &u));
  assert_int_equal(u.time, 5);
  // A read-only handle cannot record.
  assert_false(ro.Record("id3", use(1, "imap", "h"), 0).ok());
  ASSERT_CODE(ro.Get("id3", &u), kNotFound);
}

// RecordIn: what the PAM module calls, opening the database itself (read-only first).
void test_usage_record_in(void** state) {
  Fixture& f = Fx(state);
  auto use = [](std::int64_t t, const char* rhost) {
    return Usage{.version = kUsageVersion, .time = t, .service = "imap", .rhost = rhost};
  };
  auto time_of = [&](const char* id) {
    UsageDb ro;
    ASSERT_OK(UsageDb::Open(f.dir, false, &ro));
    Usage got;
    ASSERT_OK(ro.Get(id, &got));
    return got.time;
  };
  ASSERT_OK(UsageDb::RecordIn(f.dir, "id1", use(1000, "h1"), 60));
  assert_int_equal(time_of("id1"), 1000);
  // Throttled: answered from the read-only look, nothing written.
  ASSERT_OK(UsageDb::RecordIn(f.dir, "id1", use(1030, "h1"), 60));
  assert_int_equal(time_of("id1"), 1000);
  // Another host, or the interval over: written.
  ASSERT_OK(UsageDb::RecordIn(f.dir, "id1", use(1031, "h2"), 60));
  assert_int_equal(time_of("id1"), 1031);
  ASSERT_OK(UsageDb::RecordIn(f.dir, "id1", use(1091, "h2"), 60));
  assert_int_equal(time_of("id1"), 1091);
  // While this process holds the database open for writing (a SASL plugin beside the PAM
  // module), both steps share that environment.
  {
    UsageDb held;
    ASSERT_OK(UsageDb::Open(f.dir, true, &held));
    ASSERT_OK(UsageDb::RecordIn(f.dir, "id2", use(7, "h1"), 60));
    Usage got;
    ASSERT_OK(held.Get("id2", &got));
    assert_int_equal(got.time, 7);
  }
  // Nothing is left open.
  for (const auto& e : envreg::List()) assert_true(e.dir.find("/usage") == std::string::npos);
  // A missing database is an error, not a crash.
  std::error_code ec;
  std::filesystem::remove_all(f.F("usage"), ec);
  ASSERT_CODE(UsageDb::RecordIn(f.dir, "id1", use(2000, "h1"), 60), kUnavailable);
}

void test_usage_refuses_unsafe(void** state) {
  Fixture& f = Fx(state);
  UsageDb db;
  assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), 0666), 0);
  ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), 0660), 0);
  ASSERT_OK(UsageDb::Open(f.dir, true, &db));
  db = UsageDb();
  assert_int_equal(chmod(f.F("usage").c_str(), 0777), 0);
  ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  assert_int_equal(chmod(f.F("usage").c_str(), 0750), 0);
  assert_int_equal(unlink(f.F("usage/data.mdb").c_str()), 0);
  ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  ASSERT_CODE(UsageDb::Open(f.tmp.Join("nonexistent"), false, &db), kUnavailable);
}

}  // namespace
}  // namespace apppass

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, Setup, Teardown)

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_init_modes),
      STORE_TEST(test_init_refuses_bad_places),
      STORE_TEST(test_init_twice),
      STORE_TEST(test_open_modes),
      STORE_TEST(test_open_refuses_missing),
      STORE_TEST(test_open_refuses_symlinks),
      STORE_TEST(test_open_refuses_unsafe_modes),
      STORE_TEST(test_open_refuses_foreign_owner),
      STORE_TEST(test_open_refuses_bad_key_size),
      STORE_TEST(test_open_refuses_fifo),
      STORE_TEST(test_open_refuses_directory_as_file),
      STORE_TEST(test_open_refuses_corrupt_data),
      STORE_TEST(test_open_refuses_other_schema),
      STORE_TEST(test_descriptors),
      STORE_TEST(test_verify_store_is_read_only),
      STORE_TEST(test_verify_unopenable_store),
      STORE_TEST(test_verifier_sees_new_credentials),
      STORE_TEST(test_create_requires_confirmed_mfa),
      STORE_TEST(test_enroll_and_confirm),
      STORE_TEST(test_mfa_reset),
      STORE_TEST(test_create_and_verify),
      STORE_TEST(test_ids_unique),
      STORE_TEST(test_verify_wrong_and_unknown),
      STORE_TEST(test_revoke),
      STORE_TEST(test_damaged_record_is_unavailable),
      STORE_TEST(test_schema1_store_is_upgraded),
      STORE_TEST(test_expiry),
      STORE_TEST(test_scopes),
      STORE_TEST(test_bad_input),
      STORE_TEST(test_normalized_input),
      STORE_TEST(test_limit),
      STORE_TEST(test_duplicate_name),
      STORE_TEST(test_user_prefixes),
      STORE_TEST(test_list),
      STORE_TEST(test_usage),
      STORE_TEST(test_usage_record_in),
      STORE_TEST(test_usage_refuses_unsafe),
  };
  return cmocka_run_group_tests_name("store", tests, nullptr, nullptr);
}
