#include "html.h"

#include <cstdint>

namespace apppass::web {

namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points over U+10FFFF are not valid).
std::size_t Utf8Length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  const std::uint8_t c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

}  // namespace

void AppendEscaped(std::string_view text, std::string* out) {
  out->reserve(out->size() + text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    switch (c) {
      case '&':
        *out += "&amp;";
        ++i;
        continue;
      case '<':
        *out += "&lt;";
        ++i;
        continue;
      case '>':
        *out += "&gt;";
        ++i;
        continue;
      case '"':
        *out += "&quot;";
        ++i;
        continue;
      case '\'':
        *out += "&#39;";
        ++i;
        continue;
      default: break;
    }
    const auto u = static_cast<std::uint8_t>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
      *out += kReplacement;
      ++i;
      continue;
    }
    const std::size_t n = Utf8Length(text.substr(i));
    if (n == 0) {
      *out += kReplacement;
      ++i;
      continue;
    }
    out->append(text.substr(i, n));
    i += n;
  }
}

std::string Escape(std::string_view text) {
  std::string out;
  AppendEscaped(text, &out);
  return out;
}

std::string RenderPage(const Layout& l, std::string_view main_html) {
  std::string o;
  o.reserve(2048 + main_html.size());
  o += "<!DOCTYPE html>\n<html lang=\"";
  AppendEscaped(l.lang, &o);
  o += "\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"referrer\" content=\"no-referrer\">\n<title>";
  AppendEscaped(l.title, &o);
  o += " \xe2\x80\x94 ";  // em dash
  AppendEscaped(l.site_name, &o);
  o += "</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
       "<link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\">\n</head>\n<body>\n"
       "<header>\n<p class=\"site\">";
  AppendEscaped(l.site_name, &o);
  o += "</p>\n";
  if (l.signed_in || !l.user.empty()) {
    o += "<nav id=\"site-nav\">\n";
    if (!l.user.empty()) {
      o += "<span class=\"user\">";
      AppendEscaped(l.user, &o);
      o += "</span>\n";
    }
    o += "<a href=\"/passwords\">";
    AppendEscaped(l.nav_passwords, &o);
    o += "</a>\n<a href=\"/security\">";
    AppendEscaped(l.nav_security, &o);
    o += "</a>\n</nav>\n";
  }
  o += "<nav id=\"lang\" aria-label=\"";
  AppendEscaped(l.lang_label, &o);
  o += "\">\n";
  static constexpr std::pair<std::string_view, std::string_view> kLanguages[] = {
      {"en", "English"}, {"ro", "Rom\xc3\xa2n\xc4\x83"}, {"it", "Italiano"}};
  for (const auto& [code, name] : kLanguages) {
    o += "<a href=\"";
    AppendEscaped(l.lang_base.empty() ? std::string_view("?") : l.lang_base, &o);
    o += "lang=";
    o += code;
    o += "\" hreflang=\"";
    o += code;
    o += "\" lang=\"";
    o += code;
    o += '"';
    if (code == l.lang) o += " aria-current=\"true\"";
    if (l.lang_new_tab) o += " target=\"_blank\" rel=\"noopener\"";
    o += '>';
    o += name;
    o += "</a>\n";
  }
  o += "</nav>\n</header>\n<main id=\"main\">\n<h1>";
  AppendEscaped(l.title, &o);
  o += "</h1>\n";
  o += main_html;
  o += "\n</main>\n<footer>\n<p>";
  AppendEscaped(l.footer, &o);
  o += "</p>\n</footer>\n</body>\n</html>\n";
  return o;
}

}  // namespace apppass::web
