// Unit tests of pam_module/pam_options.h: strict parsing of the PAM module's arguments.

#include "pam_options.h"

#include <string>
#include <vector>

#include "text.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

Status Parse(std::vector<std::string_view> args, ModuleOptions* out) {
  return ParseModuleOptions(args, out);
}

// Refused with InvalidArgument, and the message names the option as given (readable,
// with control characters escaped for the log).
void ExpectRefused(std::string_view arg, std::string_view named) {
  ModuleOptions o;
  const Status s = Parse({arg}, &o);
  if (s.code() != Status::Code::kInvalidArgument)
    fail_msg("option '%s' not refused (%s)", std::string(arg).c_str(), test::CodeName(s.code()));
  ASSERT_CONTAINS(s.message(), "'" + LogText(named));
}

void test_defaults(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({}, &o));
  assert_string_equal(o.db.c_str(), "/var/lib/apppass");
  assert_true(o.scope.empty());
  assert_false(o.debug);
  assert_false(o.use_first_pass);
  assert_false(o.try_first_pass);
  assert_false(o.no_usage);
  assert_int_equal(o.usage_interval, 60);
  assert_string_equal(o.broker.c_str(), "/run/apppass/apppassd.sock");
  assert_false(o.totp);
  assert_true(o.unenrolled == UnenrolledPolicy::kDeny);
  assert_true(o.account == AccountPolicy::kNone);
  // The defaults are the shared constants.
  assert_string_equal(o.db.c_str(), kDefaultStoreDir);
  assert_string_equal(o.broker.c_str(), broker::kDefaultSocket);
  assert_int_equal(o.usage_interval, kDefaultUsageInterval);
}

void test_db(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"db=/srv/mail/apppass"}, &o));
  assert_string_equal(o.db.c_str(), "/srv/mail/apppass");
  ASSERT_OK(Parse({"db=/a", "db=/b"}, &o));  // the last one wins
  assert_string_equal(o.db.c_str(), "/b");
  ExpectRefused("db=relative/dir", "db=relative/dir");
  ExpectRefused("db=./apppass", "db=./apppass");
  ExpectRefused("db=", "db=");
  ExpectRefused("db", "db");
}

void test_broker(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"broker=/tmp/x/apppassd.sock"}, &o));
  assert_string_equal(o.broker.c_str(), "/tmp/x/apppassd.sock");
  ASSERT_OK(Parse({"broker=/" + std::string(106, 's')}, &o));  // 107 bytes: fits sun_path
  assert_int_equal(o.broker.size(), 107);
  ExpectRefused("broker=/" + std::string(107, 's'), "broker=/");
  ExpectRefused("broker=run/apppassd.sock", "broker=run/apppassd.sock");
  ExpectRefused("broker=", "broker=");
  ExpectRefused("broker", "broker");
  ExpectRefused("broker=/a\tb", "broker=/a\tb");
}

void test_scope(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"scope=imap"}, &o));
  assert_string_equal(o.scope.c_str(), "imap");
  ExpectRefused("scope=Bad", "scope=Bad");
  ExpectRefused("scope=", "scope=");
  ExpectRefused("scope", "scope");
  ExpectRefused("scope=im/ap", "scope=im/ap");
}

void test_flags(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"debug"}, &o));
  assert_true(o.debug);
  assert_false(o.use_first_pass || o.try_first_pass || o.no_usage);

  ModuleOptions all;
  ASSERT_OK(Parse({"debug", "use_first_pass", "try_first_pass", "no_usage", "db=/x", "scope=pop3",
                   "usage_interval=5"},
                  &all));
  assert_true(all.debug);
  assert_true(all.use_first_pass);
  assert_true(all.try_first_pass);
  assert_true(all.no_usage);
  assert_string_equal(all.db.c_str(), "/x");
  assert_string_equal(all.scope.c_str(), "pop3");
  assert_int_equal(all.usage_interval, 5);
}

void test_usage_interval(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"usage_interval=0"}, &o));
  assert_int_equal(o.usage_interval, 0);
  ASSERT_OK(Parse({"usage_interval=86400"}, &o));
  assert_int_equal(o.usage_interval, 86400);
  ASSERT_OK(Parse({"usage_interval=300"}, &o));
  assert_int_equal(o.usage_interval, 300);
  for (const char* bad :
       {"usage_interval=86401", "usage_interval=-1", "usage_interval=", "usage_interval",
        "usage_interval=abc", "usage_interval=10s", "usage_interval= 5", "usage_interval=5 ",
        "usage_interval=+5", "usage_interval=1e3", "usage_interval=99999999999999999999999"})
    ExpectRefused(bad, "usage_interval");
  // A refused value leaves the previous one alone.
  assert_int_equal(o.usage_interval, 300);
}

