// Unit tests of apppass-web's router (portal.h) against a scripted broker
// (tests/lib/fake_broker.py, which logs every request it gets): the refusals that must
// never reach the broker (CSRF missing or wrong: 403), unknown paths (404), methods
// (405, GET of a POST-only page), the language choice (?lang= > cookie > Accept-Language
// > en), the static assets, and the new password's post/redirect/get shown once.
#include <sodium.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "csrf.h"
#include "fake_broker.h"
#include "portal.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::web {
namespace {

const std::string kSession(64, 'c');
const std::string kPassword = "abcd-efgh-jkmn-pqrs-tuvw";

struct Fixture {
  std::string dir, socket;
  testlib::FakeBroker broker;
  std::unique_ptr<Portal> portal;
};

int Setup(void** state) {
  auto* f = new Fixture;
  char tmpl[] = "/tmp/apppass-web-portal-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return -1;
  f->dir = tmpl;
  f->socket = f->dir + "/apppassd.sock";
  PortalConfig c;
  c.broker_socket = f->socket;
  c.locale_dir = APPPASS_WEB_LOCALE_DIR;
  c.share_dir = f->dir + "/share";  // nothing there: the built-in assets
  c.imap_host = "mail.example.org";
  c.smtp_host = "mail.example.org";
  f->portal = std::make_unique<Portal>(c);
  if (!f->portal->Init().ok()) return -1;
  *state = f;
  return 0;
}

int Teardown(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  f->broker.Stop();
  std::error_code ec;
  std::filesystem::remove_all(f->dir, ec);
  delete f;
  return 0;
}

// Every request the fake broker got (one per line, secrets as "*"); empty when none.
std::string BrokerLog(const Fixture& f) {
  std::ifstream in(f.socket + ".log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void StartBroker(Fixture* f, const std::vector<std::string>& lines) {
  const std::string why = f->broker.Start(f->socket, "reply", lines);
  if (!why.empty()) fail_msg("%s", why.c_str());
}

FormField Plain(std::string name, std::string value) {
  FormField ff;
  ff.name = std::move(name);
  ff.value = std::move(value);
  return ff;
}

FormField Secret(std::string name, std::string_view value) {
  FormField ff;
  ff.name = std::move(name);
  ff.is_secret = true;
  ff.secret = SecretBuffer(value.size() + 1);
  ff.secret.assign(value);
  return ff;
}

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.client = "192.0.2.7";
  return r;
}

const std::string* Location(const HttpResponse& r) {
  for (const auto& [k, v] : r.headers)
    if (k == "Location") return &v;
  return nullptr;
}

const SetCookie* CookieOf(const HttpResponse& r, std::string_view name) {
  for (const SetCookie& c : r.cookies)
    if (c.name == name) return &c;
  return nullptr;
}

bool Has(const HttpResponse& r, const char* text) {
  return strstr(r.body.c_str(), text) != nullptr;
}

void test_unknown_path_404(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  HttpResponse r = f->portal->Handle(Req("GET", "/nope"));
  assert_int_equal(r.status, 404);
  assert_true(Has(r, "<html lang=\"en\">"));
  assert_int_equal(f->portal->Handle(Req("GET", "/static/nope.css")).status, 404);
  assert_int_equal(f->portal->Handle(Req("GET", "/passwords/")).status, 404);
  // The language links of a page at any path stay on this site (found by fuzz_portal).
  r = f->portal->Handle(Req("GET", "//evil.example/a b"));
  assert_int_equal(r.status, 404);
  assert_true(Has(r, "<a href=\"/%2Fevil.example/a%20b?lang=ro\""));
  assert_false(Has(r, "href=\"//"));
  r = f->portal->Handle(Req("GET", "/\\evil.example"));
  assert_true(Has(r, "<a href=\"/%5Cevil.example?lang=en\""));
  r = f->portal->Handle(Req("GET", "/\t/evil.example"));
  assert_true(Has(r, "<a href=\"/%09/evil.example?lang=en\""));
}

void test_methods(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  HttpResponse r = f->portal->Handle(Req("PUT", "/signin"));
  assert_int_equal(r.status, 405);
  r = f->portal->Handle(Req("POST", "/passwords"));
  assert_int_equal(r.status, 405);
  r = f->portal->Handle(Req("DELETE", "/static/style.css"));
  assert_int_equal(r.status, 405);
  // Every 405 says what is allowed (RFC 9110), "/" too (found by fuzz_portal).
  r = f->portal->Handle(Req("POST", "/"));
  assert_int_equal(r.status, 405);
  assert_int_equal(r.headers.size(), 1);
  assert_string_equal(r.headers[0].first.c_str(), "Allow");
  assert_string_equal(r.headers[0].second.c_str(), "GET, HEAD");
  // A GET of a POST-only page (a language link on a POST's answer) goes to its page.
  r = f->portal->Handle(Req("GET", "/security/recovery-codes"));
  assert_int_equal(r.status, 303);
  assert_string_equal(Location(r)->c_str(), "/security");
  r = f->portal->Handle(Req("GET", "/"));
  assert_int_equal(r.status, 303);
  assert_string_equal(Location(r)->c_str(), "/signin");
  HttpRequest signed_in = Req("GET", "/");
  signed_in.cookies["__Host-apppass-session"] = kSession;
  r = f->portal->Handle(signed_in);
  assert_string_equal(Location(r)->c_str(), "/passwords");
  // Signed-in pages without a session: to the sign-in page, nothing asked.
  r = f->portal->Handle(Req("GET", "/passwords"));
  assert_int_equal(r.status, 303);
  assert_string_equal(Location(r)->c_str(), "/signin");
}

void test_csrf_refusals_reach_no_broker(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"OK\t{id}\tuser=alice"});
  // Signed out: no token, a wrong one, no pre cookie.
  HttpRequest r1 = Req("POST", "/signin");
  r1.form.push_back(Plain("user", "alice"));
  r1.form.push_back(Secret("password", "pw"));
  assert_int_equal(f->portal->Handle(r1).status, 403);
  r1.cookies["__Host-apppass-pre"] = std::string(32, 'a');
  r1.form.push_back(Plain("csrf", std::string(32, 'b')));
  assert_int_equal(f->portal->Handle(r1).status, 403);
  HttpRequest r2 = Req("POST", "/signin");
  r2.form.push_back(Plain("csrf", std::string(32, 'a')));
  assert_int_equal(f->portal->Handle(r2).status, 403);
  // Signed in: missing, the pre-sign-in token, another session's.
  for (const char* path :
       {"/passwords/new", "/passwords/revoke", "/signout", "/security/recovery-codes",
        "/security/authenticator", "/security/authenticator/confirm", "/setup/done"}) {
    HttpRequest r = Req("POST", path);
    r.cookies["__Host-apppass-session"] = kSession;
    r.cookies["__Host-apppass-pre"] = std::string(32, 'a');
    r.form.push_back(Plain("id", "x"));
    assert_int_equal(f->portal->Handle(r).status, 403);
    r.form.push_back(Plain("csrf", std::string(32, 'a')));
    assert_int_equal(f->portal->Handle(r).status, 403);
    r.form.back().value = CsrfForSession(std::string(64, 'd'));
    const HttpResponse resp = f->portal->Handle(r);
    assert_int_equal(resp.status, 403);
    assert_true(Has(resp, "id=\"lang\""));
  }
  // Pre-sign-in pages with the session's token: refused too.
  HttpRequest r3 = Req("POST", "/signin/code");
  r3.cookies["__Host-apppass-session"] = kSession;
  r3.form.push_back(Plain("csrf", CsrfForSession(kSession)));
  assert_int_equal(f->portal->Handle(r3).status, 403);
  assert_string_equal(BrokerLog(*f).c_str(), "");
}

