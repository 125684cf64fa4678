// Unit tests of tools/apppass/doctor/web_conf.h: apppass-web's configuration file as the
// doctor reads and judges it (keys, listen, TLS, trusted proxies, numbers).

#include "doctor/web_conf.h"

#ifdef APPPASS_TEST_WEB_KEYS
#include "config.h"  // tools/apppass-web
#endif

#include <cstring>
#include <string>
#include <vector>

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

std::vector<Finding> Judge(const std::string& text) {
  return JudgeWebConf(ParseWebConf(text), "/etc/apppass/web.conf");
}

int Count(const std::vector<Finding>& fs, Level level, const std::string& needle) {
  int n = 0;
  for (const Finding& f : fs)
    if (f.level == level && f.message.find(needle) != std::string::npos) ++n;
  return n;
}

void Expect(const std::vector<Finding>& fs, Level level, const std::string& needle) {
  if (Count(fs, level, needle) == 0) {
    std::string all;
    for (const Finding& f : fs) all += std::string(LevelName(f.level)) + ": " + f.message + "\n";
    fail_msg("no %s finding with '%s' in:\n%s", LevelName(level), needle.c_str(), all.c_str());
  }
}

const char* kGood =
    "# the package's file, with mail settings\n"
    "broker = /run/apppass/apppassd.sock\n"
    "listen = 127.0.0.1:8088\n"
    "trusted_proxies = 127.0.0.1 ::1\n"
    "imap_host = mail.example.org\n"
    "imap_port = 993\n"
    "\n"
    "smtp_port=587\n";

void test_parse(void**) {
  const WebConf c = ParseWebConf(kGood);
  assert_true(c.errors.empty());
  assert_int_equal(c.values.size(), 6);
  assert_string_equal(c.Get("listen")->c_str(), "127.0.0.1:8088");
  assert_string_equal(c.Get("smtp_port")->c_str(), "587");
  assert_string_equal(c.Get("trusted_proxies")->c_str(), "127.0.0.1 ::1");
  assert_false(c.Get("tls_cert").has_value());
  // Get takes the last; a line without '=' is an error naming its number.
  const WebConf d = ParseWebConf("threads = 2\nthreads = 4\njunk\n = x\n");
  assert_string_equal(d.Get("threads")->c_str(), "4");
  assert_int_equal(d.errors.size(), 2);
  assert_non_null(strstr(d.errors[0].c_str(), "line 3"));
  assert_non_null(strstr(d.errors[1].c_str(), "line 4"));
}

void test_listen(void**) {
  ListenAddr a;
  assert_true(ParseListen("127.0.0.1:8088", &a));
  assert_string_equal(a.host.c_str(), "127.0.0.1");
  assert_int_equal(a.port, 8088);
  assert_true(ParseListen("[::1]:443", &a));
  assert_string_equal(a.host.c_str(), "::1");
  assert_false(ParseListen("localhost:1", &a));  // no host names
  assert_false(ParseListen("::1:8088", &a));     // IPv6 without brackets
  assert_false(ParseListen("127.0.0.1", &a));
  assert_true(ParseListen("127.0.0.1:0", &a));  // the system picks a port
  assert_false(ParseListen("127.0.0.1:65536", &a));
  assert_false(ParseListen("127.0.0.1:80x", &a));
  assert_false(ParseListen(":80", &a));
  assert_false(ParseListen("[]:80", &a));
  assert_true(IsLoopbackHost("127.0.0.1"));
  assert_true(IsLoopbackHost("127.3.2.1"));
  assert_true(IsLoopbackHost("::1"));
  assert_false(IsLoopbackHost("::ffff:127.0.0.1"));  // as apppass-web's IsLoopback
  assert_false(IsLoopbackHost("localhost"));
  assert_false(IsLoopbackHost("0.0.0.0"));
  assert_false(IsLoopbackHost("::"));
  assert_false(IsLoopbackHost("192.0.2.7"));
  assert_false(IsLoopbackHost("128.0.0.1"));
  assert_false(IsLoopbackHost("mail.example.org"));
}

void test_proxy(void**) {
  ProxyEntry p;
  assert_true(ParseProxy("127.0.0.1", &p));
  assert_int_equal(p.prefix, 32);
  assert_false(p.v6);
  assert_true(ParseProxy("::1", &p));
  assert_int_equal(p.prefix, 128);
  assert_true(p.v6);
  assert_true(ParseProxy("10.0.0.0/8", &p));
  assert_int_equal(p.prefix, 8);
  assert_true(ParseProxy("fd00::/8", &p));
  assert_true(ParseProxy("0.0.0.0/0", &p));
  assert_int_equal(p.prefix, 0);
  assert_false(ParseProxy("10.0.0.0/33", &p));
  assert_false(ParseProxy("10.0.0.0/", &p));
  assert_false(ParseProxy("proxy.example.org", &p));
  assert_false(ParseProxy("", &p));
}

