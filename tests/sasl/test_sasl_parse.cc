// CMocka tests of the SASL plugin's SASL-free parts: PLAIN/LOGIN message checks
// (sasl_plugin/messages.h) and option parsing (sasl_plugin/sasl_options.h).
#include <map>
#include <string>

#include "messages.h"
#include "sasl_options.h"

// Last: cmocka.h defines macros (fail, ...) that break standard headers included after it.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace {

using namespace apppass;
using namespace std::string_literals;

void PlainSplitsThreeFields(void**) {
  PlainMessage m;
  const std::string full = "zid\0alice\0pw"s, bare = "\0alice\0pw"s;  // m points into these
  assert_false(ParsePlain(full, &m).has_value());
  assert_true(m.authzid == "zid");
  assert_true(m.authcid == "alice");
  assert_true(m.password == "pw");
  assert_false(ParsePlain(bare, &m).has_value());
  assert_true(m.authzid.empty());
  assert_true(m.authcid == "alice");
}

void PlainRefusesBadShapes(void**) {
  PlainMessage m;
  for (const std::string& bad : {""s, "alice"s, "alice\0pw"s, "\0alice\0pw\0"s, "a\0b\0c\0d"s}) {
    const auto e = ParsePlain(bad, &m);
    assert_true(e.has_value());
    assert_true(e->reason == "bad-input");
    assert_true(m.authcid.empty() && m.password.empty());  // nothing to log
  }
  auto e = ParsePlain("\0\0pw"s, &m);
  assert_true(e.has_value() && e->reason == "no-user");
  e = ParsePlain("\0alice\0"s, &m);
  assert_true(e.has_value() && e->reason == "no-password");
  assert_true(m.authcid.empty());
}

void PlainBoundsEveryField(void**) {
  PlainMessage m;
  const std::string id256(kMaxIdentityBytes, 'a'), id257(kMaxIdentityBytes + 1, 'a');
  const std::string pw512(kMaxSecretBytes, 'p'), pw513(kMaxSecretBytes + 1, 'p');
  assert_false(ParsePlain(id256 + '\0' + id256 + '\0' + pw512, &m).has_value());  // the largest
  assert_true(ParsePlain(id257 + '\0' + "alice" + '\0' + "pw", &m).has_value());
  assert_true(ParsePlain("\0"s + id257 + '\0' + "pw", &m).has_value());
  assert_true(ParsePlain("\0alice\0"s + pw513, &m).has_value());
  assert_true(ParsePlain(std::string(kMaxPlainMessage + 1, '\0'), &m).has_value());
}

void LoginFields(void**) {
  assert_false(CheckLoginUser("alice").has_value());
  assert_true(CheckLoginUser("").has_value());
  assert_true(CheckLoginUser("al\0ce"s).has_value());
  assert_true(CheckLoginUser(std::string(kMaxIdentityBytes + 1, 'u')).has_value());
  assert_false(CheckLoginPassword("pw").has_value());
  assert_true(CheckLoginPassword("").has_value());
  assert_true(CheckLoginPassword("p\0w"s).has_value());
  assert_true(CheckLoginPassword(std::string(kMaxSecretBytes + 1, 'p')).has_value());
}

Status Parse(const std::map<std::string, std::string>& conf, SaslOptions* out) {
  return ParseSaslOptions(
      [&conf](std::string_view key) -> const char* {
        const auto it = conf.find(std::string(key));
        return it == conf.end() ? nullptr : it->second.c_str();
      },
      out);
}

void OptionsNotConfigured(void**) {
  SaslOptions o;
  assert_true(Parse({}, &o).IsNotFound());
  assert_true(Parse({{"mech_list", "PLAIN"}}, &o).IsNotFound());
}

void OptionsDefaultsAndValues(void**) {
  SaslOptions o;
  assert_true(Parse({{"apppass_db", "/var/lib/apppass"}}, &o).ok());
  assert_true(o.db == "/var/lib/apppass");
  assert_true(o.scope.empty());
  assert_false(o.allow_authzid);
  assert_true(o.usage);
  assert_int_equal(o.usage_interval, 60);
  assert_int_equal(o.usage_interval, kDefaultUsageInterval);
  assert_false(o.debug);
  assert_false(o.pwcheck);      // apppass_unenrolled: deny
  assert_false(o.account_nss);  // apppass_account: none
  assert_true(o.broker == "/run/apppass/apppassd.sock");
  // apppass_broker alone serves the application too, with the default store for root.
  assert_true(Parse({{"apppass_broker", "/tmp/b.sock"}}, &o).ok());
  assert_true(o.broker == "/tmp/b.sock");
  assert_true(o.db == "/var/lib/apppass");
  assert_true(Parse({{"apppass_db", "/s"},
                     {"apppass_scope", "submission"},
                     {"apppass_allow_authzid", "yes"},
                     {"apppass_usage", "off"},
                     {"apppass_usage_interval", "0"},
                     {"apppass_debug", "true"}},
                    &o)
                  .ok());
  assert_true(o.scope == "submission");
  assert_true(o.allow_authzid);
  assert_false(o.usage);
  assert_int_equal(o.usage_interval, 0);
  assert_true(o.debug);
  assert_true(
      Parse({{"apppass_db", "/s"}, {"apppass_unenrolled", "pwcheck"}, {"apppass_account", "nss"}},
            &o)
          .ok());
  assert_true(o.pwcheck);
  assert_true(o.account_nss);
  assert_true(
      Parse({{"apppass_db", "/s"}, {"apppass_unenrolled", "deny"}, {"apppass_account", "none"}}, &o)
          .ok());
  assert_false(o.pwcheck);
  assert_false(o.account_nss);
}