void test_signin_posts(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const std::string token(64, 'e');
  StartBroker(f, {"OK\t{id}\tsignin=" + token + "\tnext=code"});
  HttpResponse page = f->portal->Handle(Req("GET", "/signin"));
  assert_int_equal(page.status, 200);
  const SetCookie* pre = CookieOf(page, "__Host-apppass-pre");
  assert_non_null(pre);
  assert_int_equal(pre->value.size(), 32);
  assert_true(Has(page, ("name=\"csrf\" value=\"" + pre->value + "\"").c_str()));
  assert_true(Has(page, "<form id=\"signin\" method=\"post\" action=\"/signin\""));
  assert_true(Has(page, "name=\"user\""));
  assert_true(Has(page, "name=\"password\" type=\"password\""));
  // No inline script or style (CSP).
  assert_false(Has(page, "<script"));
  assert_false(Has(page, "style="));

  HttpRequest r = Req("POST", "/signin");
  r.cookies["__Host-apppass-pre"] = pre->value;
  r.form.push_back(Plain("csrf", pre->value));
  r.form.push_back(Plain("user", "alice"));
  r.form.push_back(Secret("password", "right"));
  const HttpResponse resp = f->portal->Handle(r);
  assert_int_equal(resp.status, 303);
  assert_string_equal(Location(resp)->c_str(), "/signin/code");
  const SetCookie* signin = CookieOf(resp, "__Host-apppass-signin");
  assert_non_null(signin);
  assert_string_equal(signin->value.c_str(), token.c_str());
  const std::string log = BrokerLog(*f);
  assert_non_null(strstr(log.c_str(), "SIGNIN\t"));
  assert_non_null(strstr(log.c_str(), "user=alice"));
  assert_non_null(strstr(log.c_str(), "password=*"));
  assert_non_null(strstr(log.c_str(), "client=192.0.2.7"));
}

