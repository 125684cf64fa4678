// Unit tests of output safety in the store: the usage database keeps service and remote
// host as printable ASCII (usage.h), and names and labels being created refuse invisible
// and format characters (admin.h, text.h ValidateNewUserName / ValidateNewLabel).

#include <string>
#include <vector>

#include "admin.h"
#include "text.h"
#include "usage.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using namespace std::string_literals;

constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;  // destroyed last: everything below lives in it
  std::string dir;    // the store: tmp/store
  Store admin;        // open in kAdmin mode; alice has confirmed MFA
};

int Setup(void** state) {
  auto* f = new Fixture;
  f->dir = f->tmp.Join("store");
  const Status s = f->tmp.path().empty()
                       ? Status::Internal("mkdtemp failed")
                       : test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin);
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

bool PrintableAscii(const std::string& s) {
  for (char ch : s)
    if (ch < 0x20 || ch > 0x7E) return false;
  return true;
}

Usage Get(const std::string& dir, const char* id) {
  UsageDb ro;
  Usage got;
  const Status s = UsageDb::Open(dir, false, &ro);
  if (!s.ok() || !(ro.Get(id, &got)).ok()) fail_msg("no usage record for %s", id);
  return got;
}

// A client-supplied host with terminal escapes (an OSC 52 clipboard write, a bidi
// override, bytes that are not UTF-8) is stored escaped, through each handle that writes.
void test_usage_stores_printable_ascii(void** state) {
  Fixture& f = Fx(state);
  const std::string evil_host = "h\x1b]52;c;ZXZpbA==\x07\xe2\x80\xae\xff \"q\" \\";
  const std::string evil_service = "imap\x1b[2J";
  const Usage use{
      .version = kUsageVersion, .time = 1000, .service = evil_service, .rhost = evil_host};
  {
    UsageDb db;
    ASSERT_OK(UsageDb::Open(f.dir, true, &db));
    ASSERT_OK(db.Record("id1", use, 60));
  }
  Usage got = Get(f.dir, "id1");
  assert_string_equal(got.rhost.c_str(),
                      "h\\x1b]52;c;ZXZpbA==\\x07\\xe2\\x80\\xae\\xff \\x22q\\x22 \\x5c");
  assert_string_equal(got.service.c_str(), "imap\\x1b[2J");
  auto record = [&f](const char* id, const Usage& u) {
    UsageDb db;
    ASSERT_OK(UsageDb::Open(f.dir, true, &db));
    ASSERT_OK(db.Record(id, u, 60));
  };
  record("id2", use);
  got = Get(f.dir, "id2");
  assert_true(PrintableAscii(got.rhost) && PrintableAscii(got.service));
  assert_string_equal(got.rhost.c_str(), Get(f.dir, "id1").rhost.c_str());
  // The same use again within the interval is not written again, through either handle.
  Usage again = use;
  again.time = 1030;
  record("id2", again);
  assert_int_equal(Get(f.dir, "id2").time, 1000);
  {
    UsageDb db;
    ASSERT_OK(UsageDb::Open(f.dir, true, &db));
    ASSERT_OK(db.Record("id1", again, 60));
  }
  assert_int_equal(Get(f.dir, "id1").time, 1000);
  // Long values are cut.
  const Usage long_use{.version = kUsageVersion,
                       .time = 2000,
                       .service = "imap",
                       .rhost = std::string(1000, '\x1b')};
  record("id3", long_use);
  assert_int_equal(Get(f.dir, "id3").rhost.size(), kMaxUsageField * 4 + 3);
  // Ordinary values are stored as they are.
  const Usage plain{
      .version = kUsageVersion, .time = 3000, .service = "smtp", .rhost = "2001:db8::7"};
  record("id4", plain);
  assert_string_equal(Get(f.dir, "id4").rhost.c_str(), "2001:db8::7");
  assert_string_equal(Get(f.dir, "id4").service.c_str(), "smtp");
}

// Enrolling, importing and creating refuse a name or label with a format character;
// looking a user up does not (so an older one can still be listed and revoked).
void test_new_names_refused(void** state) {
  Fixture& f = Fx(state);
  const std::string rlo_user =
      "\xe2\x80\xae"
      "ecila";
  EnrollResult er;
  Status s = MfaEnroll(f.admin, rlo_user, "apppass", kNow, &er);
  ASSERT_CODE(s, kInvalidArgument);
  if (s.message().find("U+202E") == std::string::npos) fail_msg("%s", s.message().c_str());
  UserRecord u;
  ASSERT_CODE(MfaGet(f.admin, rlo_user, &u), kNotFound);
  ASSERT_CODE(MfaEnroll(f.admin,
                        "ali\xe2\x80\x8b"
                        "ce",
                        "apppass", kNow, &er),
              kInvalidArgument);
  ExistingTotp existing;
  existing.secret = SecretBuffer(20);
  existing.secret.resize(20);
  existing.source = std::string(kSourceOath);
  s = MfaImport(f.admin, rlo_user, existing, "123456", kNow);
  ASSERT_CODE(s, kInvalidArgument);
  if (s.message().find("U+202E") == std::string::npos) fail_msg("%s", s.message().c_str());

  CreateRequest req;
  req.user = "alice";
  req.name = "Phone\xef\xb8\x8f";  // variation selector 16
  req.scopes = {"imap"};
  Created c;
  s = CreatePassword(f.admin, req, kNow, &c);
  ASSERT_CODE(s, kInvalidArgument);
  if (s.message().find("U+FE0F") == std::string::npos) fail_msg("%s", s.message().c_str());
  req.name = "Phone \xf0\x9f\x93\xb1";
  ASSERT_OK(CreatePassword(f.admin, req, kNow, &c));
  std::vector<Listed> listed;
  ASSERT_OK(ListPasswords(f.admin, rlo_user, false, &listed));
  assert_int_equal(listed.size(), 0);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_usage_stores_printable_ascii, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_new_names_refused, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("output_safety", tests, nullptr, nullptr);
}
