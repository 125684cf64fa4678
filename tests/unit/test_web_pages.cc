// Unit tests of apppass-web's page pieces: the one HTML escaping function and the layout
// (html.h), the translations (i18n.h: every msgid translated in ro and it, the seed's
// words), the QR code SVG (qr_svg.h) and the store of new passwords (created_store.h).
#include <sodium.h>

#include <chrono>
#include <string>
#include <string_view>

#include "created_store.h"
#include "html.h"
#include "i18n.h"
#include "qr_svg.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::web {
namespace {

using namespace std::string_literals;

void test_escape_markup(void**) {
  assert_string_equal(Escape("<script>alert(1)</script>").c_str(),
                      "&lt;script&gt;alert(1)&lt;/script&gt;");
  assert_string_equal(Escape("a\"b'c&d").c_str(), "a&quot;b&#39;c&amp;d");
  assert_string_equal(Escape("\" onmouseover=\"x").c_str(), "&quot; onmouseover=&quot;x");
  assert_string_equal(Escape("").c_str(), "");
}

void test_escape_keeps_utf8(void**) {
  const std::string ro = "Configura\xc8\x9bi-l acum \xe2\x80\x94 \xf0\x9f\x93\xb1";
  assert_string_equal(Escape(ro).c_str(), ro.c_str());
  assert_string_equal(Escape("tab\there\nnew").c_str(), "tab\there\nnew");
}

void test_escape_replaces_bad_bytes(void**) {
  const std::string fffd = "\xef\xbf\xbd";
  assert_string_equal(Escape("a\xff"
                             "b")
                          .c_str(),
                      ("a" + fffd + "b").c_str());
  assert_string_equal(Escape("\xc0\xaf").c_str(), (fffd + fffd).c_str());  // overlong '/'
  assert_string_equal(Escape("\xed\xa0\x80").c_str(),
                      (fffd + fffd + fffd).c_str());  // a surrogate
  assert_string_equal(Escape("x\x01y\x7f"s).c_str(), ("x" + fffd + "y" + fffd).c_str());
  assert_string_equal(Escape("a\0b"s).c_str(), ("a" + fffd + "b").c_str());
  assert_string_equal(Escape("\xe2\x82").c_str(), (fffd + fffd).c_str());  // truncated
}

void test_layout(void**) {
  Layout l;
  l.lang = "ro";
  l.title = "<b>Title</b>";
  l.site_name = "Parole de aplica\xc8\x9bie";
  l.user = "al\"ice";
  l.nav_passwords = "P";
  l.nav_security = "S";
  l.lang_label = "Limba";
  l.lang_base = "/passwords/revoke?id=a&";
  l.footer = "F";
  const std::string page = RenderPage(l, "<p id=\"x\">main</p>");
  assert_true(page.starts_with("<!DOCTYPE html>\n<html lang=\"ro\">"));
  assert_non_null(strstr(page.c_str(), "<h1>&lt;b&gt;Title&lt;/b&gt;</h1>"));
  assert_non_null(strstr(page.c_str(), "al&quot;ice"));
  assert_non_null(strstr(page.c_str(), "<nav id=\"lang\" aria-label=\"Limba\">"));
  for (const char* code : {"en", "ro", "it"}) {
    const std::string href = "href=\"/passwords/revoke?id=a&amp;lang="s + code + "\"";
    assert_non_null(strstr(page.c_str(), href.c_str()));
  }
  assert_non_null(strstr(page.c_str(), "lang=\"ro\" aria-current=\"true\""));
  assert_non_null(strstr(page.c_str(), "<main id=\"main\">"));
  assert_non_null(strstr(page.c_str(), "<footer>"));
  assert_non_null(strstr(page.c_str(), "href=\"/static/style.css\""));
  // CSP default-src 'self': no inline script or style in the layout.
  assert_null(strstr(page.c_str(), "<script"));
  assert_null(strstr(page.c_str(), "style="));
  assert_null(strstr(page.c_str(), "<style"));
}

void test_catalog_complete(void**) {
  Catalog c;
  std::size_t missing = 99;
  ASSERT_OK(c.Load(APPPASS_WEB_LOCALE_DIR, &missing));
  // Every msgid of messages.h has a translation in ro and in it.
  assert_int_equal(missing, 0);
  for (std::size_t i = 0; i < kMessageCount; ++i) {
    const Msg m = static_cast<Msg>(i);
    assert_string_equal(c.Text(Lang::kEn, m).c_str(), kMsgIds[i]);
    assert_false(c.Text(Lang::kRo, m).empty());
    assert_false(c.Text(Lang::kIt, m).empty());
    // Placeholders survive translation.
    const bool has = std::string_view(kMsgIds[i]).find("{}") != std::string_view::npos;
    assert_int_equal(has, c.Text(Lang::kRo, m).find("{}") != std::string::npos);
    assert_int_equal(has, c.Text(Lang::kIt, m).find("{}") != std::string::npos);
  }
}

void test_catalog_seed_words(void**) {
  Catalog c;
  setenv("LANGUAGE", "de", 1);
  ASSERT_OK(c.Load(APPPASS_WEB_LOCALE_DIR));
  // The process's own language settings are left as they were.
  assert_string_equal(getenv("LANGUAGE"), "de");
  unsetenv("LANGUAGE");
  assert_string_equal(c.Text(Lang::kEn, Msg::kSetItUpNow).c_str(), "Set it up now");
  assert_string_equal(c.Text(Lang::kRo, Msg::kSetItUpNow).c_str(), "Configura\xc8\x9bi-l acum");
  assert_string_equal(c.Text(Lang::kIt, Msg::kSetItUpNow).c_str(), "Configura ora");
  assert_string_equal(c.Text(Lang::kRo, Msg::kCopy).c_str(), "Copiere");
  assert_string_equal(c.Text(Lang::kIt, Msg::kCopy).c_str(), "Copia");
  assert_string_equal(c.Text(Lang::kRo, Msg::kNext).c_str(), "Urm\xc4\x83torul");
  assert_string_equal(c.Text(Lang::kIt, Msg::kNext).c_str(), "Avanti");
  assert_string_equal(c.Text(Lang::kRo, Msg::kSiteName).c_str(), "Parole de aplica\xc8\x9bie");
  assert_string_equal(c.Text(Lang::kIt, Msg::kSiteName).c_str(), "Password delle app");
}

void test_catalog_missing_dir(void**) {
  Catalog c;
  const Status s = c.Load("/nonexistent/locale");
  assert_int_equal(s.code(), Status::Code::kUnavailable);
  assert_string_equal(c.Text(Lang::kRo, Msg::kCopy).c_str(), "Copy");
}

void test_langs_and_fill(void**) {
  Lang l = Lang::kEn;
  assert_true(LangFromCode("ro", &l));
  assert_int_equal(static_cast<int>(l), static_cast<int>(Lang::kRo));
  assert_false(LangFromCode("RO", &l));
  assert_false(LangFromCode("de", &l));
  assert_string_equal(LangCodes()[0].c_str(), "en");
  assert_string_equal(Fill("For: {} ({})", {"<x>", "y"}).c_str(), "For: &lt;x&gt; (y)");
  assert_string_equal(Fill("{} & {}", {"a"}).c_str(), "a &amp; ");
}

void test_qr_svg(void**) {
  const std::string uri =
      "otpauth://totp/mail:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=mail";
  const std::string svg = QrSvg(uri, "QR \"code\"");
  assert_true(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
  assert_true(svg.ends_with("</path></svg>") || svg.ends_with("\"/></svg>"));
  assert_non_null(strstr(svg.c_str(), "aria-label=\"QR &quot;code&quot;\""));
  // One <path>, one <rect>; the path data only moves and draws unit-high runs.
  std::size_t paths = 0, pos = 0;
  while ((pos = svg.find("<path", pos)) != std::string::npos) ++paths, ++pos;
  assert_int_equal(paths, 1);
  const std::size_t d = svg.find(" d=\"");
  assert_true(d != std::string::npos);
  const std::size_t end = svg.find('"', d + 4);
  const std::string data = svg.substr(d + 4, end - d - 4);
  assert_false(data.empty());
  for (char c : data) assert_non_null(strchr("Mhvz-0123456789 ", c));
  // The viewBox is the symbol plus a quiet zone of 4 on each side: a version-4+ code here.
  const int size =
      atoi(svg.c_str() + strlen("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
  assert_true(size >= 21 + 8 && (size - 8 - 17) % 4 == 0);
  // Tags balance: <svg ...> ... </svg> with self-closed children.
  assert_int_equal(svg.find("</svg>"), svg.size() - 6);
  assert_null(strstr(svg.c_str(), "<script"));
}

void test_created_store_once(void**) {
  CreatedStore store(4, std::chrono::seconds(120));
  const auto now = CreatedStore::Clock::now();
  const std::string token(64, 'a'), other(64, 'b');
  CreatedPassword p;
  p.name = "phone";
  p.password = SecretBuffer(32);
  assert_true(p.password.assign("abcd-efgh-jkmn-pqrs-tuvw"));
  store.Put(token, std::move(p), now);
  CreatedPassword out;
  assert_false(store.Take(other, now, &out));  // another session's: nothing
  assert_true(store.Take(token, now, &out));
  assert_string_equal(std::string(out.password.view()).c_str(), "abcd-efgh-jkmn-pqrs-tuvw");
  assert_false(store.Take(token, now, &out));  // once
}

void test_created_store_expires_and_bounds(void**) {
  CreatedStore store(3, std::chrono::seconds(120));
  const auto now = CreatedStore::Clock::now();
  CreatedPassword out;
  store.Put(std::string(64, 'a'), CreatedPassword{}, now);
  assert_false(store.Take(std::string(64, 'a'), now + std::chrono::seconds(121), &out));
  for (char c : {'1', '2', '3', '4', '5'})
    store.Put(std::string(64, c), CreatedPassword{}, now + std::chrono::seconds(c - '0'));
  assert_int_equal(store.size(), 3);  // the oldest dropped
  assert_false(store.Take(std::string(64, '1'), now + std::chrono::seconds(6), &out));
  assert_true(store.Take(std::string(64, '5'), now + std::chrono::seconds(6), &out));
}

}  // namespace
}  // namespace apppass::web

int main() {
  if (sodium_init() < 0) return 1;
  using namespace apppass::web;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_markup),
      cmocka_unit_test(test_escape_keeps_utf8),
      cmocka_unit_test(test_escape_replaces_bad_bytes),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_catalog_complete),
      cmocka_unit_test(test_catalog_seed_words),
      cmocka_unit_test(test_catalog_missing_dir),
      cmocka_unit_test(test_langs_and_fill),
      cmocka_unit_test(test_qr_svg),
      cmocka_unit_test(test_created_store_once),
      cmocka_unit_test(test_created_store_expires_and_bounds),
  };
  return cmocka_run_group_tests_name("web_pages", tests, nullptr, nullptr);
}
