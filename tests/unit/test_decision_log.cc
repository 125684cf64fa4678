// Unit tests of decision_log.h: the one log line per decision that fail2ban reads.

#include "decision_log.h"

#include <string>
#include <vector>

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

// Every line is a result word, then space-separated key=value fields in a fixed order
// whose values contain no space, '=' or quote, then optionally a final quoted detail.
bool WellFormed(const std::string& line) {
  std::string head = line;
  const auto dpos = line.find(" detail=\"");
  if (dpos != std::string::npos) {
    const std::string detail = line.substr(dpos + 8);  // from the opening quote
    if (detail.size() < 2 || detail.back() != '"' || detail.find('"', 1) != detail.size() - 1)
      return false;
    head = line.substr(0, dpos);
  }
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (start <= head.size()) {
    const auto sp = head.find(' ', start);
    tokens.push_back(head.substr(start, sp == std::string::npos ? std::string::npos : sp - start));
    if (sp == std::string::npos) break;
    start = sp + 1;
  }
  if (tokens.size() < 4) return false;
  if (tokens[0] != "accepted" && tokens[0] != "refused" && tokens[0] != "error") return false;
  const std::vector<std::string> order = {"service", "user", "rhost", "reason", "id", "name"};
  std::size_t next = 0;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const auto eq = tokens[i].find('=');
    if (eq == std::string::npos || eq + 1 == tokens[i].size()) return false;
    const std::string key = tokens[i].substr(0, eq), value = tokens[i].substr(eq + 1);
    if (value.find_first_of("=\" ") != std::string::npos) return false;
    while (next < order.size() && order[next] != key) {
      if (next < 3) return false;  // service, user and rhost are always there
      ++next;
    }
    if (next == order.size()) return false;
    ++next;
  }
  return next >= 3;
}

void ExpectWellFormed(const std::string& line) {
  if (!WellFormed(line)) fail_msg("malformed log line: %s", line.c_str());
}

Decision Make(Outcome o, std::string id = "", std::string name = "", std::string detail = "") {
  Decision d;
  d.outcome = o;
  d.id = std::move(id);
  d.name = std::move(name);
  d.detail = std::move(detail);
  return d;
}

void test_formats(void**) {
  const DecisionContext ctx{"imap", "alice", "192.0.2.7"};
  std::string line = FormatDecision(ctx, Make(Outcome::kAccepted, "4f2a9c1e", "iPhone"));
  assert_string_equal(line.c_str(),
                      "accepted service=imap user=alice rhost=192.0.2.7 id=4f2a9c1e name=iPhone");
  line = FormatDecision(ctx, Make(Outcome::kWrongPassword));
  assert_string_equal(line.c_str(),
                      "refused service=imap user=alice rhost=192.0.2.7 reason=wrong-password");
  line = FormatDecision(ctx, Make(Outcome::kRevoked, "4f2a9c1e", "iPhone"));
  assert_string_equal(
      line.c_str(),
      "refused service=imap user=alice rhost=192.0.2.7 reason=revoked id=4f2a9c1e name=iPhone");
  line = FormatDecision(DecisionContext{"imap", "alice", ""},
                        Make(Outcome::kUnavailable, "", "", "disk on fire"));
  assert_string_equal(
      line.c_str(),
      "error service=imap user=alice rhost=- reason=unavailable detail=\"disk on fire\"");
  for (Outcome o :
       {Outcome::kAccepted, Outcome::kUnknownUser, Outcome::kWrongPassword, Outcome::kRevoked,
        Outcome::kExpired, Outcome::kOutOfScope, Outcome::kBadInput, Outcome::kUnavailable})
    ExpectWellFormed(FormatDecision(ctx, Make(o, "", "", "x")));
  // A default Decision is an error, never an acceptance.
  ASSERT_CONTAINS(FormatDecision(ctx, Decision{}), "error ");
}

void test_checker_rejects_forgeries(void**) {
  // The checker itself must catch what escaping is there to prevent.
  assert_true(WellFormed("refused service=imap user=a rhost=b reason=wrong-password"));
  assert_false(WellFormed("refused service=imap user=a rhost=b reason=x rhost=c"));
  assert_false(WellFormed("refused service=imap user=a b rhost=c"));
  assert_false(WellFormed("refused service=imap user=a=b rhost=c"));
  assert_false(WellFormed("accepted service=imap user= rhost=c"));
  assert_false(WellFormed("error service=imap user=a rhost=b detail=\"x\" y\""));
  assert_false(WellFormed("ok service=imap user=a rhost=b"));
}

