// Unit tests of store_cache.h: a store kept open across logins is used again while its
// files are unchanged (no Store::Open, no new environment) and opened again, with
// Store::Open's own answer, after a chmod, a replaced key, data.mdb or directory, a
// truncation; a forked child opens its own; threads verify while the store is written;
// last use through the kept usage database, at most once per interval. Root only (the
// store is root's alone): skipped otherwise. The fixture is store_fixture.h.

#include <sodium.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "store_cache.h"
// The fixture brings the headers of common/, the standard headers and, last, CMocka.
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;
namespace fs = std::filesystem;

using Snapshot = std::shared_ptr<const CachedStore>;

// Alice's app password made through the fixture's admin store, which is then closed: the
// cache's environment is then the only one of this process on the store.
Made MakeAndClose(Fixture& f, const std::string& name = "phone") {
  const Made m = MustCreate(f.admin, "alice", name);
  f.admin = Store();
  return m;
}

Snapshot MustGet(StoreCache& cache, const std::string& dir) {
  Snapshot s;
  ASSERT_OK(cache.Get(dir, &s));
  assert_non_null(s.get());
  return s;
}

// The cache's answer for `dir` is Store::Open's: Unavailable with the same message.
void ExpectSameRefusal(StoreCache& cache, const std::string& dir, const char* why) {
  Snapshot s;
  const Status got = cache.Get(dir, &s);
  assert_null(s.get());
  const Status today = OpenVerify(dir);
  if (got.code() != Status::Code::kUnavailable || today.code() != Status::Code::kUnavailable ||
      got.message() != today.message())
    fail_msg("cache: %s (%s); Store::Open: %s (%s)", test::CodeName(got.code()),
             got.message().c_str(), test::CodeName(today.code()), today.message().c_str());
  ASSERT_CONTAINS(got.message(), why);
}

// True (and the test skipped) when not root: the store is root's alone.
bool SkipUnlessRoot() {
  if (geteuid() == 0) return false;
  print_message("not root: skipped\n");
  skip();
  return true;
}

void test_hit_after_first_open(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  Snapshot first = MustGet(cache, f.dir);
  assert_int_equal(cache.opens(), 1);
  ASSERT_OUTCOME(V(first->store(), "alice", m.password), Outcome::kAccepted);
  const std::uint64_t envs_opened = envreg::OpenedCount();
  for (int i = 0; i < 100; ++i) {
    const Snapshot again = MustGet(cache, f.dir);
    assert_ptr_equal(again.get(), first.get());
    ASSERT_OUTCOME(V(again->store(), "alice", m.password), Outcome::kAccepted);
    ASSERT_OUTCOME(V(again->store(), "alice", "abcd-efgh-jkmn-pqrs-tuvw"), Outcome::kWrongPassword);
  }
  assert_int_equal(cache.opens(), 1);
  assert_int_equal(envreg::OpenedCount(), envs_opened);
  assert_int_equal(first->pid(), getpid());
  // Kept with no snapshot held by a caller: one environment, the cache's.
  first.reset();
  int on_store = 0;
  for (const auto& e : envreg::List()) on_store += e.dir == f.dir && e.open ? e.refs : 0;
  assert_int_equal(on_store, 1);
  // Drop lets it go: the environment closes.
  cache.Drop(f.dir);
  for (const auto& e : envreg::List()) assert_true(e.dir != f.dir);
  MustGet(cache, f.dir);
  assert_int_equal(cache.opens(), 2);
}

