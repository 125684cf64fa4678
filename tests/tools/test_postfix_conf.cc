// Unit tests of tools/apppass/doctor/postfix_conf.h: main.cf settings and the smtpd
// services of master.cf with their -o overrides.

#include "doctor/postfix_conf.h"

#include <string>

// cmocka.h needs these first, has no extern "C" of its own, and defines macros with
// common names: include it last.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace apppass::doctor {
namespace {

void ExpectStr(const std::string& got, const char* want, const char* what) {
  if (got != want) fail_msg("%s: got '%s', expected '%s'", what, got.c_str(), want);
}

void test_main_cf(void**) {
  const auto m = ParseMainCf(
      "# comment\n"
      "smtpd_sasl_auth_enable = no\n"
      "smtpd_sasl_path=smtpd\n"
      "smtpd_recipient_restrictions = permit_mynetworks,\n"
      "    permit_sasl_authenticated,\n"
      "\treject_unauth_destination\n"
      "\n"
      "  # indented comment\n"
      "smtpd_sasl_auth_enable = yes\n"
      "not a setting\n"
      "empty =\n");
  assert_int_equal(m.size(), 4);
  ExpectStr(m.at("smtpd_sasl_auth_enable"), "yes", "last setting wins");
  ExpectStr(m.at("smtpd_sasl_path"), "smtpd", "no blanks around =");
  ExpectStr(m.at("smtpd_recipient_restrictions"),
            "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            "continuation lines");
  ExpectStr(m.at("empty"), "", "empty value");
  assert_true(ParseMainCf("").empty());
}

void test_master_cf(void**) {
  const auto s = ParseMasterCf(
      "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
      "smtp      inet  n       -       y       -       -       smtpd\n"
      "submission inet n       -       -       -       -       smtpd\n"
      "  -o syslog_name=postfix/submission\n"
      "  -o smtpd_sasl_auth_enable=yes\n"
      "  -osmtpd_sasl_path=submission\n"
      "  -o smtpd_recipient_restrictions={permit_sasl_authenticated,reject}\n"
      "pickup    unix  n       -       y       60      1       pickup\n"
      "short     inet  n       -       smtpd\n"
      "465       inet  n       -       y       -       -       smtpd -v\n"
      "  -o smtpd_tls_wrappermode=yes\n");
  assert_int_equal(s.size(), 3);
  ExpectStr(s[0].name, "smtp", "first service");
  assert_true(s[0].overrides.empty());
  assert_true(s[0].chroot);  // the chroot column, "y"
  ExpectStr(s[1].name, "submission", "second service");
  assert_false(s[1].chroot);  // "-": Postfix 3's default, no chroot
  ExpectStr(s[1].overrides.at("smtpd_sasl_auth_enable"), "yes", "-o NAME=VALUE");
  ExpectStr(s[1].overrides.at("smtpd_sasl_path"), "submission", "-oNAME=VALUE");
  ExpectStr(s[1].overrides.at("smtpd_recipient_restrictions"), "permit_sasl_authenticated,reject",
            "{ } unwrapped");
  ExpectStr(s[2].name, "465", "third service");
  ExpectStr(s[2].overrides.at("smtpd_tls_wrappermode"), "yes", "-o after other arguments");
  assert_true(ParseMasterCf("").empty());
}

void test_is_yes(void**) {
  for (const char* v : {"yes", "YES", "Yes", "true", "True", "1"}) assert_true(IsYes(v));
  for (const char* v : {"no", "", "0", "y", "on", "yes "}) assert_false(IsYes(v));
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_main_cf),
      cmocka_unit_test(test_master_cf),
      cmocka_unit_test(test_is_yes),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