void test_outcome_names(void**) {
  assert_true(OutcomeName(Outcome::kAccepted) == "accepted");
  assert_true(OutcomeName(Outcome::kUnknownUser) == "unknown-user");
  assert_true(OutcomeName(Outcome::kWrongPassword) == "wrong-password");
  assert_true(OutcomeName(Outcome::kRevoked) == "revoked");
  assert_true(OutcomeName(Outcome::kExpired) == "expired");
  assert_true(OutcomeName(Outcome::kOutOfScope) == "out-of-scope");
  assert_true(OutcomeName(Outcome::kBadInput) == "bad-input");
  assert_true(OutcomeName(Outcome::kUnavailable) == "unavailable");
}

void test_fields_cannot_be_forged(void**) {
  // A user name crafted to look like a successful login from elsewhere.
  const DecisionContext ctx{"imap", "x rhost=10.0.0.1 accepted user=root", "192.0.2.7\nrefused"};
  const std::string line =
      FormatDecision(ctx, Make(Outcome::kWrongPassword, "", "", "bad \"quote\" \\ and\nnewline"));
  ExpectWellFormed(line);
  assert_true(line.find('\n') == std::string::npos);
  assert_true(line.find("rhost=10.0.0.1") == std::string::npos);
  assert_true(line.rfind("refused service=imap user=x\\x20rhost\\x3d10.0.0.1", 0) == 0);
  // Names are user-chosen too.
  const std::string named = FormatDecision(DecisionContext{"imap", "alice", "h"},
                                           Make(Outcome::kRevoked, "ab", "my phone reason=x"));
  ExpectWellFormed(named);
  ASSERT_CONTAINS(named, "name=my\\x20phone\\x20reason\\x3dx");
  // Long values are cut, so one line stays bounded.
  const std::string longline = FormatDecision(
      DecisionContext{std::string(1000, 's'), std::string(5000, 'u'), std::string(5000, 'r')},
      Make(Outcome::kBadInput, "", "", std::string(5000, 'd')));
  ExpectWellFormed(longline);
  assert_true(longline.size() < 1200);
}

void test_early_refusal(void**) {
  const std::string line = FormatEarlyRefusal(DecisionContext{"imap", "", "192.0.2.7"}, "error",
                                              "bad-option", "option 'frob': unknown option");
  assert_string_equal(line.c_str(),
                      "error service=imap user=- rhost=192.0.2.7 reason=bad-option detail=\"option "
                      "'frob': unknown option\"");
  ExpectWellFormed(line);
  ExpectWellFormed(FormatEarlyRefusal(DecisionContext{"", "a b", ""}, "refused", "no-user", ""));
}

CodeDecision MakeCode(CodeOutcome o, std::string detail = "", int left = -1) {
  CodeDecision d;
  d.outcome = o;
  d.detail = std::move(detail);
  d.recovery_codes_left = left;
  return d;
}

// `line` without the TOTP step's own fields (factor=, codes_left=), for WellFormed, which
// knows the verifier's.
std::string WithoutCodeFields(std::string line) {
  for (const char* key : {" factor=", " codes_left="}) {
    const auto at = line.find(key);
    if (at == std::string::npos) continue;
    const auto end = line.find(' ', at + 1);
    line.erase(at, end == std::string::npos ? std::string::npos : end - at);
  }
  return line;
}

// The TOTP step's lines (PLAN12: factor=totp; reason unless accepted; codes_left after a
// recovery code; detail only where it says why: unavailable, bad-input, throttled).
void test_code_decisions(void**) {
  const DecisionContext ctx{"sshd", "alice", ""};
  auto line = [&](CodeOutcome o, std::string detail = "", int left = -1) {
    const std::string l = FormatCodeDecision(ctx, MakeCode(o, std::move(detail), left));
    ExpectWellFormed(WithoutCodeFields(l));
    return l;
  };
  assert_string_equal(line(CodeOutcome::kAccepted, "ignored").c_str(),
                      "accepted service=sshd user=alice rhost=- factor=totp");
  assert_string_equal(
      line(CodeOutcome::kRecoveryCode, "", 9).c_str(),
      "accepted service=sshd user=alice rhost=- factor=totp reason=recovery-code codes_left=9");
  assert_string_equal(
      line(CodeOutcome::kRecoveryCode, "", 0).c_str(),
      "accepted service=sshd user=alice rhost=- factor=totp reason=recovery-code codes_left=0");
  assert_string_equal(line(CodeOutcome::kWrongCode, "not shown").c_str(),
                      "refused service=sshd user=alice rhost=- factor=totp reason=wrong-code");
  assert_string_equal(line(CodeOutcome::kReusedCode, "not shown").c_str(),
                      "refused service=sshd user=alice rhost=- factor=totp reason=reused-code");
  assert_string_equal(line(CodeOutcome::kNotEnrolled, "not shown").c_str(),
                      "refused service=sshd user=alice rhost=- factor=totp reason=not-enrolled");
  assert_string_equal(
      line(CodeOutcome::kThrottled, "too many wrong verification codes; try again in 3 minutes")
          .c_str(),
      "refused service=sshd user=alice rhost=- factor=totp reason=throttled detail=\"too many "
      "wrong verification codes; try again in 3 minutes\"");
  assert_string_equal(
      line(CodeOutcome::kBadInput, "no code was entered").c_str(),
      "refused service=sshd user=alice rhost=- factor=totp reason=bad-input detail=\"no code was "
      "entered\"");
  assert_string_equal(
      line(CodeOutcome::kUnavailable, "disk on fire").c_str(),
      "error service=sshd user=alice rhost=- factor=totp reason=unavailable detail=\"disk on "
      "fire\"");
  // A default CodeDecision is an error, never an acceptance.
  ASSERT_CONTAINS(FormatCodeDecision(ctx, CodeDecision{}), "error ");
}

