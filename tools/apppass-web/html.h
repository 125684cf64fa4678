// HTML for the portal's pages: the one escaping function every value goes through, and
// the layout every page shares (header, nav#lang, main, footer). No inline script or
// style anywhere (the CSP is default-src 'self'): the page links /static/style.css only.
// Thread-safety: pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace apppass::web {

// `text` escaped for HTML text and for a double-quoted attribute value: & < > " ' become
// entities. Bytes that are not valid UTF-8 and C0 controls other than TAB, LF and CR
// become U+FFFD, so what is shown is what was meant and nothing reaches the parser raw.
std::string Escape(std::string_view text);
// Appends Escape(text) to *out.
void AppendEscaped(std::string_view text, std::string* out);

// What the layout shows around a page's main content; every field is plain text (escaped
// here) but for main_html, which the page built from escaped pieces.
struct Layout {
  std::string lang = "en";    // <html lang>, and the current entry of nav#lang
  std::string title;          // <title> and the page's <h1>
  std::string site_name;      // the header's name ("App passwords")
  bool signed_in = false;     // the header links to the signed-in pages
  std::string user;           // the signed-in user's name (may be empty when signed in)
  std::string nav_passwords;  // header links when signed in (text)
  std::string nav_security;   //
  std::string lang_label;     // aria-label of nav#lang ("Language")
  bool lang_new_tab = false;  // language links open a new tab (a page shown only once)
  std::string lang_base;      // path (and query, without lang) the language links keep
  std::string footer;         // footer text
};

// The whole document: <!DOCTYPE html>, <html lang>, head (charset, viewport, title,
// stylesheet, icon), header, nav#lang (links ?lang=en|ro|it), <main> with the <h1> and
// `main_html`, footer.
std::string RenderPage(const Layout& layout, std::string_view main_html);

}  // namespace apppass::web