void test_unknown(void**) {
  ExpectRefused("frobnicate", "frobnicate");
  ExpectRefused("DEBUG", "DEBUG");
  ExpectRefused("nullok", "nullok");
  ExpectRefused("alwaysok", "alwaysok");
  ExpectRefused("", "");  // message: option '': unknown option
  ExpectRefused("frob=1", "frob=1");
  ExpectRefused("database=/var/lib/apppass", "database");
  // A flag given a value is an error, not a flag.
  ExpectRefused("debug=1", "debug=1");
  ExpectRefused("no_usage=yes", "no_usage=yes");
  ExpectRefused("use_first_pass=0", "use_first_pass");
  // One bad option refuses the whole line, wherever it is.
  ModuleOptions o;
  ASSERT_CODE(Parse({"db=/x", "debug", "bogus"}, &o), kInvalidArgument);
  ASSERT_CODE(Parse({"bogus", "db=/x"}, &o), kInvalidArgument);
}

void test_totp(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"totp"}, &o));
  assert_true(o.totp);
  ASSERT_OK(Parse({"totp", "unenrolled=ignore", "db=/x"}, &o));
  assert_true(o.totp);
  assert_true(o.unenrolled == UnenrolledPolicy::kIgnore);
  ExpectRefused("totp=1", "totp=1");
  ExpectRefused("totp=", "totp=");
  ExpectRefused("TOTP", "TOTP");
}

void test_unenrolled(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"unenrolled=ignore"}, &o));
  assert_true(o.unenrolled == UnenrolledPolicy::kIgnore);
  ASSERT_OK(Parse({"unenrolled=deny"}, &o));
  assert_true(o.unenrolled == UnenrolledPolicy::kDeny);
  ASSERT_OK(Parse({"unenrolled=deny", "unenrolled=ignore"}, &o));  // the last one wins
  assert_true(o.unenrolled == UnenrolledPolicy::kIgnore);
  for (const char* bad : {"unenrolled", "unenrolled=", "unenrolled=Ignore", "unenrolled=ignore ",
                          "unenrolled=pwcheck", "unenrolled=allow", "unenrolled=ignore,deny"})
    ExpectRefused(bad, bad);
  // A refused value leaves the previous one alone.
  assert_true(o.unenrolled == UnenrolledPolicy::kIgnore);
}

void test_account(void**) {
  ModuleOptions o;
  ASSERT_OK(Parse({"account=nss"}, &o));
  assert_true(o.account == AccountPolicy::kNss);
  ASSERT_OK(Parse({"account=none"}, &o));
  assert_true(o.account == AccountPolicy::kNone);
  ASSERT_OK(Parse({"account=none", "account=nss"}, &o));
  assert_true(o.account == AccountPolicy::kNss);
  for (const char* bad :
       {"account", "account=", "account=NSS", "account=nss ", "account=shadow", "account=yes"})
    ExpectRefused(bad, bad);
  assert_true(o.account == AccountPolicy::kNss);
}

void test_message_is_log_safe(void**) {
  ModuleOptions o;
  const Status s = Parse({"bad opt\nforged=1"}, &o);
  ASSERT_CODE(s, kInvalidArgument);
  assert_true(s.message().find('\n') == std::string::npos);
  ASSERT_CONTAINS(s.message(), "'bad opt\\x0aforged=1'");
}

// The messages, word for word: the module logs them as the detail of "reason=bad-option".
void test_messages(void**) {
  ModuleOptions o;
  assert_string_equal(Parse({"db=x"}, &o).message().c_str(),
                      "option 'db=x': needs an absolute directory, e.g. db=/var/lib/apppass");
  assert_string_equal(Parse({"scope=Bad"}, &o).message().c_str(),
                      "option 'scope=Bad': needs a service name, e.g. scope=imap");
  assert_string_equal(Parse({"usage_interval=x"}, &o).message().c_str(),
                      "option 'usage_interval=x': needs a number of seconds from 0 to 86400");
  assert_string_equal(Parse({"broker=x"}, &o).message().c_str(),
                      "option 'broker=x': needs the absolute path of a UNIX socket, e.g. "
                      "broker=/run/apppass/apppassd.sock");
  assert_string_equal(Parse({"unenrolled=x"}, &o).message().c_str(),
                      "option 'unenrolled=x': needs deny or ignore, e.g. unenrolled=ignore");
  assert_string_equal(Parse({"account=x"}, &o).message().c_str(),
                      "option 'account=x': needs nss or none, e.g. account=nss");
  assert_string_equal(Parse({"frob"}, &o).message().c_str(), "option 'frob': unknown option");
  assert_string_equal(Parse({"debug=1"}, &o).message().c_str(), "option 'debug=1': unknown option");
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),   cmocka_unit_test(test_db),
      cmocka_unit_test(test_broker),     cmocka_unit_test(test_scope),
      cmocka_unit_test(test_flags),      cmocka_unit_test(test_usage_interval),
      cmocka_unit_test(test_unknown),    cmocka_unit_test(test_message_is_log_safe),
      cmocka_unit_test(test_messages),   cmocka_unit_test(test_totp),
      cmocka_unit_test(test_unenrolled), cmocka_unit_test(test_account),
  };
  return cmocka_run_group_tests_name("options", tests, nullptr, nullptr);
}