void test_signin_refused(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"FAIL\t{id}\tdenied\twrong user name or password\treason=wrong"});
  HttpRequest r = Req("POST", "/signin");
  r.cookies["__Host-apppass-pre"] = std::string(32, 'a');
  r.cookies["apppass-lang"] = "ro";
  r.form.push_back(Plain("csrf", std::string(32, 'a')));
  r.form.push_back(Plain("user", "<b>alice</b>"));
  r.form.push_back(Secret("password", "wrong"));
  const HttpResponse resp = f->portal->Handle(r);
  assert_int_equal(resp.status, 401);
  assert_true(Has(resp, "<html lang=\"ro\">"));
  assert_true(Has(resp, "id=\"error\" class=\"error\" role=\"alert\""));
  assert_true(Has(resp, "Nume de utilizator sau parol\xc4\x83 gre\xc8\x99it\xc4\x83."));
  assert_true(Has(resp, "value=\"&lt;b&gt;alice&lt;/b&gt;\""));
  assert_false(Has(resp, "<b>alice"));
  assert_null(CookieOf(resp, "__Host-apppass-signin"));
}

void test_language_choice(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  HttpRequest r = Req("GET", "/signin");
  assert_true(Has(f->portal->Handle(r), "<html lang=\"en\">"));
  r.headers["accept-language"] = "it-IT,it;q=0.9,en;q=0.5";
  assert_true(Has(f->portal->Handle(r), "<html lang=\"it\">"));
  r.cookies["apppass-lang"] = "ro";
  assert_true(Has(f->portal->Handle(r), "<html lang=\"ro\">"));
  r.query.push_back(Plain("lang", "en"));
  HttpResponse resp = f->portal->Handle(r);
  assert_true(Has(resp, "<html lang=\"en\">"));
  const SetCookie* c = CookieOf(resp, "apppass-lang");
  assert_non_null(c);
  assert_string_equal(c->value.c_str(), "en");
  // An unknown language is ignored (the cookie decides).
  r.query.back().value = "de";
  resp = f->portal->Handle(r);
  assert_true(Has(resp, "<html lang=\"ro\">"));
  assert_null(CookieOf(resp, "apppass-lang"));
  assert_true(Has(resp, "Conectare"));
}

