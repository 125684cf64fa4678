// Unit tests of authenticate.h: the core call both shims make. For each kind of decision,
// the Decision, its log line and severity, and whether (and how) last use is recorded;
// a failed recording is a warning that leaves the decision alone.
//
// One store per test (setup), with user "alice" enrolled and one app password for "imap",
// verified through a second Store opened for verifying, as the shims do.

#include "authenticate.h"

#include <string>
#include <vector>

#include "admin.h"
#include "store.h"
#include "usage.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;  // destroyed last
  std::string dir;
  Store admin;
  Store verify;
  std::string password;  // alice's app password for imap
  std::string id;
};

int Setup(void** state) {
  auto* f = new Fixture;
  f->dir = f->tmp.Join("store");
  Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin);
  Created c;
  if (s.ok())
    s = CreatePassword(f->admin, {.user = "alice", .name = "phone", .scopes = {"imap"}}, kNow, &c);
  if (s.ok()) s = Store::Open(f->dir, Store::Mode::kVerify, &f->verify);
  if (!s.ok()) {
    print_error("making the test store failed: %s\n", s.message().c_str());
    delete f;
    return -1;
  }
  f->password = std::string(c.password.view());
  f->id = c.cred.id;
  *state = f;
  return 0;
}

int Teardown(void** state) {
  delete static_cast<Fixture*>(*state);
  return 0;
}

Fixture& Fx(void** state) { return *static_cast<Fixture*>(*state); }

// A recorder that remembers its calls and answers `answer`.
struct Recorder {
  Status answer;
  std::vector<std::string> ids;
  std::vector<Usage> uses;
  RecordUse Fn() {
    return [this](std::string_view id, const Usage& use) {
      ids.emplace_back(id);
      uses.push_back(use);
      return answer;
    };
  }
};

AuthRequest Request(const Store* store, std::string_view user, std::string_view password,
                    std::string_view service = "imap") {
  return {.store = store, .ctx = {service, user, "192.0.2.7"}, .password = password, .now = kNow};
}

void test_accepted_is_info_and_recorded(void** state) {
  Fixture& f = Fx(state);
  Recorder rec;
  const AuthResult r = Authenticate(Request(&f.verify, "alice", f.password), rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kAccepted);
  assert_int_equal(r.log.size(), 1);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kInfo));
  assert_string_equal(
      r.log[0].text.c_str(),
      ("accepted service=imap user=alice rhost=192.0.2.7 id=" + f.id + " name=phone").c_str());
  // Recorded once, for the matched credential, with the request's time, service and host.
  assert_int_equal(rec.ids.size(), 1);
  assert_string_equal(rec.ids[0].c_str(), f.id.c_str());
  assert_int_equal(rec.uses[0].time, kNow);
  assert_string_equal(rec.uses[0].service.c_str(), "imap");
  assert_string_equal(rec.uses[0].rhost.c_str(), "192.0.2.7");
}

void test_refused_is_notice_and_not_recorded(void** state) {
  Fixture& f = Fx(state);
  Recorder rec;
  AuthResult r = Authenticate(Request(&f.verify, "alice", "not-the-password"), rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kWrongPassword);
  assert_int_equal(r.log.size(), 1);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kNotice));
  assert_string_equal(r.log[0].text.c_str(),
                      "refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password");
  r = Authenticate(Request(&f.verify, "alice", f.password, "smtp"), rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kOutOfScope);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kNotice));
  ASSERT_CONTAINS(r.log[0].text, "refused service=smtp user=alice");
  ASSERT_CONTAINS(r.log[0].text, "reason=out-of-scope id=" + f.id);
  r = Authenticate(Request(&f.verify, "bob", f.password), rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kUnknownUser);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kNotice));
  assert_true(rec.ids.empty());
}

// No store: the decision is unavailable, logged as an error with the reason given; the
// same line the shims wrote before for a store that cannot be opened.
void test_unavailable_is_error(void**) {
  Recorder rec;
  AuthRequest req = Request(nullptr, "alice", "whatever");
  req.unavailable = "cannot open /nowhere/key";
  const AuthResult r = Authenticate(req, rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kUnavailable);
  assert_string_equal(r.decision.detail.c_str(), "cannot open /nowhere/key");
  assert_int_equal(r.log.size(), 1);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kError));
  const DecisionContext ctx{"imap", "alice", "192.0.2.7"};
  assert_string_equal(
      r.log[0].text.c_str(),
      FormatEarlyRefusal(ctx, "error", "unavailable", "cannot open /nowhere/key").c_str());
  assert_true(rec.ids.empty());
}

// Verify's own unavailable decision (a store that is not open) is an error too: the PAM
// module used to log it at NOTICE.
void test_verify_unavailable_is_error(void**) {
  const Store closed;
  const AuthResult r = Authenticate(Request(&closed, "alice", "whatever"), {});
  ASSERT_OUTCOME(r.decision, Outcome::kUnavailable);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kError));
  ASSERT_CONTAINS(r.log[0].text, "error service=imap user=alice");
}

void test_failed_recording_warns_and_still_accepts(void** state) {
  Fixture& f = Fx(state);
  Recorder rec{.answer = Status::Unavailable("usage database is full")};
  const AuthResult r = Authenticate(Request(&f.verify, "alice", f.password), rec.Fn());
  ASSERT_OUTCOME(r.decision, Outcome::kAccepted);
  assert_int_equal(r.log.size(), 2);
  assert_int_equal(static_cast<int>(r.log[0].severity), static_cast<int>(LogSeverity::kInfo));
  assert_int_equal(static_cast<int>(r.log[1].severity), static_cast<int>(LogSeverity::kWarning));
  const std::string want = "could not record last use of id=" + f.id + ": usage database is full";
  assert_string_equal(r.log[1].text.c_str(), want.c_str());
}

void test_no_recorder_records_nothing(void** state) {
  Fixture& f = Fx(state);
  const AuthResult r = Authenticate(Request(&f.verify, "alice", f.password), {});
  ASSERT_OUTCOME(r.decision, Outcome::kAccepted);
  assert_int_equal(r.log.size(), 1);
}

// With the real usage database, as both shims record (a writable handle kept open).
void test_records_with_usage_db(void** state) {
  Fixture& f = Fx(state);
  UsageDb writer;
  ASSERT_OK(UsageDb::Open(f.dir, true, &writer));
  const RecordUse record = [&writer](std::string_view id, const Usage& use) {
    return writer.Record(id, use, kDefaultUsageInterval);
  };
  const AuthResult r = Authenticate(Request(&f.verify, "alice", f.password), record);
  ASSERT_OUTCOME(r.decision, Outcome::kAccepted);
  assert_int_equal(r.log.size(), 1);
  UsageDb usage;
  ASSERT_OK(UsageDb::Open(f.dir, false, &usage));
  Usage got;
  ASSERT_OK(usage.Get(f.id, &got));
  assert_int_equal(got.time, kNow);
  assert_string_equal(got.service.c_str(), "imap");
  assert_string_equal(got.rhost.c_str(), "192.0.2.7");
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_accepted_is_info_and_recorded, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_refused_is_notice_and_not_recorded, Setup, Teardown),
      cmocka_unit_test(test_unavailable_is_error),
      cmocka_unit_test(test_verify_unavailable_is_error),
      cmocka_unit_test_setup_teardown(test_failed_recording_warns_and_still_accepts, Setup,
                                      Teardown),
      cmocka_unit_test_setup_teardown(test_no_recorder_records_nothing, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_records_with_usage_db, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("authenticate", tests, nullptr, nullptr);
}