void test_good(void**) {
  const std::vector<Finding> fs = Judge(kGood);
  assert_int_equal(fs.size(), 1);
  assert_int_equal(fs[0].level, Level::kOk);
  Expect(fs, Level::kOk, "listen 127.0.0.1:8088, plain HTTP on loopback");
  // TLS on a public address is fine.
  const std::vector<Finding> tls =
      Judge("listen = [2001:db8::1]:8443\ntls_cert = /c\ntls_key = /k\nsmtp_host = m\n");
  assert_int_equal(tls.size(), 1);
  Expect(tls, Level::kOk, ", TLS");
}

void test_problems(void**) {
  Expect(Judge("listen = 0.0.0.0:8088\nimap_host = m\n"), Level::kProblem,
         "not a loopback address, and there is no TLS");
  Expect(Judge("listen = 0.0.0.0:8088\ntls_cert = /c\nimap_host = m\n"), Level::kProblem,
         "tls_cert and tls_key go together");
  Expect(Judge("listen = here\nimap_host = m\n"), Level::kProblem, "is not ADDR:PORT");
  Expect(Judge("lsiten = 127.0.0.1:1\nimap_host = m\n"), Level::kProblem, "unknown key 'lsiten'");
  Expect(Judge("junk\nimap_host = m\n"), Level::kProblem, "line 1: no '='");
  Expect(Judge("threads = 2\nthreads = 4\nimap_host = m\n"), Level::kProblem,
         "threads is set twice");
  Expect(Judge("broker = apppassd.sock\nimap_host = m\n"), Level::kProblem,
         "broker 'apppassd.sock' is not an absolute path");
  Expect(Judge("max_connections_per_ip = -1\nimap_host = m\n"), Level::kProblem,
         "max_connections_per_ip '-1'");
  Expect(Judge("trusted_proxies = 127.0.0.1 0.0.0.0/0\nimap_host = m\n"), Level::kProblem,
         "0.0.0.0/0 trusts every client");
  Expect(Judge("trusted_proxies = ::/0\nimap_host = m\n"), Level::kProblem, "trusts every client");
  Expect(Judge("trusted_proxies = nginx\nimap_host = m\n"), Level::kProblem,
         "'nginx' is not an address or CIDR");
  Expect(Judge("threads = 0\nimap_host = m\n"), Level::kProblem, "threads '0' is not a number");
  Expect(Judge("imap_port = 99999\nimap_host = m\n"), Level::kProblem, "imap_port '99999'");
  Expect(Judge("timeout = 15s\nimap_host = m\n"), Level::kProblem, "timeout '15s'");
  // A control byte from the file never reaches the message raw.
  for (const Finding& f : Judge("bad\x1b]52;key = 1\n"))
    assert_null(strchr(f.message.c_str(), 0x1b));
}

void test_warnings(void**) {
  Expect(Judge("listen = 127.0.0.1:8088\n"), Level::kWarning, "no imap_host or smtp_host");
  Expect(Judge("listen = 127.0.0.1:8088\ntrusted_proxies = 192.0.2.10\nsmtp_host = m\n"),
         Level::kWarning, "192.0.2.10 is not on this host");
  // Behind TLS on a public address, a remote proxy is plausible: no warning.
  assert_int_equal(Count(Judge("listen = 192.0.2.1:8443\ntls_cert = /c\ntls_key = /k\n"
                               "trusted_proxies = 192.0.2.10\nsmtp_host = m\n"),
                         Level::kWarning, "not on this host"),
                   0);
}

#ifdef APPPASS_TEST_WEB_KEYS
// The doctor knows exactly the keys apppass-web reads (tools/apppass-web/config.h).
void test_same_keys_as_apppass_web(void**) {
  std::vector<std::string> web;
  for (std::string_view k : apppass::web::ConfigKeys()) web.emplace_back(k);
  if (web != WebConfKeys()) fail_msg("WebConfKeys() differs from apppass::web::ConfigKeys()");
}
#endif

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_listen),
      cmocka_unit_test(test_proxy),
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_problems),
      cmocka_unit_test(test_warnings),
#ifdef APPPASS_TEST_WEB_KEYS
      cmocka_unit_test(test_same_keys_as_apppass_web),
#endif
  };
  return cmocka_run_group_tests_name("web_conf", tests, nullptr, nullptr);
}
