// Unit tests of apppassd's in-memory sessions and sign-in throttle (tools/apppassd
// sessions.h, signin_throttle.h; issue 13), with the time given to every call: tokens are
// 64 hex digits and only their hashes are kept; idle 15 min and absolute 8 h; the per-user
// cap ends the oldest; pending sign-ins expire, are bound to the client and die after 3
// wrong codes; the throttle's windows per user and per client and its bounded memory.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

#include <sodium.h>

#include <string>

#include "sessions.h"
#include "signin_throttle.h"

namespace apppass::daemon {
namespace {

constexpr std::int64_t kT = 1'800'000'000;

std::string Open(Sessions& s, const std::string& user, std::int64_t now) {
  SecretBuffer token;
  assert_true(s.Open(user, "stamp", now, &token).ok());
  return std::string(token.view());
}

void test_tokens(void**) {
  Sessions s;
  const std::string a = Open(s, "alice", kT), b = Open(s, "alice", kT);
  assert_int_equal(a.size(), 64);
  assert_true(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  assert_true(a != b);
  SessionInfo info;
  assert_true(s.Use(a, kT + 1, &info).ok());
  assert_string_equal(info.user.c_str(), "alice");
  assert_string_equal(info.stamp.c_str(), "stamp");
  // Anything else is unknown: upper case, short, made up.
  std::string upper = a;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  if (upper != a) assert_true(s.Use(upper, kT, &info).IsNotFound());
  assert_true(s.Use(a.substr(1), kT, &info).IsNotFound());
  assert_true(s.Use(std::string(64, '0'), kT, &info).IsNotFound());
  s.End(a);
  assert_true(s.Use(a, kT + 2, &info).IsNotFound());
  assert_true(s.Use(b, kT + 2, &info).ok());
}

void test_idle_and_absolute(void**) {
  Sessions s;
  const std::string a = Open(s, "alice", kT);
  SessionInfo info;
  // Touched every 14 minutes it lives, until 8 hours are over.
  std::int64_t t = kT;
  for (; t + 14 * 60 < kT + 8 * 3600; t += 14 * 60) {
    assert_true(s.Use(a, t, &info).ok());
    assert_int_equal(info.expires_in, kT + 8 * 3600 - t);
  }
  assert_true(s.Use(a, kT + 8 * 3600, &info).IsNotFound());
  const std::string b = Open(s, "bob", kT);
  assert_true(s.Use(b, kT + 899, &info).ok());
  assert_int_equal(info.idle_left, 900);
  assert_true(s.Use(b, kT + 899 + 900, &info).IsNotFound());  // 15 min idle
  assert_int_equal(s.session_count(), 0);
}

void test_per_user_cap(void**) {
  Sessions s;
  std::string first = Open(s, "alice", kT);
  for (int i = 1; i < 16; ++i) Open(s, "alice", kT + i);
  const std::string other = Open(s, "bob", kT);
  SessionInfo info;
  assert_true(s.Use(first, kT + 20, &info).ok());
  Open(s, "alice", kT + 21);  // the 17th ends the oldest
  assert_true(s.Use(first, kT + 22, &info).IsNotFound());
  assert_true(s.Use(other, kT + 22, &info).ok());
  assert_int_equal(s.session_count(), 17);
  assert_int_equal(s.EndUser("alice"), 16);
  assert_int_equal(s.session_count(), 1);
}

void test_total_cap(void**) {
  Sessions s(SessionLimits{.max_sessions = 3});
  Open(s, "a", kT);
  Open(s, "b", kT);
  Open(s, "c", kT);
  SecretBuffer token;
  assert_true(s.Open("d", "x", kT + 1, &token).code() == Status::Code::kUnavailable);
  // Expired ones are pruned to make room.
  assert_true(s.Open("d", "x", kT + 901, &token).ok());
  assert_int_equal(s.session_count(), 1);
}

void test_signins(void**) {
  Sessions s;
  SecretBuffer token;
  assert_true(s.StartSignin("alice", "192.0.2.7", SigninNext::kCode, kT, &token).ok());
  const std::string t(token.view());
  PendingSignin p;
  const std::string client = "192.0.2.7", other = "192.0.2.8";
  assert_true(s.FindSignin(t, &client, kT + 10, &p).ok());
  assert_string_equal(p.user.c_str(), "alice");
  assert_true(p.next == SigninNext::kCode);
  assert_true(s.FindSignin(t, &other, kT + 10, &p).IsNotFound());  // bound to the client
  assert_true(s.FindSignin(t, nullptr, kT + 10, &p).ok());
  assert_false(s.SigninWrongCode(t));
  assert_false(s.SigninWrongCode(t));
  assert_true(s.SigninWrongCode(t));  // the third drops it
  assert_true(s.FindSignin(t, &client, kT + 11, &p).IsNotFound());
  // 5 minutes of life.
  assert_true(s.StartSignin("bob", client, SigninNext::kEnroll, kT, &token).ok());
  const std::string u(token.view());
  assert_true(s.FindSignin(u, &client, kT + 299, &p).ok());
  assert_true(s.FindSignin(u, &client, kT + 300, &p).IsNotFound());
  assert_int_equal(s.signin_count(), 0);
}

void test_throttle(void**) {
  SigninThrottle t;
  for (int i = 0; i < 5; ++i) {
    assert_false(t.Throttled("alice", "c1", kT + i));
    t.Failure("alice", "c1", kT + i);
  }
  assert_true(t.Throttled("alice", "c2", kT + 10));  // the user's count, from anywhere
  assert_false(t.Throttled("bob", "c1", kT + 10));   // c1 has 5 of its 20
  assert_true(t.Throttled("alice", "c2", kT + 899));
  assert_false(t.Throttled("alice", "c2", kT + 900));  // the window is over
  // Per client: 20 failures over any names.
  for (int i = 0; i < 20; ++i) t.Failure("ghost" + std::to_string(i), "c3", kT + 1000);
  assert_true(t.Throttled("carol", "c3", kT + 1001));
  assert_false(t.Throttled("carol", "c4", kT + 1001));
  // A right password clears the user's count, not the client's.
  for (int i = 0; i < 5; ++i) t.Failure("dave", "c5", kT + 2000);
  assert_true(t.Throttled("dave", "c6", kT + 2001));
  t.Success("dave");
  assert_false(t.Throttled("dave", "c6", kT + 2001));
}

void test_throttle_bounded(void**) {
  SigninThrottle t(SigninThrottleLimits{.max_entries = 100});
  for (int i = 0; i < 1000; ++i) t.Failure("u" + std::to_string(i), "c" + std::to_string(i), kT);
  assert_true(t.entries() <= 200);
  // Entries whose window ended are pruned first.
  for (int i = 0; i < 100; ++i) t.Failure("v" + std::to_string(i), "d", kT + 901);
  assert_true(t.entries() <= 200);
}

}  // namespace
}  // namespace apppass::daemon

int main() {
  if (sodium_init() < 0) return 1;
  using namespace apppass::daemon;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokens),           cmocka_unit_test(test_idle_and_absolute),
      cmocka_unit_test(test_per_user_cap),     cmocka_unit_test(test_total_cap),
      cmocka_unit_test(test_signins),          cmocka_unit_test(test_throttle),
      cmocka_unit_test(test_throttle_bounded),
  };
  return cmocka_run_group_tests_name("portal_sessions", tests, nullptr, nullptr);
}
