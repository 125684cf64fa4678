// Unit tests of second_factor_broker.h against tests/lib/fake_broker.py, a deliberately
// broken or scripted apppassd on a socket in a temporary directory:
//   - CODE: every outcome the daemon names comes back as that CodeDecision (codes_left
//     with recovery-code, detail passed on); the request carries user, code (a secret:
//     hidden in the fake's log), service and rhost only when known; a code or user too
//     large is bad-input without the daemon
//   - ENROLLED: yes and no; an old or broken answer is Unavailable with *enrolled true
//   - ACCOUNT: every state; unknown ones are unavailable
//   - for all three: no daemon, one that hangs, sends garbage, closes, answers slowly or
//     answers another request, a FAIL (not in the group), an unknown outcome or state,
//     ITEM lines: unavailable, each within the deadline (measured)

#include "second_factor_broker.h"

#include <chrono>
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

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kCode[] = "492017";

using Fixture = testlib::BrokerFixture;
constexpr auto Setup = &Fixture::Setup;
constexpr auto Teardown = &Fixture::Teardown;

CodeDecision Code(Fixture* f, const std::vector<std::string>& lines) {
  f->Start(lines);
  return CheckLoginCodeViaBroker(f->socket, "alice", kCode, "sshd", "192.0.2.7");
}

#define ASSERT_CODE_OUTCOME(d, want)                                                            \
  do {                                                                                          \
    const ::apppass::CodeDecision& d_ = (d);                                                    \
    if (d_.outcome != (want))                                                                   \
      fail_msg("%s: expected %s, got %s (%s)", #d,                                              \
               std::string(::apppass::CodeOutcomeName(want)).c_str(),                           \
               std::string(::apppass::CodeOutcomeName(d_.outcome)).c_str(), d_.detail.c_str()); \
  } while (0)

void test_code_outcomes(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  CodeDecision d = Code(f, {"OK\t{id}\toutcome=accepted"});
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kAccepted);
  assert_int_equal(d.recovery_codes_left, -1);
  assert_true(d.detail.empty());
  // The request: CODE with the fields in order; the code only as "*" in the fake's log.
  const std::string asked = f->Asked();
  assert_true(asked.starts_with("CODE\t"));
  ASSERT_CONTAINS(asked, "\tuser=alice\tcode=*\tservice=sshd\trhost=192.0.2.7\n");
  assert_true(asked.find(kCode) == std::string::npos);

  d = Code(f, {"OK\t{id}\toutcome=recovery-code\tcodes_left=9"});
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kRecoveryCode);
  assert_int_equal(d.recovery_codes_left, 9);
  d = Code(f, {"OK\t{id}\toutcome=recovery-code\tcodes_left=0"});
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kRecoveryCode);
  assert_int_equal(d.recovery_codes_left, 0);

  const struct {
    const char* line;
    CodeOutcome want;
    const char* detail;
  } rows[] = {
      {"OK\t{id}\toutcome=not-enrolled", CodeOutcome::kNotEnrolled, ""},
      {"OK\t{id}\toutcome=throttled\tdetail=5 wrong codes", CodeOutcome::kThrottled,
       "5 wrong codes"},
      {"OK\t{id}\toutcome=reused-code", CodeOutcome::kReusedCode, ""},
      {"OK\t{id}\toutcome=wrong-code", CodeOutcome::kWrongCode, ""},
      {"OK\t{id}\toutcome=bad-input\tdetail=no code was entered", CodeOutcome::kBadInput,
       "no code was entered"},
      {"OK\t{id}\toutcome=unavailable\tdetail=cannot open the store", CodeOutcome::kUnavailable,
       "cannot open the store"},
  };
  for (const auto& row : rows) {
    d = Code(f, {row.line});
    ASSERT_CODE_OUTCOME(d, row.want);
    assert_string_equal(d.detail.c_str(), row.detail);
    assert_int_equal(d.recovery_codes_left, -1);
  }
}

void test_code_without_rhost(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->Start({"OK\t{id}\toutcome=wrong-code"});
  const CodeDecision d = CheckLoginCodeViaBroker(f->socket, "bob", "abcd-efgh-jkmn", "sudo", "");
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kWrongCode);
  const std::string asked = f->Asked();
  ASSERT_CONTAINS(asked, "\tuser=bob\tcode=*\tservice=sudo\n");
  assert_true(asked.find("abcd") == std::string::npos);
}

