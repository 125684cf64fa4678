// Unit tests of store.h: init (modes, refused places), open (modes, every refusal: missing,
// symlinks, unsafe modes, foreign owner, key size, FIFOs, corrupt data, other schema),
// descriptors, and the upgrade of a schema 1 store. The fixture is store_fixture.h.

// The fixture brings the headers of common/ these tests use, the standard headers and,
// last, test_util.h (CMocka).
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

void test_init_modes(void** state) {
  Fixture& f = Fx(state);
  // Root's alone (issue 11): nothing for its group or anyone else.
  assert_int_equal(test::ModeOf(f.dir), 0700);
  assert_int_equal(test::ModeOf(f.F("key")), 0600);
  assert_int_equal(test::ModeOf(f.F("mfa.key")), 0600);
  assert_int_equal(test::ModeOf(f.F("data.mdb")), 0600);
  assert_int_equal(test::ModeOf(f.F("lock.mdb")), 0600);
  assert_int_equal(test::ModeOf(f.F("usage")), 0700);
  assert_int_equal(test::ModeOf(f.F("usage/data.mdb")), 0600);
  assert_int_equal(test::ModeOf(f.F("usage/lock.mdb")), 0600);
  for (const StoreEntry& e : kStoreLayout) {
    struct stat st {};
    assert_int_equal(lstat(StorePath(f.dir, e.id).c_str(), &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_gid, getegid());
  }
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

  // Init into an existing empty directory (0755, of another group) makes it root's alone.
  const std::string empty = f.tmp.Join("empty");
  assert_int_equal(mkdir(empty.c_str(), 0700), 0);
  assert_int_equal(chmod(empty.c_str(), 0755), 0);
  if (geteuid() == 0) assert_int_equal(chown(empty.c_str(), 0, 65534), 0);
  ASSERT_OK(Store::Init(empty));
  assert_int_equal(test::ModeOf(empty), 0700);
  if (geteuid() == 0) {
    struct stat st {};
    assert_int_equal(stat(empty.c_str(), &st), 0);
    assert_int_equal(st.st_gid, 0);
  }
  ExpectOpenable(empty);
  // Whatever the umask.
  const std::string masked = f.tmp.Join("masked");
  const mode_t old = umask(0077);
  const Status s = Store::Init(masked);
  umask(old);
  ASSERT_OK(s);
  assert_int_equal(test::ModeOf(masked + "/key"), 0600);
  assert_int_equal(test::ModeOf(masked + "/lock.mdb"), 0600);
  assert_int_equal(test::ModeOf(masked + "/usage/data.mdb"), 0600);
}

void test_init_refuses_bad_places(void** state) {
  Fixture& f = Fx(state);
  ASSERT_CODE(Store::Init(f.tmp.Join("no/such/parent")), kUnavailable);
  const std::string file = f.tmp.Join("file");
  assert_int_equal(close(open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  ASSERT_CODE(Store::Init(file), kUnavailable);
  const std::string link = f.tmp.Join("link");
  const std::string target = f.tmp.Join("target");
  assert_int_equal(mkdir(target.c_str(), 0750), 0);
  assert_int_equal(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_CODE(Store::Init(link), kUnavailable);
  assert_false(test::ReadFile(target + "/key").size() == kKeyBytes);
  const std::string open_dir = f.tmp.Join("world");
  assert_int_equal(mkdir(open_dir.c_str(), 0700), 0);
  assert_int_equal(chmod(open_dir.c_str(), 0777), 0);
  ASSERT_CODE(Store::Init(open_dir), kUnavailable);
}

void test_init_twice(void** state) {
  Fixture& f = Fx(state);
  const std::string key = test::ReadFile(f.F("key")), mfa = test::ReadFile(f.F("mfa.key"));
  ASSERT_CODE(Store::Init(f.dir), kAlreadyExists);
  assert_true(test::ReadFile(f.F("key")) == key);
  assert_true(test::ReadFile(f.F("mfa.key")) == mfa);
  // Alice's enrollment survived.
  UserRecord u;
  ASSERT_OK(MfaGet(f.admin, "alice", &u));
  // Either the key or the data file is enough to refuse.
  f.admin = Store();
  assert_int_equal(unlink(f.F("key").c_str()), 0);
  ASSERT_CODE(Store::Init(f.dir), kAlreadyExists);
  assert_int_equal(access(f.F("key").c_str(), F_OK), -1);  // not recreated
}

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
  assert_int_equal(mkdir(empty.c_str(), 0700), 0);
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
  // Modes no apppass ever accepted (writable by everyone, the credentials or the keys
  // writable by the group, keys readable by everyone): refused by both modes, with the
  // chmod that fixes it, and left as they are (anyone may have changed the contents).
  struct {
    const char* name;
    mode_t bad;
  } const cases[] = {
      {"key", 0644},      {"key", 0660},      {"key", 0642}, {"data.mdb", 0660}, {"data.mdb", 0642},
      {"lock.mdb", 0666}, {"lock.mdb", 0662}, {"", 0770},    {"", 0757},         {"", 0777},
  };
  for (const auto& c : cases) {
    const std::string path = c.name[0] ? f.F(c.name) : f.dir;
    const mode_t good = test::ModeOf(path);
    assert_int_equal(chmod(path.c_str(), c.bad), 0);
    const Status v = OpenVerify(f.dir);
    Store a;
    std::vector<std::string> tightened;
    const Status as = Store::Open(f.dir, Store::Mode::kAdmin, &a, &tightened);
    if (v.code() != Status::Code::kUnavailable || as.code() != Status::Code::kUnavailable)
      fail_msg("%s mode %04o: verify %s, admin %s", path.c_str(), c.bad, test::CodeName(v.code()),
               test::CodeName(as.code()));
    ASSERT_CONTAINS(v.message(), "chmod");  // the message says how to fix it
    assert_int_equal(test::ModeOf(path), c.bad);
    assert_true(tightened.empty());
    a = Store();
    assert_int_equal(chmod(path.c_str(), good), 0);
    ExpectOpenable(f.dir);
  }
  // mfa.key: the admin refuses it readable by anyone but its owner; verifiers never read it.
  for (mode_t bad : {0644, 0640, 0604, 0620}) {
    assert_int_equal(chmod(f.F("mfa.key").c_str(), bad), 0);
    ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
    ASSERT_OK(OpenVerify(f.dir));
  }
  assert_int_equal(chmod(f.F("mfa.key").c_str(), 0600), 0);
  ExpectOpenable(f.dir);
}

// A store as apppass made it before issue 11 (root:GROUP 0750, key and data.mdb 0640,
// the lock and usage files 0660): root's verifiers refuse it, naming the fix; the first
// admin open makes every entry root:root with the layout's mode and says which it changed;
// a symbolic link in the store is never followed.
void test_open_tightens_group_store(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  if (geteuid() != 0) skip();  // chgrp to a group root is not in
  const std::map<std::string, mode_t> old = {
      {"", 0750},      {"key", 0640},     {"data.mdb", 0640},       {"lock.mdb", 0660},
      {"usage", 0750}, {"mfa.key", 0600}, {"usage/data.mdb", 0660}, {"usage/lock.mdb", 0660}};
  for (const auto& [name, mode] : old) {
    const std::string path = name.empty() ? f.dir : f.F(name);
    assert_int_equal(chmod(path.c_str(), mode), 0);
    assert_int_equal(chown(path.c_str(), 0, 65534), 0);
  }
  // A file outside the store that a link in it points at: never changed.
  const std::string outside = f.tmp.Join("outside");
  assert_int_equal(close(open(outside.c_str(), O_CREAT | O_WRONLY, 0644)), 0);
  assert_int_equal(symlink(outside.c_str(), f.F("usage/lock.mdb.link").c_str()), 0);

  const Status v = OpenVerify(f.dir);
  ASSERT_CODE(v, kUnavailable);
  ASSERT_CONTAINS(v.message(), "unsafe permissions 0750");
  ASSERT_CONTAINS(v.message(), "chmod go-rwx");
  assert_int_equal(FindLooseEntries(f.dir).size(), old.size());

  Store a;
  std::vector<std::string> tightened;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &a, &tightened));
  a = Store();
  // Seven entries changed (mfa.key only its group), each named once.
  assert_int_equal(tightened.size(), old.size());
  ASSERT_CONTAINS(tightened[0], f.dir + ": 0750 root:");
  ASSERT_CONTAINS(tightened[0], "-> 0700 root:root");
  ASSERT_CONTAINS(tightened[1], f.F("key") + ": 0640 root:");
  for (const StoreEntry& e : kStoreLayout) {
    struct stat st {};
    assert_int_equal(lstat(StorePath(f.dir, e.id).c_str(), &st), 0);
    if ((st.st_mode & 07777) != e.mode || st.st_gid != 0 || st.st_uid != 0)
      fail_msg("%s is %04o %d:%d after tightening", StorePath(f.dir, e.id).c_str(),
               st.st_mode & 07777, st.st_uid, st.st_gid);
  }
  assert_int_equal(test::ModeOf(outside), 0644);
  assert_true(FindLooseEntries(f.dir).empty());
  ExpectOpenable(f.dir);
  // Nothing left to change: the next admin open says nothing.
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &a, &tightened));
  assert_true(tightened.empty());
}

