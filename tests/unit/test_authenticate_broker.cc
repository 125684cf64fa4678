// Unit tests of authenticate_broker.h: a VERIFY's reply becomes the Decision an in-process
// Verify would make, with the same decision line and severity (authenticate.h); anything
// else a daemon can answer (FAIL, no or an unknown outcome, an acceptance without an id,
// ITEMs, an enrolled= other than yes or no, no daemon at all) is kUnavailable with a
// detail, logged as one error line; a reply without enrolled= counts as enrolled. The
// request carries the user, password, service and, when known, the remote host; input
// too large for a protocol line is refused locally with the verifier's own words.
// Against tests/lib/fake_broker.py on a socket in a temporary directory.

#include "authenticate_broker.h"

#include <string>
#include <vector>

#include "fake_broker.h"
#include "text.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"
// After test_util.h: it uses cmocka.
#include "fake_broker_fixture.h"

namespace apppass {
namespace {

const DecisionContext kCtx{"imap", "alice", "192.0.2.7"};
constexpr char kPassword[] = "abcd-efgh-jkmn-pqrs-tuvw";

using Fixture = testlib::BrokerFixture;
constexpr auto Setup = &Fixture::Setup;
constexpr auto Teardown = &Fixture::Teardown;

AuthResult Ask(Fixture* f, const std::vector<std::string>& lines, const char* mode = "reply") {
  f->Start(lines, mode);
  return AuthenticateViaBroker(f->socket, kCtx, kPassword);
}

void ExpectOneLine(const AuthResult& r, LogSeverity severity, const std::string& text) {
  if (r.log.size() != 1) fail_msg("%zu log lines, want 1", r.log.size());
  assert_true(r.log[0].severity == severity);
  assert_string_equal(r.log[0].text.c_str(), text.c_str());
}

void test_outcome_names_round_trip(void**) {
  for (Outcome o :
       {Outcome::kAccepted, Outcome::kUnknownUser, Outcome::kWrongPassword, Outcome::kRevoked,
        Outcome::kExpired, Outcome::kOutOfScope, Outcome::kBadInput, Outcome::kUnavailable}) {
    const auto back = OutcomeFromName(OutcomeName(o));
    assert_true(back.has_value() && *back == o);
  }
  assert_false(OutcomeFromName("Accepted").has_value());
  assert_false(OutcomeFromName("").has_value());
}

void test_accepted(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const AuthResult r = Ask(f, {"OK\t{id}\toutcome=accepted\tid=4f2a9c1e\tname=iPhone"});
  ASSERT_OUTCOME(r.decision, Outcome::kAccepted);
  assert_string_equal(r.decision.id.c_str(), "4f2a9c1e");
  // The line an in-process acceptance writes (FormatDecision), at the same severity.
  ExpectOneLine(r, LogSeverity::kInfo,
                "accepted service=imap user=alice rhost=192.0.2.7 id=4f2a9c1e name=iPhone");
  // What the daemon was asked (its log hides the password).
  const std::string asked = f->Asked();
  ASSERT_CONTAINS(asked, "\tuser=alice\tpassword=*\tservice=imap\trhost=192.0.2.7\n");
  assert_true(asked.starts_with("VERIFY\t"));
}

void test_refusals_are_in_process_refusals(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  AuthResult r = Ask(f, {"OK\t{id}\toutcome=revoked\tid=4f2a9c1e\tname=iPhone"});
  ASSERT_OUTCOME(r.decision, Outcome::kRevoked);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=imap user=alice rhost=192.0.2.7 reason=revoked id=4f2a9c1e "
                "name=iPhone");
  r = Ask(f, {"OK\t{id}\toutcome=wrong-password"});
  ASSERT_OUTCOME(r.decision, Outcome::kWrongPassword);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password");
  r = Ask(f, {"OK\t{id}\toutcome=bad-input\tdetail=user name is not valid UTF-8"});
  ASSERT_OUTCOME(r.decision, Outcome::kBadInput);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=imap user=alice rhost=192.0.2.7 reason=bad-input "
                "detail=\"user name is not valid UTF-8\"");
  // The daemon's own store trouble is the verifier's unavailable.
  r = Ask(f, {"OK\t{id}\toutcome=unavailable\tdetail=cannot open the store"});
  ASSERT_OUTCOME(r.decision, Outcome::kUnavailable);
  ExpectOneLine(r, LogSeverity::kError,
                "error service=imap user=alice rhost=192.0.2.7 reason=unavailable "
                "detail=\"cannot open the store\"");
}