// Too large for CheckLoginCode: refused here, in its words, with no daemon at all (a
// bad-input, not unavailable, proves the daemon was not asked).
void test_code_oversized_input_refused_locally(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  CodeDecision d =
      CheckLoginCodeViaBroker(f->socket, "alice", std::string(kMaxCodeInput + 1, '1'), "sshd", "");
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kBadInput);
  assert_string_equal(d.detail.c_str(), "the code is too long");
  const std::string long_user(kMaxUserLength + 1, 'u');
  d = CheckLoginCodeViaBroker(f->socket, long_user, kCode, "sshd", "");
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kBadInput);
  assert_string_equal(d.detail.c_str(), ValidateUserName(long_user).message().c_str());
  // The control: the largest allowed input goes to the daemon (here none: unavailable).
  d = CheckLoginCodeViaBroker(f->socket, std::string(kMaxUserLength, 'u'),
                              std::string(kMaxCodeInput, '1'), "sshd", "");
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kUnavailable);
  ASSERT_CONTAINS(d.detail, "the apppass service is not running");
}

// Each of these answers is no decision: unavailable, with why.
void test_code_anything_else_is_unavailable(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const struct {
    std::vector<std::string> lines;
    const char* detail;
  } rows[] = {
      {{"FAIL\t{id}\tdenied\tnot allowed to verify"},
       "the apppass service refused to check the code: not allowed to verify"},
      {{"FAIL\t{id}\tunknown_request\tunknown request kind CODE"},
       "refused to check the code: unknown request kind CODE"},  // a daemon of minor 0
      {{"OK\t{id}"}, "malformed reply from the apppass service (no outcome)"},
      {{"OK\t{id}\toutcome=maybe"}, "(unknown outcome maybe)"},
      {{"OK\t{id}\toutcome=Accepted"}, "(unknown outcome Accepted)"},
      {{"OK\t{id}\toutcome=accepted-with-a-new-name"}, "(unknown outcome"},
      {{"OK\t{id}\toutcome=recovery-code"}, "(recovery-code without a count of codes left)"},
      {{"OK\t{id}\toutcome=recovery-code\tcodes_left=11"}, "without a count of codes left"},
      {{"OK\t{id}\toutcome=recovery-code\tcodes_left=09"}, "without a count of codes left"},
      {{"OK\t{id}\toutcome=recovery-code\tcodes_left=-1"}, "without a count of codes left"},
      {{"OK\t{id}\toutcome=recovery-code\tcodes_left="}, "without a count of codes left"},
      {{"ITEM\t{id}\tx=1", "OK\t{id}\toutcome=accepted"}, "(ITEM to CODE)"},
      {{"OK\t{other}\toutcome=accepted"}, "malformed reply from the apppass service"},
  };
  for (const auto& row : rows) {
    const CodeDecision d = Code(f, row.lines);
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kUnavailable);
    ASSERT_CONTAINS(d.detail, row.detail);
  }
}

void test_enrolled(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  bool enrolled = false;
  f->Start({"OK\t{id}\tenrolled=yes"});
  ASSERT_OK(EnrolledViaBroker(f->socket, "alice", &enrolled));
  assert_true(enrolled);
  ASSERT_CONTAINS(f->Asked(), "ENROLLED\t");
  ASSERT_CONTAINS(f->Asked(), "\tuser=alice\n");
  f->Start({"OK\t{id}\tenrolled=no"});
  ASSERT_OK(EnrolledViaBroker(f->socket, "alice", &enrolled));
  assert_false(enrolled);
  // Anything else: Unavailable, and *enrolled true (a caller that ignored the status
  // would still ask for a code).
  for (const std::vector<std::string>& lines : std::vector<std::vector<std::string>>{
           {"OK\t{id}"},
           {"OK\t{id}\tenrolled=maybe"},
           {"OK\t{id}\tenrolled=No"},
           {"OK\t{id}\toutcome=accepted"},
           {"FAIL\t{id}\tdenied\tnot allowed to verify"},
           {"FAIL\t{id}\tunavailable\tcannot read the enrollment of alice"},
           {"FAIL\t{id}\tunknown_request\tunknown request kind ENROLLED"},
           {"ITEM\t{id}\tenrolled=no", "OK\t{id}\tenrolled=no"},
       }) {
    enrolled = false;
    f->Start(lines);
    ASSERT_CODE(EnrolledViaBroker(f->socket, "alice", &enrolled), kUnavailable);
    assert_true(enrolled);
  }
  f->Start({"FAIL\t{id}\tdenied\tnot allowed to verify"});
  const Status s = EnrolledViaBroker(f->socket, "alice", &enrolled);
  assert_string_equal(s.message().c_str(),
                      "the apppass service refused to say whether the user is enrolled: not "
                      "allowed to verify");
  // A name no record can have: not enrolled, without asking (no daemon here).
  f->broker.Stop();
  enrolled = true;
  ASSERT_OK(EnrolledViaBroker(f->socket, std::string(kMaxUserLength + 1, 'u'), &enrolled));
  assert_false(enrolled);
  ASSERT_CODE(EnrolledViaBroker(f->socket, std::string(kMaxUserLength, 'u'), &enrolled),
              kUnavailable);
  assert_true(enrolled);
}