// The store's entries as symbolic links: tightening leaves the link and its target alone,
// and the open refuses the link.
void test_tighten_never_follows_links(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  const std::string real = f.tmp.Join("key.real");
  assert_int_equal(rename(f.F("key").c_str(), real.c_str()), 0);
  assert_int_equal(chmod(real.c_str(), 0640), 0);
  assert_int_equal(symlink(real.c_str(), f.F("key").c_str()), 0);
  std::vector<std::string> tightened;
  Store a;
  ASSERT_CODE(Store::Open(f.dir, Store::Mode::kAdmin, &a, &tightened), kUnavailable);
  assert_true(tightened.empty());
  assert_int_equal(test::ModeOf(real), 0640);
}

// Any process that is not root is refused before any file is touched, with a message
// that names the broker (issue 11: only root opens the store).
void test_open_refuses_non_root(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  if (geteuid() != 0) skip();
  // Even a store this user could read: the rule is who runs, not the modes.
  assert_int_equal(chmod(f.dir.c_str(), 0755), 0);
  assert_int_equal(chmod(f.F("key").c_str(), 0644), 0);
  for (Store::Mode mode : {Store::Mode::kVerify, Store::Mode::kAdmin}) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
          setresuid(65534, 65534, 65534) != 0)
        _exit(3);
      Store s;
      const Status st = Store::Open(f.dir, mode, &s);
      const std::string msg =
          std::string(st.code() == Status::Code::kUnavailable ? "U " : "X ") + st.message();
      (void)!write(fds[1], msg.data(), msg.size());
      _exit(0);
    }
    close(fds[1]);
    std::string got;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_CONTAINS(got, "U the apppass store " + f.dir + " is root-only");
    ASSERT_CONTAINS(got, "uid 65534");
    ASSERT_CONTAINS(got, "apppassd");
    if (mode == Store::Mode::kVerify) ASSERT_CONTAINS(got, "broker=PATH");
  }
  assert_int_equal(chmod(f.F("key").c_str(), 0600), 0);
  assert_int_equal(chmod(f.dir.c_str(), 0700), 0);
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
  assert_int_equal(mkfifo(f.F("key").c_str(), 0600), 0);
  ExpectUnopenable(f.dir, "key");
  assert_int_equal(unlink(f.F("key").c_str()), 0);
  {
    Fd fd(open(f.F("key").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
    assert_true(fd.valid());
    assert_int_equal(write(fd.get(), key.data(), key.size()), static_cast<ssize_t>(key.size()));
  }
  ExpectOpenable(f.dir);
  // ...and of the data file.
  assert_int_equal(unlink(f.F("data.mdb").c_str()), 0);
  assert_int_equal(mkfifo(f.F("data.mdb").c_str(), 0600), 0);
  ExpectUnopenable(f.dir, "data.mdb");
  alarm(0);
}

void test_open_refuses_directory_as_file(void** state) {
  Fixture& f = Fx(state);
  f.admin = Store();
  assert_int_equal(unlink(f.F("data.mdb").c_str()), 0);
  assert_int_equal(mkdir(f.F("data.mdb").c_str(), 0700), 0);
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
    else ASSERT_OK(txn.Del(apppass::internal::StoreAccess::dbs(f.admin).meta, "schema"));
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
    assert_int_equal(mdb_drop(txn.get(), apppass::internal::StoreAccess::dbs(f.admin).users, 1),
                     MDB_SUCCESS);
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
  assert_int_equal(chmod(f.F("lock.mdb").c_str(), 0600), 0);
  assert_int_equal(chmod(f.F("data.mdb").c_str(), 0660), 0);
  for (int i = 0; i < 5; ++i) ASSERT_CODE(OpenAdmin(f.dir), kUnavailable);
  assert_true(OpenFds() == before);
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

}  // namespace
}  // namespace apppass

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
      STORE_TEST(test_open_tightens_group_store),
      STORE_TEST(test_tighten_never_follows_links),
      STORE_TEST(test_open_refuses_non_root),
      STORE_TEST(test_open_refuses_foreign_owner),
      STORE_TEST(test_open_refuses_bad_key_size),
      STORE_TEST(test_open_refuses_fifo),
      STORE_TEST(test_open_refuses_directory_as_file),
      STORE_TEST(test_open_refuses_corrupt_data),
      STORE_TEST(test_open_refuses_other_schema),
      STORE_TEST(test_descriptors),
      STORE_TEST(test_schema1_store_is_upgraded),
  };
  return cmocka_run_group_tests_name("store", tests, nullptr, nullptr);
}
