// The helpers every page uses (pages.h): the layout, redirects, error pages, form pieces.
#include <string>

#include "csrf.h"
#include "pages.h"
#include "qr_svg.h"

namespace apppass::web {

namespace {

// %-encodes everything but unreserved characters (RFC 3986), for a query value; with
// `keep_slash`, '/' too (for a path).
std::string UrlEncode(std::string_view v, bool keep_slash = false) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The request's path as a link that stays on this site whatever the path is (it is the
// client's: a 404 page is at any path): one leading '/', then the rest %-encoded but for
// '/', its first '/' too. Raw, "//evil.example" would be another host to a browser, and so
// would "/\evil.example" and "/<TAB>/evil.example" (a URL parser drops TAB, CR and LF).
std::string LocalPath(std::string_view path) {
  if (path.starts_with('/')) path.remove_prefix(1);
  std::string out = "/";
  if (path.starts_with('/')) {
    out += "%2F";
    path.remove_prefix(1);
  }
  return out + UrlEncode(path, true);
}

// Where the language links lead: this page again (GET), keeping its query but `lang`.
std::string LangBase(const HttpRequest& req) {
  std::string base = LocalPath(req.path) + "?";
  if (req.method == "GET" || req.method == "HEAD")
    for (const FormField& q : req.query)
      if (q.name != "lang" && !q.is_secret)
        base += UrlEncode(q.name) + "=" + UrlEncode(q.value) + "&";
  return base;
}

}  // namespace

namespace {

HttpResponse Render(PageContext& ctx, int status, Msg title, const std::string& main_html,
                    std::string_view user, bool secret) {
  Layout l;
  l.lang_new_tab = secret;
  l.lang = std::string(LangCode(ctx.lang));
  l.title = ctx.T(title);
  l.site_name = ctx.T(Msg::kSiteName);
  l.signed_in = ctx.signed_in;
  l.user = std::string(user);
  l.nav_passwords = ctx.T(Msg::kNavPasswords);
  l.nav_security = ctx.T(Msg::kNavSecurity);
  l.lang_label = ctx.T(Msg::kLanguage);
  l.lang_base = LangBase(ctx.req);
  l.footer = ctx.T(Msg::kFooter);
  HttpResponse r;
  r.status = status;
  r.body = RenderPage(l, main_html);
  r.secret_body = secret;
  r.cookies = ctx.cookies;
  if (ctx.set_pre) r.cookies.push_back({std::string(kPreCookie), ctx.pre, std::nullopt});
  return r;
}

}  // namespace

HttpResponse Page(PageContext& ctx, int status, Msg title, const std::string& main_html,
                  std::string_view user) {
  return Render(ctx, status, title, main_html, user, false);
}

HttpResponse SecretPage(PageContext& ctx, int status, Msg title, const std::string& main_html,
                        std::string_view user) {
  return Render(ctx, status, title, main_html, user, true);
}

HttpResponse Redirect(PageContext& ctx, std::string_view location) {
  HttpResponse r;
  r.status = 303;
  r.headers.emplace_back("Location", std::string(location));
  r.body = "<!DOCTYPE html>\n<title>303</title>\n<a href=\"" + Escape(location) + "\">" +
           Escape(location) + "</a>\n";
  r.cookies = ctx.cookies;
  if (ctx.set_pre) r.cookies.push_back({std::string(kPreCookie), ctx.pre, std::nullopt});
  return r;
}

HttpResponse MessagePage(PageContext& ctx, int status, Msg title, Msg text) {
  return Page(ctx, status, title,
              "<p>" + ctx.H(text) + "</p>\n<p><a href=\"/\">" + ctx.H(Msg::kBackHome) + "</a></p>");
}

HttpResponse SessionEnded(PageContext& ctx) {
  ctx.cookies.push_back({std::string(kSessionCookie), "", 0});
  return Redirect(ctx, "/signin?notice=ended");
}

HttpResponse BrokerFailure(PageContext& ctx, const BrokerAnswer& a) {
  if (a.unreachable || a.status.code() == Status::Code::kUnavailable)
    return MessagePage(ctx, 503, Msg::kUnavailableTitle, Msg::kUnavailableText);
  if (a.expired()) return SessionEnded(ctx);
  if (a.status.IsNotFound()) return MessagePage(ctx, 404, Msg::kNotFoundTitle, Msg::kNotFoundText);
  return MessagePage(ctx, 500, Msg::kErrorTitle, Msg::kErrorText);
}

std::string CsrfInput(std::string_view token) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + Escape(token) + "\">\n";
}