void OptionsRefusedWithTheirName(void**) {
  const std::map<std::string, std::string> bad[] = {
      {{"apppass_db", "relative/dir"}},
      {{"apppass_db", ""}},
      {{"apppass_db", "/s"}, {"apppass_scope", "IMAP!"}},
      {{"apppass_db", "/s"}, {"apppass_usage_interval", "soon"}},
      {{"apppass_db", "/s"}, {"apppass_usage_interval", "86401"}},
      {{"apppass_db", "/s"}, {"apppass_allow_authzid", "maybe"}},
      {{"apppass_db", "/s"}, {"apppass_usage", "Yes"}},
      {{"apppass_scope", "smtp"}},  // a store is meant, but not named
      {{"apppass_db", "/s"}, {"apppass_broker", "run/apppassd.sock"}},
      {{"apppass_broker", ""}},
      {{"apppass_db", "/s"}, {"apppass_unenrolled", "ignore"}},  // the PAM word, not ours
      {{"apppass_db", "/s"}, {"apppass_unenrolled", "PWCHECK"}},
      {{"apppass_db", "/s"}, {"apppass_account", "yes"}},
      {{"apppass_db", "/s"}, {"apppass_account", "NSS"}},
      {{"apppass_unenrolled", "pwcheck"}},  // a store is meant, but not named
  };
  for (const auto& conf : bad) {
    SaslOptions o;
    const Status s = Parse(conf, &o);
    assert_int_equal(static_cast<int>(s.code()), static_cast<int>(Status::Code::kInvalidArgument));
    bool named = false;
    for (const auto& [k, v] : conf) named = named || s.message().find(k) != std::string::npos;
    assert_true(named);
  }
}

// The messages, word for word: the plugin logs them as the detail of "reason=bad-option".
void OptionsMessages(void**) {
  const std::pair<std::map<std::string, std::string>, const char*> cases[] = {
      {{{"apppass_db", "relative"}},
       "apppass_db: 'relative' is not an absolute directory, e.g. apppass_db: /var/lib/apppass"},
      {{{"apppass_db", "/s"}, {"apppass_scope", "IMAP!"}},
       "apppass_scope: 'IMAP!' is not a service name of a-z 0-9 . _ -, e.g. apppass_scope: smtp"},
      {{{"apppass_db", "/s"}, {"apppass_usage_interval", "soon"}},
       "apppass_usage_interval: 'soon' is not a number of seconds from 0 to 86400"},
      {{{"apppass_db", "/s"}, {"apppass_usage", "Yes"}}, "apppass_usage: 'Yes' is not yes or no"},
      {{{"apppass_broker", "x"}},
       "apppass_broker: 'x' is not the absolute path of a UNIX socket, e.g. apppass_broker: "
       "/run/apppass/apppassd.sock"},
      {{{"apppass_db", "/s"}, {"apppass_unenrolled", "ignore"}},
       "apppass_unenrolled: 'ignore' is not deny or pwcheck"},
      {{{"apppass_db", "/s"}, {"apppass_account", "yes"}},
       "apppass_account: 'yes' is not nss or none"},
      {{{"apppass_scope", "smtp"}, {"apppass_debug", "yes"}},
       "apppass_db is not set, but apppass_scope, apppass_debug is: set apppass_db to the store "
       "directory"},
  };
  for (const auto& [conf, want] : cases) {
    SaslOptions o;
    const Status s = Parse(conf, &o);
    if (s.message() != want) fail_msg("got \"%s\", want \"%s\"", s.message().c_str(), want);
  }
}

void ForeignMechanismsListsOthers(void**) {
  assert_true(ForeignMechanisms("PLAIN LOGIN").empty());
  assert_true(ForeignMechanisms("  plain\tlogin ").empty());
  const auto f = ForeignMechanisms("PLAIN CRAM-MD5 LOGIN DIGEST-MD5");
  assert_int_equal(f.size(), 2);
  assert_true(f[0] == "CRAM-MD5" && f[1] == "DIGEST-MD5");
  const auto comma = ForeignMechanisms("PLAIN,LOGIN");  // libsasl does not split on commas
  assert_int_equal(comma.size(), 1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(PlainSplitsThreeFields),
      cmocka_unit_test(PlainRefusesBadShapes),
      cmocka_unit_test(PlainBoundsEveryField),
      cmocka_unit_test(LoginFields),
      cmocka_unit_test(OptionsNotConfigured),
      cmocka_unit_test(OptionsDefaultsAndValues),
      cmocka_unit_test(OptionsRefusedWithTheirName),
      cmocka_unit_test(ForeignMechanismsListsOthers),
      cmocka_unit_test(OptionsMessages),
  };
  return cmocka_run_group_tests_name("sasl_parse", tests, nullptr, nullptr);
}