void test_account(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  for (AccountState st :
       {AccountState::kOk, AccountState::kUnknown, AccountState::kLocked, AccountState::kExpired}) {
    f->Start({"OK\t{id}\tstate=" + std::string(AccountStateName(st))});
    const AccountCheck a = CheckAccountViaBroker(f->socket, "alice");
    assert_true(a.state == st);
    assert_true(a.detail.empty());
  }
  ASSERT_CONTAINS(f->Asked(), "ACCOUNT\t");
  ASSERT_CONTAINS(f->Asked(), "\tuser=alice\n");
  f->Start({"OK\t{id}\tstate=unavailable\tdetail=getspnam_r: Permission denied"});
  AccountCheck a = CheckAccountViaBroker(f->socket, "alice");
  assert_true(a.state == AccountState::kUnavailable);
  assert_string_equal(a.detail.c_str(), "getspnam_r: Permission denied");
  const struct {
    std::vector<std::string> lines;
    const char* detail;
  } rows[] = {
      {{"OK\t{id}"}, "(no state)"},
      {{"OK\t{id}\tstate=account-disabled"}, "(unknown state account-disabled)"},
      {{"OK\t{id}\tstate=OK"}, "(unknown state OK)"},
      {{"FAIL\t{id}\tdenied\tnot allowed to verify"},
       "the apppass service refused to check the account: not allowed to verify"},
      {{"ITEM\t{id}\tstate=ok", "OK\t{id}\tstate=ok"}, "(ITEM to ACCOUNT)"},
  };
  for (const auto& row : rows) {
    f->Start(row.lines);
    a = CheckAccountViaBroker(f->socket, "alice");
    assert_true(a.state == AccountState::kUnavailable);
    ASSERT_CONTAINS(a.detail, row.detail);
  }
}

// A daemon that is not there or not right: all three fail closed, within the deadline.
void test_broken_daemons_within_the_deadline(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const struct {
    const char* mode;
    const char* detail;
    bool waits;  // only the deadline ends it
  } rows[] = {
      {nullptr, "the apppass service is not running", false},
      {"hang", "no answer from the apppass service within 0.4 s", true},
      {"version-hang", "no answer from the apppass service within 0.4 s", true},
      {"slow", "no answer from the apppass service within 0.4 s", true},
      {"garbage", "malformed reply", false},
      {"close", "closed the connection before answering", false},
  };
  for (const auto& row : rows) {
    if (row.mode == nullptr) {
      f->broker.Stop();
    } else {
      f->Start({"OK\t{id}\toutcome=accepted"}, row.mode);
    }
    const auto limit = row.waits ? 1000ms : 500ms;
    auto t0 = Clock::now();
    const CodeDecision d = CheckLoginCodeViaBroker(f->socket, "alice", kCode, "sshd", "", 400ms);
    auto took = Clock::now() - t0;
    ASSERT_CODE_OUTCOME(d, CodeOutcome::kUnavailable);
    ASSERT_CONTAINS(d.detail, row.detail);
    if (took > limit) fail_msg("CODE (%s) took too long", row.mode ? row.mode : "no daemon");
    if (row.waits && took < 400ms) fail_msg("CODE (%s) gave up early", row.mode);

    bool enrolled = false;
    t0 = Clock::now();
    const Status s = EnrolledViaBroker(f->socket, "alice", &enrolled, 400ms);
    took = Clock::now() - t0;
    ASSERT_CODE(s, kUnavailable);
    ASSERT_CONTAINS(s.message(), row.detail);
    assert_true(enrolled);
    if (took > limit) fail_msg("ENROLLED (%s) took too long", row.mode ? row.mode : "no daemon");

    t0 = Clock::now();
    const AccountCheck a = CheckAccountViaBroker(f->socket, "alice", 400ms);
    took = Clock::now() - t0;
    assert_true(a.state == AccountState::kUnavailable);
    ASSERT_CONTAINS(a.detail, row.detail);
    if (took > limit) fail_msg("ACCOUNT (%s) took too long", row.mode ? row.mode : "no daemon");
  }
  // With the default deadline (kVerifyTimeout, 1.5 s): under the 2 s a verifier may take.
  f->Start({}, "hang");
  const auto t0 = Clock::now();
  const CodeDecision d = CheckLoginCodeViaBroker(f->socket, "alice", kCode, "sshd", "");
  const auto took = Clock::now() - t0;
  ASSERT_CODE_OUTCOME(d, CodeOutcome::kUnavailable);
  assert_true(took >= broker::kVerifyTimeout && took < 2s);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_code_outcomes, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_code_without_rhost, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_code_oversized_input_refused_locally, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_code_anything_else_is_unavailable, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_enrolled, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_account, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_broken_daemons_within_the_deadline, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("second_factor_broker", tests, nullptr, nullptr);
}