// A chmod that makes a file group-readable (the layout forbids it) is refused with
// Store::Open's message; put back, the store opens again.
void test_chmod_fails_closed(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  std::uint64_t opens = 0;
  for (const auto& [name, bad, good] : {std::tuple{"data.mdb", 0640, 0600},
                                        {"key", 0640, 0600},
                                        {"lock.mdb", 0640, 0600},
                                        {"", 0750, 0700}}) {
    const std::string path = *name ? f.F(name) : f.dir;
    ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
    opens = cache.opens();
    assert_int_equal(chmod(path.c_str(), static_cast<mode_t>(bad)), 0);
    ExpectSameRefusal(cache, f.dir, "");
    ExpectSameRefusal(cache, f.dir, "");  // never cached: refused again
    assert_int_equal(cache.opens(), opens + 2);
    assert_int_equal(chmod(path.c_str(), static_cast<mode_t>(good)), 0);
    ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
    assert_int_equal(cache.opens(), opens + 3);
  }
  // chown to another owner: refused the same way.
  assert_int_equal(lchown(f.F("key").c_str(), 65534, 65534), 0);
  ExpectSameRefusal(cache, f.dir, "key");
  assert_int_equal(lchown(f.F("key").c_str(), 0, 0), 0);
  ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
}

// A key file replaced by another (rename over it): the store is opened again with the new
// key, so the password made with the old one is no longer found.
void test_replaced_key(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
  unsigned char key[kKeyBytes];
  randombytes_buf(key, sizeof key);
  const std::string tmp = f.F("key.new");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, key, sizeof key), static_cast<ssize_t>(sizeof key));
  close(fd);
  assert_int_equal(rename(tmp.c_str(), f.F("key").c_str()), 0);
  const Snapshot s = MustGet(cache, f.dir);
  assert_int_equal(cache.opens(), 2);
  const Decision d = V(s->store(), "alice", m.password);
  assert_true(d.outcome != Outcome::kAccepted);
  ASSERT_OUTCOME(d, OpenAndVerify(f.dir, "alice", m.password).outcome);
  // A key of the wrong size: Store::Open's refusal.
  assert_int_equal(truncate(f.F("key").c_str(), 31), 0);
  ExpectSameRefusal(cache, f.dir, "wrong size");
}