std::string SessionCsrf(const PageContext& ctx) { return CsrfForSession(ctx.session); }

std::string Notice(std::string_view id, std::string_view text) {
  return "<p id=\"" + Escape(id) + "\" class=\"notice\" role=\"status\">" + Escape(text) + "</p>\n";
}

std::string ErrorText(std::string_view id, std::string_view text) {
  return "<p id=\"" + Escape(id) + "\" class=\"error\" role=\"alert\">" + Escape(text) + "</p>\n";
}

std::string FieldHtml(const Field& f) {
  const std::string raw_id = f.id.empty() ? f.name : f.id;
  const std::string id = Escape(raw_id);
  const std::string error_id = f.error_id.empty() ? raw_id + "-error" : f.error_id;
  std::string described;
  if (!f.hint.empty()) described += raw_id + "-hint";
  if (!f.error.empty()) described += (described.empty() ? "" : " ") + error_id;
  std::string o =
      "<div class=\"field\">\n<label for=\"" + id + "\">" + Escape(f.label) + "</label>\n";
  if (!f.hint.empty()) o += "<p id=\"" + id + "-hint\" class=\"hint\">" + Escape(f.hint) + "</p>\n";
  o += "<input id=\"" + id + "\" name=\"" + Escape(f.name) + "\" type=\"" + Escape(f.type) + "\"";
  if (!f.autocomplete.empty()) o += " autocomplete=\"" + Escape(f.autocomplete) + "\"";
  if (!described.empty()) o += " aria-describedby=\"" + Escape(described) + "\"";
  if (!f.value.empty()) o += " value=\"" + Escape(f.value) + "\"";
  if (!f.error.empty()) o += " aria-invalid=\"true\"";
  o += " required" + f.extra + ">\n";
  if (!f.error.empty())
    o += "<p id=\"" + Escape(error_id) + "\" class=\"error\" role=\"alert\">" + Escape(f.error) +
         "</p>\n";
  o += "</div>\n";
  return o;
}

std::string CodeField(const PageContext& ctx, Msg label, std::string_view error) {
  return FieldHtml({.name = "code",
                    .label = ctx.T(label),
                    .type = "text",
                    .autocomplete = "one-time-code",
                    .hint = {},
                    .error = std::string(error),
                    .extra = " inputmode=\"text\" autocapitalize=\"none\" spellcheck=\"false\" "
                             "maxlength=\"64\"",
                    .error_id = "error",
                    .value = {},
                    .id = {}});
}

std::string GroupKey(std::string_view key) {
  std::string out;
  std::size_t n = 0;
  for (char c : key) {
    if (c == ' ' || c == '-') continue;
    if (n > 0 && n % 4 == 0) out += ' ';
    out += c;
    ++n;
  }
  return out;
}

std::string EnrollmentHtml(const PageContext& ctx, const EnrollResult& e) {
  std::string o = "<p>" + ctx.H(Msg::kScanIntro) + "</p>\n<figure id=\"qr\" class=\"qr\">\n";
  o += QrSvg(e.uri.view(), ctx.T(Msg::kQrLabel));
  o += "\n</figure>\n<p class=\"key\"><span class=\"label\">" + ctx.H(Msg::kKeyLabel) +
       "</span>\n<code id=\"secret\" class=\"secret\">";
  std::string grouped = GroupKey(e.secret.view());
  AppendEscaped(grouped, &o);
  WipeString(grouped);
  o += "</code></p>\n";
  return o;
}

std::string RecoveryCodesHtml(const std::vector<SecretBuffer>& codes) {
  std::string o = "<ul id=\"recovery-codes\" class=\"codes\">\n";
  for (const SecretBuffer& c : codes) {
    o += "<li><code>";
    AppendEscaped(c.view(), &o);
    o += "</code></li>\n";
  }
  o += "</ul>\n";
  return o;
}

}  // namespace apppass::web