void test_static_assets(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  HttpResponse r = f->portal->Handle(Req("GET", "/static/style.css"));
  assert_int_equal(r.status, 200);
  assert_true(r.cacheable);
  assert_string_equal(r.content_type.c_str(), "text/css; charset=utf-8");
  assert_true(Has(r, ":focus-visible"));
  r = f->portal->Handle(Req("GET", "/static/copy.js"));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.content_type.c_str(), "text/javascript; charset=utf-8");
  assert_true(Has(r, "navigator.clipboard"));
  r = f->portal->Handle(Req("GET", "/static/icon.svg"));
  assert_int_equal(r.status, 200);
  assert_string_equal(r.content_type.c_str(), "image/svg+xml");
}

void test_share_dir_overrides(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  std::filesystem::create_directories(f->dir + "/share2/static");
  std::ofstream(f->dir + "/share2/static/style.css") << "body{color:red}\n";
  PortalConfig c;
  c.broker_socket = f->socket;
  c.locale_dir = APPPASS_WEB_LOCALE_DIR;
  c.share_dir = f->dir + "/share2";
  Portal p(c);
  ASSERT_OK(p.Init());
  assert_string_equal(p.Handle(Req("GET", "/static/style.css")).body.c_str(), "body{color:red}\n");
  assert_true(Has(p.Handle(Req("GET", "/static/copy.js")), "navigator.clipboard"));
}

// CREATE -> 303 -> the password once; a reload says "already shown".
void test_created_shown_once(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"OK\t{id}\tuser=alice\tid=0123abcd\tname=<i>phone</i>\tscopes=imap "
                  "smtp\tcreated=2026-12-07T12:00:00Z\tpassword=" +
                  kPassword});
  HttpRequest r = Req("POST", "/passwords/new");
  r.cookies["__Host-apppass-session"] = kSession;
  r.form.push_back(Plain("csrf", CsrfForSession(kSession)));
  r.form.push_back(Plain("name", "<i>phone</i>"));
  r.form.push_back(Plain("scope", "imap"));
  r.form.push_back(Plain("scope", "smtp"));
  r.form.push_back(Plain("expiry", "90d"));
  HttpResponse resp = f->portal->Handle(r);
  assert_int_equal(resp.status, 303);
  assert_string_equal(Location(resp)->c_str(), "/passwords/created");
  assert_null(strstr(resp.body.c_str(), kPassword.c_str()));
  const std::string log = BrokerLog(*f);
  assert_non_null(strstr(log.c_str(), "CREATE\t"));
  assert_non_null(strstr(log.c_str(), "scopes=imap smtp"));
  assert_non_null(strstr(log.c_str(), "expires=90d"));

  HttpRequest get = Req("GET", "/passwords/created");
  // Another session finds nothing.
  get.cookies["__Host-apppass-session"] = std::string(64, 'f');
  resp = f->portal->Handle(get);
  assert_int_equal(resp.status, 410);
  get.cookies["__Host-apppass-session"] = kSession;
  resp = f->portal->Handle(get);
  assert_int_equal(resp.status, 200);
  assert_true(resp.secret_body);
  assert_true(Has(resp, ("<code id=\"new-password\" class=\"secret\">" + kPassword).c_str()));
  assert_true(Has(resp, "id=\"copy\""));
  assert_true(Has(resp, "<script src=\"/static/copy.js\"></script>"));
  assert_true(Has(resp, "id=\"mail-settings\""));
  assert_true(Has(resp, "mail.example.org"));
  assert_true(Has(resp, "id=\"done\""));
  assert_true(Has(resp, "&lt;i&gt;phone&lt;/i&gt;"));
  resp = f->portal->Handle(get);
  assert_int_equal(resp.status, 410);
  assert_null(strstr(resp.body.c_str(), kPassword.c_str()));
  assert_true(Has(resp, "id=\"already-shown\""));
}

