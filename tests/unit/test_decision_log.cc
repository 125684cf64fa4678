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

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formats),       cmocka_unit_test(test_checker_rejects_forgeries),
      cmocka_unit_test(test_outcome_names), cmocka_unit_test(test_fields_cannot_be_forged),
      cmocka_unit_test(test_early_refusal),
  };
  return cmocka_run_group_tests_name("decision_log", tests, nullptr, nullptr);
}
