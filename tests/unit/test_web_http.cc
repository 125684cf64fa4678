// Unit tests of apppass-web's HTTP layer (tools/apppass-web): form and query parsing
// (secret fields, escapes, limits), cookies (parsing, Set-Cookie flags, the insecure_http
// name rule), Accept-Language, addresses and CIDRs, the client address behind trusted
// proxies (X-Forwarded-For), CSRF tokens, and the configuration file and its rules.

#include <string>
#include <vector>

#include "address.h"
#include "config.h"
#include "cookies.h"
#include "csrf.h"
#include "http.h"
#include "server.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::web {
namespace {

using namespace std::string_literals;

void test_form_basic(void**) {
  std::vector<FormField> f;
  assert_true(ParseForm("user=alice&name=My+phone%21&scope=imap&scope=smtp&empty=&flag", 64, &f));
  assert_int_equal(f.size(), 6);
  HttpRequest req;
  req.form = std::move(f);
  assert_string_equal(req.Form("user")->c_str(), "alice");
  assert_string_equal(req.Form("name")->c_str(), "My phone!");
  assert_string_equal(req.Form("empty")->c_str(), "");
  assert_string_equal(req.Form("flag")->c_str(), "");
  assert_null(req.Form("missing"));
  const std::vector<std::string> scopes = req.FormAll("scope");
  assert_int_equal(scopes.size(), 2);
  assert_string_equal(scopes[1].c_str(), "smtp");
  // UTF-8 decoded from %HH: "zoë".
  assert_true(ParseForm("n=zo%C3%AB", 64, &req.form));
  assert_string_equal(req.Form("n")->c_str(), "zo\xc3\xab");
  // Empty pieces are skipped; an empty body has no fields.
  assert_true(ParseForm("a=1&&b=2&", 64, &f));
  assert_int_equal(f.size(), 2);
  assert_true(ParseForm("", 64, &f));
  assert_int_equal(f.size(), 0);
}

void test_form_secrets(void**) {
  HttpRequest req;
  assert_true(ParseForm("user=bob&password=p%40ss+word&code=123456", 64, &req.form));
  // Secret fields never have a std::string value, only a SecretBuffer.
  assert_null(req.Form("password"));
  assert_null(req.Form("code"));
  assert_true(req.FormAll("password").empty());
  const SecretBuffer* pw = req.FormSecret("password");
  assert_non_null(pw);
  assert_true(pw->view() == "p@ss word");
  for (const FormField& f : req.form) {
    if (f.is_secret) assert_true(f.value.empty());
  }
  assert_true(req.FormSecret("code")->view() == "123456");
  assert_null(req.FormSecret("user"));
  // An empty secret is present and empty.
  assert_true(ParseForm("password=", 64, &req.form));
  assert_non_null(req.FormSecret("password"));
  assert_int_equal(req.FormSecret("password")->size(), 0);
  assert_true(IsSecretField("password") && IsSecretField("code"));
  assert_false(IsSecretField("csrf") || IsSecretField("Password") || IsSecretField("user"));
}

void test_form_malformed(void**) {
  std::vector<FormField> f;
  for (const std::string& bad :
       {"a=%zz"s, "a=%4"s, "a=%"s, "a=%00"s, "a=x\0y"s, "%zz=1"s, "=1"s, "a=%C3"s, "a=%FF"s,
        "a=%ED%A0%80"s /* surrogate */, "password=%zz"s, "password=%C3"s, "code=%00"s}) {
    f.push_back({});
    if (ParseForm(bad, 64, &f)) fail_msg("accepted a malformed form (%zu bytes)", bad.size());
    assert_true(f.empty());  // nothing half-parsed is left
  }
  // The field limit.
  std::string many;
  for (int i = 0; i < 65; ++i) many += "f" + std::to_string(i) + "=1&";
  assert_false(ParseForm(many, 64, &f));
  assert_true(ParseForm(many, 65, &f));
  assert_int_equal(f.size(), 65);
}

void test_cookies(void**) {
  auto c = ParseCookies("a=1; b=two;c=\"q\" ;  d=; a=second; bad name=x; e=x y; f=\xff; =v; g");
  assert_string_equal(c["a"].c_str(), "1");  // the first of a repeated name wins
  assert_string_equal(c["b"].c_str(), "two");
  assert_string_equal(c["c"].c_str(), "q");
  assert_true(c.count("d") == 1 && c["d"].empty());
  assert_int_equal(c.count("bad name"), 0);
  assert_int_equal(c.count("e"), 0);
  assert_int_equal(c.count("f"), 0);
  assert_int_equal(c.count(""), 0);
  assert_int_equal(c.count("g"), 0);
  // Bounded: at most 64 pairs are looked at.
  std::string many;
  for (int i = 0; i < 100; ++i) many += "k" + std::to_string(i) + "=v; ";
  assert_int_equal(ParseCookies(many).size(), 64);
}

void test_set_cookie(void**) {
  SetCookie s{"__Host-apppass-session", "abc123", std::nullopt};
  assert_string_equal(FormatSetCookie(s, false).c_str(),
                      "__Host-apppass-session=abc123; Path=/; HttpOnly; Secure; SameSite=Strict");
  assert_string_equal(FormatSetCookie(s, true).c_str(),
                      "apppass-session=abc123; Path=/; HttpOnly; SameSite=Strict");
  SetCookie del{"__Host-apppass-signin", "", 0};
  assert_string_equal(
      FormatSetCookie(del, false).c_str(),
      "__Host-apppass-signin=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict");
  SetCookie neg{"apppass-lang", "ro", -5};
  assert_string_equal(FormatSetCookie(neg, false).c_str(),
                      "apppass-lang=ro; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict");
  // A name or value that could inject attributes is not sent at all.
  assert_true(FormatSetCookie({"a", "x; Domain=evil", std::nullopt}, false).empty());
  assert_true(FormatSetCookie({"a b", "x", std::nullopt}, false).empty());
  assert_true(FormatSetCookie({"", "x", std::nullopt}, false).empty());
  assert_true(FormatSetCookie({"a", "x\r\nSet-Cookie: b=1", std::nullopt}, false).empty());
}

void test_request_cookies_insecure(void**) {
  const std::string header = "apppass-session=s1; __Host-apppass-pre=forged; apppass-lang=it";
  auto secure = RequestCookies(header, false);
  assert_string_equal(secure["__Host-apppass-pre"].c_str(), "forged");
  assert_int_equal(secure.count("__Host-apppass-session"), 0);
  auto insecure = RequestCookies(header, true);
  // Each cookie is also seen under its __Host- name; a real __Host- cookie is ignored.
  assert_string_equal(insecure["__Host-apppass-session"].c_str(), "s1");
  assert_string_equal(insecure["apppass-lang"].c_str(), "it");
  assert_int_equal(insecure.count("__Host-apppass-pre"), 0);
}

void test_language(void**) {
  const std::vector<std::string> langs = {"en", "ro", "it"};
  assert_string_equal(PickLanguage("", langs).c_str(), "en");
  assert_string_equal(PickLanguage("ro-RO,ro;q=0.9,en;q=0.8", langs).c_str(), "ro");
  assert_string_equal(PickLanguage("de-DE,it;q=0.5,ro;q=0.4", langs).c_str(), "it");
  assert_string_equal(PickLanguage("fr, de", langs).c_str(), "en");
  assert_string_equal(PickLanguage("en;q=0.1, IT;q=0.9", langs).c_str(), "it");
  assert_string_equal(PickLanguage("ro;q=0, it;q=0.001", langs).c_str(), "it");
  assert_string_equal(PickLanguage("ro;q=0", langs).c_str(), "en");
  assert_string_equal(PickLanguage("it;q=1.5, ro;q=abc, ro;q=0.5", langs).c_str(), "ro");
  assert_string_equal(PickLanguage("*;q=0.5, ro;q=0.4", langs).c_str(), "en");
  assert_string_equal(PickLanguage("ro;q=0.5, it;q=0.5", langs).c_str(), "ro");  // ties: first
  assert_string_equal(PickLanguage("ro", {}).c_str(), "");
}

void test_addresses(void**) {
  assert_true(ParseIp("192.0.2.7").has_value());
  assert_true(ParseIp("2001:db8::1").has_value());
  for (const char* bad : {"", "192.0.2", "192.0.2.256", " 192.0.2.7", "192.0.2.7 ", "[::1]",
                          "::1%lo", "localhost", "1.2.3.4:80", "01.2.3.4"}) {
    if (ParseIp(bad)) fail_msg("accepted address \"%s\"", bad);
  }
  assert_false(ParseIp("1.2.3.4\0"s + "5").has_value());
  // A v4-mapped address is the IPv4 address.
  assert_true(ParseIp("::ffff:192.0.2.7") == ParseIp("192.0.2.7"));
  assert_string_equal(FormatIp(*ParseIp("2001:DB8:0::1")).c_str(), "2001:db8::1");

  const auto in = [](const char* ip, const char* range) {
    return InRange(*ParseIp(ip), *ParseRange(range));
  };
  assert_true(in("10.1.2.3", "10.0.0.0/8"));
  assert_false(in("11.1.2.3", "10.0.0.0/8"));
  assert_true(in("192.0.2.7", "192.0.2.7"));
  assert_false(in("192.0.2.8", "192.0.2.7"));
  assert_true(in("192.0.2.200", "192.0.2.128/25"));
  assert_false(in("192.0.2.127", "192.0.2.128/25"));
  assert_true(in("1.2.3.4", "0.0.0.0/0"));
  assert_false(in("::1", "0.0.0.0/0"));  // never across families
  assert_true(in("2001:db8:1::5", "2001:db8::/32"));
  assert_false(in("2001:db9::5", "2001:db8::/32"));
  assert_true(in("2001:db8::7", "2001:db8::/127") == false);
  assert_true(in("2001:db8::1", "2001:db8::/127"));
  assert_true(in("::ffff:10.0.0.1", "10.0.0.0/8"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "::/129",
                          "10.0.0.0/8/8", "x/8", "10.0.0.0/ 8"}) {
    if (ParseRange(bad)) fail_msg("accepted range \"%s\"", bad);
  }
  assert_true(IsLoopback(*ParseIp("127.0.0.1")) && IsLoopback(*ParseIp("127.9.9.9")) &&
              IsLoopback(*ParseIp("::1")));
  assert_false(IsLoopback(*ParseIp("::")) || IsLoopback(*ParseIp("10.0.0.1")));

  auto e = ParseEndpoint("127.0.0.1:8088");
  assert_true(e && e->port == 8088 && !e->ip.v6);
  e = ParseEndpoint("[::1]:443");
  assert_true(e && e->port == 443 && e->ip.v6);
  for (const char* bad : {"127.0.0.1", "::1:80", "[127.0.0.1]:80", "127.0.0.1:65536",
                          "127.0.0.1:", "127.0.0.1:080", "localhost:80", "[::1]80"}) {
    if (ParseEndpoint(bad)) fail_msg("accepted endpoint \"%s\"", bad);
  }
}

void test_client_address(void**) {
  const std::vector<std::string> none;
  const std::vector<std::string> proxies = {"127.0.0.1", "10.0.0.0/8", "::1"};
  std::string xff = "198.51.100.9";
  // Not a trusted peer: the header is ignored.
  assert_string_equal(ClientAddress("192.0.2.7", &xff, none).c_str(), "192.0.2.7");
  assert_string_equal(ClientAddress("192.0.2.7", &xff, proxies).c_str(), "192.0.2.7");
  // A trusted peer: the right-most entry that is not a trusted proxy.
  assert_string_equal(ClientAddress("127.0.0.1", &xff, proxies).c_str(), "198.51.100.9");
  xff = "203.0.113.5, 198.51.100.9, 10.1.1.1";
  assert_string_equal(ClientAddress("127.0.0.1", &xff, proxies).c_str(), "198.51.100.9");
  // A client's own forged entries on the left are not believed.
  xff = "1.1.1.1,198.51.100.9";
  assert_string_equal(ClientAddress("::1", &xff, proxies).c_str(), "198.51.100.9");
  // All trusted: the left-most.
  xff = "10.2.2.2, 10.1.1.1";
  assert_string_equal(ClientAddress("127.0.0.1", &xff, proxies).c_str(), "10.2.2.2");
  // Malformed: the peer.
  for (const std::string& bad : {"junk"s, ""s, "198.51.100.9,"s, "198.51.100.9:1234"s,
                                 "[2001:db8::1]"s, "198.51.100.9, unknown"s}) {
    if (ClientAddress("127.0.0.1", &bad, proxies) != "127.0.0.1") {
      fail_msg("malformed X-Forwarded-For \"%s\" was believed", bad.c_str());
    }
  }
  // No header: the peer. IPv6 canonical; v4-mapped peers read as IPv4.
  assert_string_equal(ClientAddress("127.0.0.1", nullptr, proxies).c_str(), "127.0.0.1");
  xff = "2001:DB8::0:1";
  assert_string_equal(ClientAddress("127.0.0.1", &xff, proxies).c_str(), "2001:db8::1");
  assert_string_equal(ClientAddress("::ffff:192.0.2.7", nullptr, none).c_str(), "192.0.2.7");
  // Bounded: more than 64 entries is malformed.
  std::string long_xff;
  for (int i = 0; i < 65; ++i) long_xff += "198.51.100.1,";
  long_xff += "198.51.100.2";
  assert_string_equal(ClientAddress("127.0.0.1", &long_xff, proxies).c_str(), "127.0.0.1");
}

void test_csrf(void**) {
  assert_true(InitCsrf().ok());
  const std::string s1(64, 'a'), s2(64, 'b');
  const std::string t1 = CsrfForSession(s1);
  assert_int_equal(t1.size(), 32);
  assert_true(t1.find_first_not_of("0123456789abcdef") == std::string::npos);
  assert_true(t1 == CsrfForSession(s1));
  assert_true(t1 != CsrfForSession(s2));
  assert_true(CsrfForSession("").empty());
  const std::string p1 = NewPreSigninToken(), p2 = NewPreSigninToken();
  assert_int_equal(p1.size(), 32);
  assert_true(p1 != p2);

  HttpRequest req;
  assert_false(CheckCsrf(req, t1));  // missing
  assert_true(ParseForm("csrf=" + t1, 64, &req.form));
  assert_true(CheckCsrf(req, t1));
  assert_false(CheckCsrf(req, CsrfForSession(s2)));
  assert_false(CheckCsrf(req, ""));
  assert_false(CheckCsrf(req, t1.substr(0, 31)));
  assert_true(ParseForm("csrf=", 64, &req.form));
  assert_false(CheckCsrf(req, ""));
}

void test_config(void**) {
  WebConfig c;
  std::set<std::string> keys;
  const std::string text =
      "# a comment\n\n  broker = /run/x.sock\nlisten=[::1]:9000\r\n"
      "trusted_proxies = 127.0.0.1  ::1 10.0.0.0/8\nimap_host = mail.example.org\n"
      "imap_port = 143\nthreads = 4\nmax_connections = 10\nmax_connections_per_ip = 2\n"
      "timeout = 3\nshare_dir = /s\nlocale_dir = /l\nsmtp_host =\nsmtp_port = 25\n";
  assert_true(ParseConfigText(text, "web.conf", &c, &keys).ok());
  assert_string_equal(c.broker.c_str(), "/run/x.sock");
  assert_string_equal(c.listen.c_str(), "[::1]:9000");
  assert_int_equal(c.trusted_proxies.size(), 3);
  assert_int_equal(c.imap_port, 143);
  assert_int_equal(c.threads, 4);
  assert_int_equal(c.max_connections_per_ip, 2);
  assert_int_equal(c.timeout, 3);
  assert_true(c.smtp_host.empty());
  assert_int_equal(keys.count("listen"), 1);
  assert_true(CheckConfig(c).ok());

  const auto error = [](const std::string& t) {
    WebConfig w;
    return ParseConfigText(t, "web.conf", &w, nullptr).message();
  };
  assert_string_equal(error("a = 1\nlistn = x\n").c_str(), "web.conf:1: unknown key \"a\"");
  assert_string_equal(error("# ok\nlistn = x\n").c_str(), "web.conf:2: unknown key \"listn\"");
  assert_true(error("threads = 0\n").find("web.conf:1: threads must be") == 0);
  assert_true(error("threads = 8x\n").find("web.conf:1:") == 0);
  assert_true(error("timeout = 3601\n").find("web.conf:1:") == 0);
  assert_true(error("imap_port = 65536\n").find("web.conf:1:") == 0);
  assert_true(error("listen\n").find("web.conf:1: expected") == 0);
  assert_true(error("timeout = 3\ntimeout = 4\n").find("web.conf:2: timeout set twice") == 0);
  assert_true(error("trusted_proxies = 127.0.0.1 proxy.example\n").find("web.conf:1:") == 0);

  // The whole: plain HTTP only on loopback; insecure_http only there and without TLS.
  const auto check = [](const std::string& listen, bool tls, bool insecure) {
    WebConfig w;
    w.listen = listen;
    if (tls) w.tls_cert = w.tls_key = "/x";
    w.insecure_http = insecure;
    return CheckConfig(w).ok();
  };
  assert_true(check("127.0.0.1:8088", false, false));
  assert_true(check("[::1]:8088", false, true));
  assert_false(check("0.0.0.0:8088", false, false));
  assert_false(check("192.0.2.1:8088", false, false));
  assert_true(check("0.0.0.0:443", true, false));
  assert_false(check("0.0.0.0:443", true, true));
  assert_false(check("127.0.0.1:443", true, true));
  assert_false(check("localhost:8088", false, false));
  WebConfig half;
  half.tls_cert = "/x";
  assert_false(CheckConfig(half).ok());
  WebConfig rel;
  rel.broker = "run/apppassd.sock";
  assert_false(CheckConfig(rel).ok());
}

void test_security_headers(void**) {
  bool csp = false, hsts = false;
  for (const auto& [name, value] : SecurityHeaders(false)) {
    if (name == "Content-Security-Policy") {
      csp = value ==
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
    }
    hsts = hsts || name == "Strict-Transport-Security";
  }
  assert_true(csp);
  assert_false(hsts);
  for (const auto& [name, value] : SecurityHeaders(true))
    hsts = hsts || name == "Strict-Transport-Security";
  assert_true(hsts);
}

}  // namespace
}  // namespace apppass::web

int main() {
  using namespace apppass::web;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_form_basic),     cmocka_unit_test(test_form_secrets),
      cmocka_unit_test(test_form_malformed), cmocka_unit_test(test_cookies),
      cmocka_unit_test(test_set_cookie),     cmocka_unit_test(test_request_cookies_insecure),
      cmocka_unit_test(test_language),       cmocka_unit_test(test_addresses),
      cmocka_unit_test(test_client_address), cmocka_unit_test(test_csrf),
      cmocka_unit_test(test_config),         cmocka_unit_test(test_security_headers),
  };
  return cmocka_run_group_tests_name("web_http", tests, nullptr, nullptr);
}
