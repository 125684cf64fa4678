// Unit tests of option_values.h: the validators the PAM module's and the SASL plugin's
// option parsers share. A refused value leaves the output alone.

#include "option_values.h"

#include <string>

#include "store.h"
#include "usage.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

void test_store_dir(void**) {
  std::string out = "unchanged";
  assert_true(ParseStoreDir("/var/lib/apppass", &out));
  assert_string_equal(out.c_str(), "/var/lib/apppass");
  assert_true(ParseStoreDir("/", &out));
  assert_string_equal(out.c_str(), "/");
  out = "unchanged";
  for (const char* bad : {"", "relative/dir", "./apppass", "~/apppass", " /lead"})
    assert_false(ParseStoreDir(bad, &out));
  assert_string_equal(out.c_str(), "unchanged");
  // The default is a store directory.
  assert_true(ParseStoreDir(kDefaultStoreDir, &out));
}

void test_socket_path(void**) {
  std::string out = "unchanged";
  assert_true(ParseSocketPath("/run/apppass/apppassd.sock", &out));
  assert_string_equal(out.c_str(), "/run/apppass/apppassd.sock");
  const std::string longest = "/" + std::string(106, 'a');  // 107 bytes + NUL = sun_path
  assert_true(ParseSocketPath(longest, &out));
  out = "unchanged";
  for (const std::string& bad :
       {std::string(""), std::string("run/apppassd.sock"), "/" + std::string(107, 'a'),
        std::string("/a\nb"), std::string("/a\x7f"), std::string("/a\0b", 4)})
    assert_false(ParseSocketPath(bad, &out));
  assert_string_equal(out.c_str(), "unchanged");
}

void test_scope(void**) {
  std::string out = "unchanged";
  assert_true(ParseScope("imap", &out));
  assert_string_equal(out.c_str(), "imap");
  assert_true(ParseScope("mail.sub-mission_2", &out));
  out = "unchanged";
  for (const char* bad : {"", "IMAP", "im/ap", "im ap", "imap!", "im\nap"})
    assert_false(ParseScope(bad, &out));
  assert_string_equal(out.c_str(), "unchanged");
}

void test_usage_interval(void**) {
  std::int64_t out = -7;
  assert_true(ParseUsageInterval("0", &out));
  assert_int_equal(out, 0);
  assert_true(ParseUsageInterval("86400", &out));
  assert_int_equal(out, kMaxUsageInterval);
  assert_true(ParseUsageInterval("0060", &out));  // leading zeros: a number
  assert_int_equal(out, 60);
  assert_true(ParseUsageInterval("-0", &out));  // std::from_chars reads it as 0
  assert_int_equal(out, 0);
  out = -7;
  for (const char* bad :
       {"", "86401", "-1", "+5", " 5", "5 ", "5s", "1e3", "0x10", "abc", "99999999999999999999999"})
    assert_false(ParseUsageInterval(bad, &out));
  assert_int_equal(out, -7);
  // The default is in range.
  assert_true(kDefaultUsageInterval >= 0 && kDefaultUsageInterval <= kMaxUsageInterval);
}

void test_yes_no(void**) {
  for (const char* yes : {"yes", "true", "on", "1"}) {
    bool out = false;
    assert_true(ParseYesNo(yes, &out));
    assert_true(out);
  }
  for (const char* no : {"no", "false", "off", "0"}) {
    bool out = true;
    assert_true(ParseYesNo(no, &out));
    assert_false(out);
  }
  bool out = true;
  for (const char* bad : {"", "Yes", "NO", "y", "n", "2", "maybe", "yes "})
    assert_false(ParseYesNo(bad, &out));
  assert_true(out);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_dir), cmocka_unit_test(test_socket_path),
      cmocka_unit_test(test_scope),     cmocka_unit_test(test_usage_interval),
      cmocka_unit_test(test_yes_no),
  };
  return cmocka_run_group_tests_name("option_values", tests, nullptr, nullptr);
}
