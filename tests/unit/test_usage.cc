// Unit tests of usage.h: last use and its throttling, the usage record, and refusing an
// unsafe usage database. The fixture is store_fixture.h.

// The fixture brings the headers of common/ these tests use, the standard headers and,
// last, test_util.h (CMocka).
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

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
  // Within the interval: the first use stays, whatever the service or host (the throttle
  // is time only, at most one write per interval).
  ASSERT_OK(db.Record("id1", use(1030, "imap", "h1"), 60));
  expect(1000, "imap", "h1");
  ASSERT_OK(db.Record("id1", use(1031, "pop3", "h2"), 60));
  expect(1000, "imap", "h1");
  ASSERT_OK(db.Record("id1", use(1059, "imap", "h1"), 60));
  expect(1000, "imap", "h1");
  ASSERT_OK(db.Record("id1", use(1060, "imap", "h1"), 60));
  expect(1060, "imap", "h1");
  // After the interval another service and host are written.
  ASSERT_OK(db.Record("id1", use(1120, "pop3", "h2"), 60));
  expect(1120, "pop3", "h2");
  ASSERT_OK(db.Record("id1", use(1121, "pop3", "h1"), 60));
  expect(1120, "pop3", "h2");
  // A recorded time in the future (the clock set back) does not hold writes back.
  ASSERT_OK(db.Record("id1", use(1062, "pop3", "h2"), 60));
  expect(1062, "pop3", "h2");
  // No throttling with an interval of 0.
  ASSERT_OK(db.Record("id1", use(1062, "imap", "h2"), 0));
  expect(1062, "imap", "h2");
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

void test_usage_refuses_unsafe(void** state) {
  Fixture& f = Fx(state);
  UsageDb db;
  // Root's alone: even the group's old read-write (0660, 0750) is refused now.
  for (mode_t bad : {0666, 0660, 0640}) {
    assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), bad), 0);
    ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  }
  assert_int_equal(chmod(f.F("usage/data.mdb").c_str(), 0600), 0);
  ASSERT_OK(UsageDb::Open(f.dir, true, &db));
  db = UsageDb();
  for (mode_t bad : {0777, 0750}) {
    assert_int_equal(chmod(f.F("usage").c_str(), bad), 0);
    ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  }
  assert_int_equal(chmod(f.F("usage").c_str(), 0700), 0);
  ASSERT_OK(UsageDb::Open(f.dir, true, &db));
  db = UsageDb();
  assert_int_equal(unlink(f.F("usage/data.mdb").c_str()), 0);
  ASSERT_CODE(UsageDb::Open(f.dir, true, &db), kUnavailable);
  ASSERT_CODE(UsageDb::Open(f.tmp.Join("nonexistent"), false, &db), kUnavailable);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_usage),
      STORE_TEST(test_usage_refuses_unsafe),
  };
  return cmocka_run_group_tests_name("usage", tests, nullptr, nullptr);
}