// Each of these is no decision: unavailable (fail closed), one error line with a detail.
void test_anything_else_is_unavailable(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const struct {
    std::vector<std::string> lines;
    const char* detail;
  } rows[] = {
      {{"FAIL\t{id}\tdenied\tnot allowed to verify"},
       "the apppass service refused to verify: not allowed to verify"},
      {{"OK\t{id}"}, "malformed reply from the apppass service (no outcome)"},
      {{"OK\t{id}\toutcome=maybe"}, "malformed reply from the apppass service (unknown outcome"},
      {{"OK\t{id}\toutcome=accepted"}, "(accepted without an id)"},
      {{"ITEM\t{id}\tid=1", "OK\t{id}\toutcome=accepted\tid=1"}, "(ITEM to a VERIFY)"},
      {{"OK\t{other}\toutcome=accepted\tid=1"}, "malformed reply from the apppass service"},
  };
  for (const auto& row : rows) {
    const AuthResult r = Ask(f, row.lines);
    ASSERT_OUTCOME(r.decision, Outcome::kUnavailable);
    ASSERT_CONTAINS(r.decision.detail, row.detail);
    assert_int_equal(r.log.size(), 1);
    assert_true(r.log[0].severity == LogSeverity::kError);
    ASSERT_CONTAINS(r.log[0].text,
                    "error service=imap user=alice rhost=192.0.2.7 "
                    "reason=unavailable detail=\"");
  }
}

Decision FromLine(const std::string& line) {
  broker::Reply reply;
  ASSERT_OK(broker::ParseReply(line, &reply));
  return DecisionFromReply(reply);
}

// Minor 1: enrolled=yes|no; a reply without it (a daemon of minor 0) counts as enrolled,
// so unenrolled=ignore never passes an enrolled user to the next module; anything else
// is malformed.
void test_enrolled_field(void** state) {
  Decision d = FromLine("OK\t1\toutcome=wrong-password\tenrolled=no");
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_false(d.enrolled);
  d = FromLine("OK\t1\toutcome=wrong-password\tenrolled=yes");
  ASSERT_OUTCOME(d, Outcome::kWrongPassword);
  assert_true(d.enrolled);
  d = FromLine("OK\t1\toutcome=unknown-user");
  ASSERT_OUTCOME(d, Outcome::kUnknownUser);
  assert_true(d.enrolled);  // the control: absent is not "no"
  d = FromLine("OK\t1\toutcome=accepted\tid=4f2a9c1e\tname=iPhone\tenrolled=yes");
  ASSERT_OUTCOME(d, Outcome::kAccepted);
  assert_true(d.enrolled);
  for (const char* bad : {"maybe", "", "YES", "no "}) {
    d = FromLine(std::string("OK\t1\toutcome=wrong-password\tenrolled=") + bad);
    ASSERT_OUTCOME(d, Outcome::kUnavailable);
    ASSERT_CONTAINS(d.detail, "(enrolled is not yes or no)");
  }
  // Through a daemon, the same.
  auto* f = static_cast<Fixture*>(*state);
  AuthResult r = Ask(f, {"OK\t{id}\toutcome=wrong-password\tenrolled=no"});
  ASSERT_OUTCOME(r.decision, Outcome::kWrongPassword);
  assert_false(r.decision.enrolled);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password");
  r = Ask(f, {"OK\t{id}\toutcome=wrong-password"});
  assert_true(r.decision.enrolled);
}

void test_not_running(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const AuthResult r = AuthenticateViaBroker(f->socket, kCtx, kPassword);
  ASSERT_OUTCOME(r.decision, Outcome::kUnavailable);
  ExpectOneLine(r, LogSeverity::kError,
                "error service=imap user=alice rhost=192.0.2.7 reason=unavailable "
                "detail=\"the apppass service is not running (connect " +
                    f->socket + ": No such file or directory)\"");
}

void test_no_rhost_not_sent(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->Start({"OK\t{id}\toutcome=unknown-user"});
  const AuthResult r = AuthenticateViaBroker(f->socket, {"smtp", "bob", ""}, kPassword);
  ASSERT_OUTCOME(r.decision, Outcome::kUnknownUser);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=smtp user=bob rhost=- reason=unknown-user");
  ASSERT_CONTAINS(f->Asked(), "\tuser=bob\tpassword=*\tservice=smtp\n");
}

void test_oversized_input_refused_locally(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  // No daemon: a refusal, not unavailable, proves the daemon was not needed.
  AuthResult r = AuthenticateViaBroker(f->socket, kCtx, std::string(513, 'a'));
  ASSERT_OUTCOME(r.decision, Outcome::kBadInput);
  ExpectOneLine(r, LogSeverity::kNotice,
                "refused service=imap user=alice rhost=192.0.2.7 reason=bad-input "
                "detail=\"password longer than 512 bytes\"");
  const std::string long_user(300, 'u');
  r = AuthenticateViaBroker(f->socket, {"imap", long_user, ""}, std::string(513, 'a'));
  ASSERT_OUTCOME(r.decision, Outcome::kBadInput);
  assert_string_equal(r.decision.detail.c_str(), ValidateUserName(long_user).message().c_str());
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_outcome_names_round_trip),
      cmocka_unit_test_setup_teardown(test_accepted, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_refusals_are_in_process_refusals, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_anything_else_is_unavailable, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_enrolled_field, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_not_running, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_no_rhost_not_sent, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_oversized_input_refused_locally, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("authenticate_broker", tests, nullptr, nullptr);
}