void test_code_decision_escaping(void**) {
  const DecisionContext ctx{"sshd", "x rhost=10.0.0.1 factor=totp", "192.0.2.7\naccepted"};
  const std::string line = FormatCodeDecision(
      ctx, MakeCode(CodeOutcome::kUnavailable, "bad \"quote\" \\ and\nnewline reason=accepted"));
  assert_true(line.find('\n') == std::string::npos);
  assert_true(line.find("rhost=10.0.0.1") == std::string::npos);
  assert_true(
      line.rfind("error service=sshd user=x\\x20rhost\\x3d10.0.0.1\\x20factor\\x3dtotp ", 0) == 0);
  // One factor= and one reason= field outside the quoted detail.
  const std::string head = line.substr(0, line.find(" detail="));
  assert_true(head.find(" factor=totp") != std::string::npos);
  assert_true(head.find(" factor=") == head.rfind(" factor="));
  assert_true(head.find(" reason=") == head.rfind(" reason="));
  const std::string detail = line.substr(line.find(" detail=") + 8);
  assert_true(detail.front() == '"' && detail.back() == '"');
  assert_true(detail.find('"', 1) == detail.size() - 1);
  ExpectWellFormed(WithoutCodeFields(line));
  // Long values are cut, so one line stays bounded.
  const std::string longline = FormatCodeDecision(
      DecisionContext{std::string(1000, 's'), std::string(5000, 'u'), std::string(5000, 'r')},
      MakeCode(CodeOutcome::kThrottled, std::string(5000, 'd')));
  assert_true(longline.size() < 1200);
}

void test_code_outcome_names(void**) {
  const std::vector<std::pair<CodeOutcome, std::string>> names = {
      {CodeOutcome::kAccepted, "accepted"},        {CodeOutcome::kRecoveryCode, "recovery-code"},
      {CodeOutcome::kNotEnrolled, "not-enrolled"}, {CodeOutcome::kThrottled, "throttled"},
      {CodeOutcome::kReusedCode, "reused-code"},   {CodeOutcome::kWrongCode, "wrong-code"},
      {CodeOutcome::kBadInput, "bad-input"},       {CodeOutcome::kUnavailable, "unavailable"}};
  for (const auto& [o, name] : names) {
    assert_string_equal(std::string(CodeOutcomeName(o)).c_str(), name.c_str());
    assert_true(CodeOutcomeFromName(name) == o);
  }
  // Anything else is unavailable (fail closed), an unknown future name included.
  for (const char* other : {"", "Accepted", "accepted ", "ok", "recovery", "passed"})
    assert_true(CodeOutcomeFromName(other) == CodeOutcome::kUnavailable);
  assert_true(CodePassed(CodeOutcome::kAccepted) && CodePassed(CodeOutcome::kRecoveryCode));
  for (const auto& [o, name] : names)
    if (o != CodeOutcome::kAccepted && o != CodeOutcome::kRecoveryCode) assert_false(CodePassed(o));
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formats),
      cmocka_unit_test(test_checker_rejects_forgeries),
      cmocka_unit_test(test_outcome_names),
      cmocka_unit_test(test_fields_cannot_be_forged),
      cmocka_unit_test(test_early_refusal),
      cmocka_unit_test(test_code_decisions),
      cmocka_unit_test(test_code_decision_escaping),
      cmocka_unit_test(test_code_outcome_names),
  };
  return cmocka_run_group_tests_name("decision_log", tests, nullptr, nullptr);
}