void test_expired_session(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"FAIL\t{id}\tdenied\tsign in again\treason=expired"});
  HttpRequest r = Req("GET", "/passwords");
  r.cookies["__Host-apppass-session"] = kSession;
  const HttpResponse resp = f->portal->Handle(r);
  assert_int_equal(resp.status, 303);
  assert_string_equal(Location(resp)->c_str(), "/signin?notice=ended");
  const SetCookie* c = CookieOf(resp, "__Host-apppass-session");
  assert_non_null(c);
  assert_true(c->value.empty());
  assert_int_equal(*c->max_age, 0);
}

void test_list_page(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"ITEM\t{id}\tid=0123abcd\tname=<script>alert(1)</script>\tscopes=imap\t"
                  "created=2026-12-07T12:00:00Z\tlast_used=2026-12-07T13:00:00Z\t"
                  "last_service=imap\tlast_rhost=198.51.100.4\tstate=active",
                  "OK\t{id}\tuser=alice\tcount=1"});
  HttpRequest r = Req("GET", "/passwords");
  r.cookies["__Host-apppass-session"] = kSession;
  HttpResponse resp = f->portal->Handle(r);
  assert_int_equal(resp.status, 200);
  assert_true(Has(resp, "<table id=\"passwords\">"));
  assert_true(Has(resp, "<tr data-id=\"0123abcd\">"));
  assert_true(Has(resp, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert_false(Has(resp, "<script>"));
  assert_true(Has(resp, "class=\"revoke\" href=\"/passwords/revoke?id=0123abcd\""));
  assert_true(Has(resp, "198.51.100.4"));
  assert_true(Has(resp, "id=\"create\""));
  // The confirmation of a revoke; an id that is not the user's is not found.
  HttpRequest rv = Req("GET", "/passwords/revoke");
  rv.cookies = r.cookies;
  rv.query.push_back(Plain("id", "0123abcd"));
  resp = f->portal->Handle(rv);
  assert_int_equal(resp.status, 200);
  assert_true(Has(resp, "<form id=\"revoke\""));
  assert_true(Has(resp, ("value=\"" + CsrfForSession(kSession) + "\"").c_str()));
  rv.query.back().value = "ffff0000";
  assert_int_equal(f->portal->Handle(rv).status, 404);
}

// "Set it up now": the key as a QR code and in groups, then the recovery codes once with
// the new session (its own CSRF token on form#saved).
void test_setup_flow(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  const std::string signin(64, 'e'), session(64, '7');
  StartBroker(
      f, {"ITEM\t{id}\trecovery_code=aaaa-bbbb-cccc", "ITEM\t{id}\trecovery_code=dddd-eeee-ffff",
          "OK\t{id}\tsecret=JBSWY3DPEHPK3PXPJBSWY3DP\turi=otpauth://totp/"
          "mail:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=mail\tissuer=mail\t"
          "account=alice\tsession=" +
              session + "\tuser=alice"});
  HttpRequest get = Req("GET", "/setup");
  get.cookies["__Host-apppass-signin"] = signin;
  get.cookies["apppass-lang"] = "it";
  HttpResponse r = f->portal->Handle(get);
  assert_int_equal(r.status, 200);
  assert_true(Has(r, "id=\"setup-start\""));
  assert_true(Has(r, "Configura ora"));
  assert_non_null(CookieOf(r, "__Host-apppass-pre"));
  const std::string pre = CookieOf(r, "__Host-apppass-pre")->value;

  HttpRequest start = Req("POST", "/setup/start");
  start.cookies = get.cookies;
  start.cookies["__Host-apppass-pre"] = pre;
  start.form.push_back(Plain("csrf", pre));
  r = f->portal->Handle(start);
  assert_int_equal(r.status, 200);
  assert_true(r.secret_body);
  assert_true(Has(r, "<figure id=\"qr\" class=\"qr\">\n<svg "));
  assert_true(Has(r, "<code id=\"secret\" class=\"secret\">JBSW Y3DP EHPK 3PXP JBSW Y3DP</code>"));
  assert_true(Has(r, "<form id=\"confirm\" method=\"post\" action=\"/setup/confirm\">"));

  HttpRequest confirm = Req("POST", "/setup/confirm");
  confirm.cookies = start.cookies;
  confirm.form.push_back(Plain("csrf", pre));
  confirm.form.push_back(Secret("code", "123456"));
  r = f->portal->Handle(confirm);
  assert_int_equal(r.status, 200);
  assert_true(r.secret_body);
  const SetCookie* c = CookieOf(r, "__Host-apppass-session");
  assert_non_null(c);
  assert_string_equal(c->value.c_str(), session.c_str());
  c = CookieOf(r, "__Host-apppass-signin");
  assert_non_null(c);
  assert_int_equal(*c->max_age, 0);
  assert_true(
      Has(r, "<ul id=\"recovery-codes\" class=\"codes\">\n<li><code>aaaa-bbbb-cccc</code></li>"));
  assert_true(Has(r, "<form id=\"saved\""));
  // Switching the language must not lose the codes: the links open a new tab.
  assert_true(Has(r, "hreflang=\"en\" lang=\"en\" target=\"_blank\" rel=\"noopener\""));
  assert_true(Has(r, ("value=\"" + CsrfForSession(session) + "\"").c_str()));
  const std::string log = BrokerLog(*f);
  assert_non_null(strstr(log.c_str(), "SIGNIN_ENROLL\t"));
  assert_non_null(strstr(log.c_str(), "SIGNIN_CONFIRM\t"));
  assert_non_null(strstr(log.c_str(), "code=*"));
}

void test_security_pages(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  StartBroker(f, {"ITEM\t{id}\trecovery_code=aaaa-bbbb-cccc",
                  "OK\t{id}\tuser=alice\tstate=confirmed\trecovery_codes_left=7"});
  HttpRequest get = Req("GET", "/security");
  get.cookies["__Host-apppass-session"] = kSession;
  HttpResponse r = f->portal->Handle(get);
  assert_int_equal(r.status, 200);
  for (const char* id : {"<form id=\"recovery\"", "<form id=\"authenticator\"",
                         "<form id=\"signout\"", "id=\"recovery-left\">Unused recovery codes: 7"})
    assert_true(Has(r, id));
  HttpRequest post = Req("POST", "/security/recovery-codes");
  post.cookies = get.cookies;
  post.form.push_back(Plain("csrf", CsrfForSession(kSession)));
  post.form.push_back(Secret("code", "123456"));
  r = f->portal->Handle(post);
  assert_int_equal(r.status, 200);
  assert_true(r.secret_body);
  assert_true(Has(r, "<li><code>aaaa-bbbb-cccc</code></li>"));
  // Without a code: the error next to the field, nothing sent.
  HttpRequest empty = Req("POST", "/security/authenticator");
  empty.cookies = get.cookies;
  empty.form.push_back(Plain("csrf", CsrfForSession(kSession)));
  r = f->portal->Handle(empty);
  assert_int_equal(r.status, 400);
  assert_true(Has(r, "id=\"authenticator-code-error\" class=\"error\" role=\"alert\""));
  assert_true(Has(r, "aria-describedby=\"authenticator-code-error\""));
}

// Handle from many threads at once (the server's threads): every answer whole.
void test_threads(void** state) {
  auto* f = static_cast<Fixture*>(*state);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        HttpRequest r = Req("GET", i % 2 ? "/signin" : "/static/style.css");
        r.cookies["apppass-lang"] = t % 3 == 0 ? "ro" : t % 3 == 1 ? "it" : "en";
        const HttpResponse resp = f->portal->Handle(r);
        if (resp.status != 200 || resp.body.empty()) ++bad;
      }
    });
  for (auto& th : threads) th.join();
  assert_int_equal(bad.load(), 0);
}

}  // namespace
}  // namespace apppass::web

int main() {
  if (sodium_init() < 0) return 1;
  using namespace apppass::web;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unknown_path_404, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_methods, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_csrf_refusals_reach_no_broker, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_signin_posts, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_signin_refused, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_language_choice, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_static_assets, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_share_dir_overrides, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_created_shown_once, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_expired_session, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_list_page, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_setup_flow, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_security_pages, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_threads, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("web_portal", tests, nullptr, nullptr);
}