// data.mdb replaced by an older copy in which the revoked password was still active: the
// cache reads the file now in place, not the one it opened.
void test_replaced_data(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  const Made old = MustCreate(f.admin, "alice", "old");
  fs::copy_file(f.F("data.mdb"), f.F("data.copy"));
  assert_int_equal(chmod(f.F("data.copy").c_str(), 0600), 0);
  Revoke(f.admin, "alice", RevokeSelector{.id = old.cred.id});
  f.admin = Store();
  StoreCache cache;
  Snapshot s = MustGet(cache, f.dir);
  ASSERT_OUTCOME(V(s->store(), "alice", old.password), Outcome::kRevoked);
  ASSERT_OUTCOME(V(s->store(), "alice", m.password), Outcome::kAccepted);
  s.reset();
  assert_int_equal(rename(f.F("data.copy").c_str(), f.F("data.mdb").c_str()), 0);
  s = MustGet(cache, f.dir);
  assert_int_equal(cache.opens(), 2);
  ASSERT_OUTCOME(V(s->store(), "alice", old.password), Outcome::kAccepted);
  ASSERT_OUTCOME(V(s->store(), "alice", m.password), Outcome::kAccepted);
  s.reset();
  // Replaced by something that is not a store: Store::Open's refusal.
  const std::string junk = f.F("data.junk");
  {
    const int fd = open(junk.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    const std::string x(8192, 'x');
    assert_true(fd >= 0 && write(fd, x.data(), x.size()) == static_cast<ssize_t>(x.size()));
    close(fd);
  }
  assert_int_equal(rename(junk.c_str(), f.F("data.mdb").c_str()), 0);
  ExpectSameRefusal(cache, f.dir, "");
}

// The directory renamed away, then another store moved to its name.
void test_replaced_dir(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  const std::string other = f.tmp.Join("other");
  Store other_admin;
  ASSERT_OK(test::MakeStoreWithUser(other, "alice", kNow, &other_admin));
  const Made o = MustCreate(other_admin, "alice", "other");
  other_admin = Store();
  StoreCache cache;
  ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
  assert_int_equal(rename(f.dir.c_str(), f.tmp.Join("moved").c_str()), 0);
  ExpectSameRefusal(cache, f.dir, "does not exist");
  assert_int_equal(rename(other.c_str(), f.dir.c_str()), 0);
  const Snapshot s = MustGet(cache, f.dir);
  ASSERT_OUTCOME(V(s->store(), "alice", o.password), Outcome::kAccepted);
  assert_true(V(s->store(), "alice", m.password).outcome != Outcome::kAccepted);
  // A symlink in its place: refused as Store::Open refuses it.
  assert_int_equal(rename(f.dir.c_str(), other.c_str()), 0);
  assert_int_equal(symlink(other.c_str(), f.dir.c_str()), 0);
  ExpectSameRefusal(cache, f.dir, "");
}

// data.mdb truncated (to nothing, and to one page) while the cache holds it.
void test_truncated_data(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  ASSERT_OUTCOME(V(MustGet(cache, f.dir)->store(), "alice", m.password), Outcome::kAccepted);
  fs::copy_file(f.F("data.mdb"), f.tmp.Join("data.saved"));
  assert_int_equal(truncate(f.F("data.mdb").c_str(), 4096), 0);
  ExpectSameRefusal(cache, f.dir, "");
  assert_int_equal(truncate(f.F("data.mdb").c_str(), 0), 0);
  ExpectSameRefusal(cache, f.dir, "empty");
}

// A forked child never uses the parent's entry: it opens its own and answers right; the
// parent's stays in use.
void test_fork(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  const Snapshot parent = MustGet(cache, f.dir);
  ASSERT_OUTCOME(V(parent->store(), "alice", m.password), Outcome::kAccepted);
  const pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    // No CMocka here: an exit code per failed step.
    Snapshot s;
    if (!cache.Get(f.dir, &s).ok() || s == nullptr) _exit(2);
    if (s.get() == parent.get() || s->pid() != getpid() || cache.opens() != 2) _exit(3);
    if (Verify(s->store(), "alice", m.password, "imap", kNow).outcome != Outcome::kAccepted)
      _exit(4);
    if (Verify(s->store(), "alice", "abcd-efgh-jkmn-pqrs-tuvw", "imap", kNow).outcome !=
        Outcome::kWrongPassword)
      _exit(5);
    // The parent's snapshot refuses (its environment is not this process's).
    if (Verify(parent->store(), "alice", m.password, "imap", kNow).outcome != Outcome::kUnavailable)
      _exit(6);
    bool own = false;
    for (const auto& e : envreg::List()) own = own || (e.open && e.pid == getpid());
    _exit(own ? 0 : 7);
  }
  int st = 0;
  assert_int_equal(waitpid(child, &st, 0), child);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail_msg("child: status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  const Snapshot again = MustGet(cache, f.dir);
  assert_ptr_equal(again.get(), parent.get());
  assert_int_equal(cache.opens(), 1);
  ASSERT_OUTCOME(V(again->store(), "alice", m.password), Outcome::kAccepted);
}

// Threads verify through the cache while the admin store writes (each write changes
// data.mdb, so the cache opens the store again under concurrent use).
void test_threads(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MustCreate(f.admin, "alice", "phone");
  StoreCache cache;
  std::atomic<bool> stop{false};
  std::atomic<long> right{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (long i = 0; !stop.load() || i < 50; ++i) {
        Snapshot s;
        if (!cache.Get(f.dir, &s).ok()) {
          ++wrong;
          continue;
        }
        const bool good = (i + t) % 2 == 0;
        const Outcome want = good ? Outcome::kAccepted : Outcome::kWrongPassword;
        const Decision d = internal::VerifyUnpadded(
            s->store(), "alice", good ? m.password : "abcd-efgh-jkmn-pqrs-tuvw", "imap", kNow);
        ++(d.outcome == want ? right : wrong);
      }
    });
  std::vector<Made> made;
  for (int i = 0; i < 20; ++i)
    made.push_back(MustCreate(f.admin, "alice", "t" + std::to_string(i)));
  stop = true;
  for (auto& t : threads) t.join();
  if (wrong.load() != 0) fail_msg("%ld wrong answers of %ld", wrong.load(), right.load());
  const Snapshot s = MustGet(cache, f.dir);
  for (const Made& x : made) ASSERT_OUTCOME(V(s->store(), "alice", x.password), Outcome::kAccepted);
  print_message("%ld verifications in 4 threads, %llu opens\n", right.load(),
                static_cast<unsigned long long>(cache.opens()));
}

