// Unit tests of tools/apppass/doctor/sasl_conf.h: Cyrus SASL config files read the way
// libsasl2 reads them (lib/config.c).

#include "doctor/sasl_conf.h"

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

void ExpectValue(const SaslConf& c, const char* key, const char* want) {
  const auto v = c.Get(key);
  if (!v) fail_msg("no value for %s", key);
  if (*v != want) fail_msg("%s: got '%s', expected '%s'", key, v->c_str(), want);
}

void test_values(void**) {
  const SaslConf c = ParseSaslConf(
      "# Postfix's smtpd.conf\n"
      "pwcheck_method: auxprop\n"
      "   Apppass_DB:   /var/lib/apppass  \r\n"
      "mech_list: PLAIN LOGIN\n"
      "  # an indented comment\n"
      "\n"
      "mech_list: CRAM-MD5\n"
      "log-level_2: 3");
  assert_true(c.errors.empty());
  assert_int_equal(c.values.size(), 5);
  ExpectValue(c, "pwcheck_method", "auxprop");
  // Keys are lowercased, values trimmed (a CR too) but keep their case.
  ExpectValue(c, "apppass_db", "/var/lib/apppass");
  // libsasl2 takes the first setting of a key.
  ExpectValue(c, "mech_list", "PLAIN LOGIN");
  ExpectValue(c, "log-level_2", "3");
  assert_false(c.Get("Apppass_DB").has_value());  // lookups are by the lowercased key
  assert_false(c.Get("missing").has_value());
  // A value may hold ':' and '#'.
  const SaslConf d = ParseSaslConf("apppass_db: /srv/a:b#c\n");
  ExpectValue(d, "apppass_db", "/srv/a:b#c");
}

void test_errors(void**) {
  const SaslConf c = ParseSaslConf(
      "apppass_db: /var/lib/apppass\n"
      "mech_list:\n"
      "mech_list :PLAIN\n"
      "just words\n"
      "key.with.dots: x\n"
      "mech_list:   \n");
  assert_int_equal(c.values.size(), 1);
  assert_int_equal(c.errors.size(), 5);
  if (c.errors[0] != "line 2: empty value for mech_list") fail_msg("got '%s'", c.errors[0].c_str());
  if (c.errors[1].rfind("line 3: 'mech_list :PLAIN' is not 'key: value'", 0) != 0)
    fail_msg("got '%s'", c.errors[1].c_str());
  if (c.errors[2].rfind("line 4: ", 0) != 0) fail_msg("got '%s'", c.errors[2].c_str());
  if (c.errors[3].rfind("line 5: ", 0) != 0) fail_msg("got '%s'", c.errors[3].c_str());
  if (c.errors[4] != "line 6: empty value for mech_list") fail_msg("got '%s'", c.errors[4].c_str());
  // Errors quote the line made safe for one line of output.
  const SaslConf e = ParseSaslConf("bad\x1b]52;line\n");
  assert_int_equal(e.errors.size(), 1);
  if (e.errors[0].find('\x1b') != std::string::npos) fail_msg("control character in an error");
}

void test_empty(void**) {
  const SaslConf c = ParseSaslConf("");
  assert_true(c.values.empty());
  assert_true(c.errors.empty());
  assert_true(ParseSaslConf("\n\n# only comments\n").values.empty());
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_empty),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