// Last use through the kept usage database: opened once, at most one write per interval
// (time only), reopened when its files change, refused when they are unsafe.
void test_record_use(void** state) {
  if (SkipUnlessRoot()) return;
  Fixture& f = Fx(state);
  const Made m = MakeAndClose(f);
  StoreCache cache;
  const Snapshot s = MustGet(cache, f.dir);
  assert_int_equal(s->usage_opens(), 0);  // nothing before the first accepted login
  auto use = [](std::int64_t t, const char* rhost) {
    return Usage{.version = kUsageVersion, .time = t, .service = "imap", .rhost = rhost};
  };
  auto last = [&] {
    UsageDb ro;
    ASSERT_OK(UsageDb::Open(f.dir, false, &ro));
    Usage got;
    ASSERT_OK(ro.Get(m.cred.id, &got));
    return got;
  };
  ASSERT_OK(s->RecordUse(m.cred.id, use(1000, "h1"), 60));
  assert_int_equal(s->usage_opens(), 1);
  assert_int_equal(last().time, 1000);
  const struct stat before = [&] {
    struct stat st {};
    assert_int_equal(stat(f.F("usage/data.mdb").c_str(), &st), 0);
    return st;
  }();
  // Within the interval, from another host too: nothing written, nothing opened.
  for (int i = 1; i < 60; ++i) ASSERT_OK(s->RecordUse(m.cred.id, use(1000 + i, "h2"), 60));
  assert_int_equal(s->usage_opens(), 1);
  assert_int_equal(last().time, 1000);
  struct stat after {};
  assert_int_equal(stat(f.F("usage/data.mdb").c_str(), &after), 0);
  assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  ASSERT_OK(s->RecordUse(m.cred.id, use(1060, "h2"), 60));
  assert_int_equal(last().time, 1060);
  assert_string_equal(last().rhost.c_str(), "h2");
  assert_int_equal(s->usage_opens(), 1);
  // Made group-readable: the kept handle is dropped and the open refuses; put back, it
  // opens again.
  assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), 0640), 0);
  ASSERT_CODE(s->RecordUse(m.cred.id, use(2000, "h1"), 60), kUnavailable);
  assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), 0600), 0);
  ASSERT_OK(s->RecordUse(m.cred.id, use(2000, "h1"), 60));
  assert_int_equal(last().time, 2000);
  assert_int_equal(s->usage_opens(), 3);
  // Missing: an error (the shim's warning), not a crash.
  std::error_code ec;
  fs::remove_all(f.F("usage"), ec);
  ASSERT_CODE(s->RecordUse(m.cred.id, use(3000, "h1"), 60), kUnavailable);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_hit_after_first_open),
      STORE_TEST(test_chmod_fails_closed),
      STORE_TEST(test_replaced_key),
      STORE_TEST(test_replaced_data),
      STORE_TEST(test_replaced_dir),
      STORE_TEST(test_truncated_data),
      STORE_TEST(test_fork),
      STORE_TEST(test_threads),
      STORE_TEST(test_record_use),
  };
  return cmocka_run_group_tests_name("store_cache", tests, nullptr, nullptr);
}
