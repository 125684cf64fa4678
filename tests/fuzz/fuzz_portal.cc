// libFuzzer target: the request handling apppass-web writes itself, above the parsing
// (tools/apppass-web/portal.h): the router, the CSRF checks, the choice of language, the
// redirects and every page's handling of a broker that does not answer. The input is a
// request; it is parsed as the server parses it (ParseForm, RequestCookies, ClientAddress:
// fuzz_http's part) and given to Portal::Handle twice, on a Portal whose broker socket
// does not exist: every broker call fails at once, closed (no fake broker: what the pages
// do with the broker's answers is the browser and unit tests' part).
//
// Input: one directive per line, "key=value", the value raw bytes to the end of the line
// (unknown lines ignored; a later line of the same key wins, but the header lines add up):
//   method=GET        default GET (anything: the server itself answers 405 to methods
//                     other than GET, HEAD, POST, but Handle must cope)
//   path=/signin      default "/" (anything, though the server only passes a path that
//                     starts with '/', has no NUL and is valid UTF-8)
//   query=a=b&c=d     the query string (ParseForm, 64 fields; refused: the server's 400,
//                     the input is dropped)
//   form=user=alice   the POST body, likewise
//   cookie=...        a Cookie header (as header=cookie:...)
//   accept-language=  an Accept-Language header
//   xff=...           an X-Forwarded-For header
//   header=NAME:VALUE any header (the name lower-cased; a repeated header keeps its first
//                     value, Cookie and X-Forwarded-For are joined, as the server does)
//   peer=ADDR         the peer address (default 127.0.0.1; 127.0.0.1 is a trusted proxy)
//   insecure=1        --insecure-http: cookies as RequestCookies shows them in that mode
// In any value: {S} a session token (64 hex digits), {s} its CSRF token (CsrfForSession),
// {O} and {o} another session's, {P} a pre-sign-in token (32 hex digits), {I} a pending
// sign-in token, {R<c>} path number c % 18 of the URL contract (the router's 15, "/",
// "/healthz", "/static/copy.js"), {M} the marker <zz"zz'zz>zz, which must never appear
// unescaped in a page.
//
// Checked on every response (a model of the router's rules, stated apart from
// portal.cc, from docs/design.md "apppass-web's pages"):
//   - the status is exactly the model's: 404 unknown path; 405 (with the right Allow) for
//     a method the path does not take; 303 to the path's page for a GET of a POST-only
//     path, to /signin for a signed-in page without a session cookie; 403 for a POST whose
//     csrf is missing or wrong (the session's CsrfForSession on signed-in routes, the
//     __Host-apppass-pre cookie on signed-out ones); else what the page does without a
//     broker: its form (200, or 400 when a field is missing), a 303 when the pending
//     sign-in cookie is missing, and 503 wherever it had to ask the broker
//   - a redirect's Location is exactly the model's, a local path ('/', not "//" or "/\");
//     every href, src and action in a body is local too (after dropping TAB, CR and LF,
//     as a browser's URL parser does)
//   - Set-Cookie only for the portal's four names, each one FormatSetCookie accepts (else
//     the server would answer 500), exactly the model's: the language cookie for a valid
//     ?lang=, a new pre-sign-in token on the signed-out forms' GET when there is no valid
//     one, the pending sign-in cookie dropped when it has expired, the session cookie
//     dropped at sign-out; never a session or sign-in token (only the broker makes those)
//   - only the extra headers Location and Allow, no CR, LF or NUL in a value; cacheable
//     only for a static asset; no secret_body (nothing secret without a broker)
//   - in every page: <html lang> is the model's language (?lang= > cookie >
//     Accept-Language > en); no "<script" but <script src="/static/copy.js"></script>;
//     the marker never unescaped; every POST form carries exactly one csrf field, with the
//     token its POST is checked against
//   - the second call answers the same (a new pre-sign-in token aside)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "address.h"
#include "cookies.h"
#include "csrf.h"
#include "fuzz_util.h"
#include "http.h"
#include "portal.h"

#ifndef APPPASS_WEB_LOCALE_DIR
#error "APPPASS_WEB_LOCALE_DIR: the build's translation catalogues (tests/fuzz/CMakeLists.txt)"
#endif

namespace {

namespace web = apppass::web;
using fuzzutil::Fail;
using fuzzutil::Show;

// --- The portal's contract, stated apart from portal.cc and pages.h ---

constexpr std::string_view kSession = "__Host-apppass-session";
constexpr std::string_view kSignin = "__Host-apppass-signin";
constexpr std::string_view kPre = "__Host-apppass-pre";
constexpr std::string_view kLang = "apppass-lang";
constexpr long kLangLife = 365L * 24 * 3600;

enum class Token { kNone, kPre, kSession };

struct RouteRule {
  std::string_view path;
  bool get, post;
  Token csrf;
  bool session;               // GET without a session cookie: 303 /signin
  std::string_view fallback;  // POST-only: where a GET goes
};

// docs/design.md, the URL contract.
constexpr RouteRule kRules[] = {
    {"/signin", true, true, Token::kPre, false, {}},
    {"/signin/code", true, true, Token::kPre, false, {}},
    {"/setup", true, false, Token::kPre, false, {}},
    {"/setup/start", false, true, Token::kPre, false, "/setup"},
    {"/setup/confirm", false, true, Token::kPre, false, "/setup"},
    {"/setup/done", false, true, Token::kSession, true, "/passwords"},
    {"/passwords", true, false, Token::kNone, true, {}},
    {"/passwords/revoke", true, true, Token::kSession, true, {}},
    {"/passwords/new", true, true, Token::kSession, true, {}},
    {"/passwords/created", true, false, Token::kNone, true, {}},
    {"/security", true, false, Token::kNone, true, {}},
    {"/security/recovery-codes", false, true, Token::kSession, true, "/security"},
    {"/security/authenticator", false, true, Token::kSession, true, "/security"},
    {"/security/authenticator/confirm", false, true, Token::kSession, true, "/security"},
    {"/signout", false, true, Token::kSession, true, "/security"},
};
constexpr std::string_view kOtherPaths[] = {"/", "/healthz", "/static/copy.js"};
constexpr std::size_t kPathCount = std::size(kRules) + std::size(kOtherPaths);

std::string_view PathNumber(unsigned char c) {
  const std::size_t i = c % kPathCount;
  return i < std::size(kRules) ? kRules[i].path : kOtherPaths[i - std::size(kRules)];
}

const RouteRule* RuleOf(std::string_view path) {
  for (const RouteRule& r : kRules)
    if (r.path == path) return &r;
  return nullptr;
}

bool IsHex(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The fixed tokens of the directives.
const std::string kTokenA(64, 'a');
const std::string kTokenB = std::string(32, '0') + std::string(32, 'f');
const std::string kPreToken = "0123456789abcdef0123456789abcdef";
const std::string kSigninToken = std::string(60, '5') + "beef";
constexpr std::string_view kMarker = "<zz\"zz'zz>zz";
// What the marker may never be in a body: each of its special bytes raw.
constexpr std::string_view kRawMarks[] = {"<zz", "zz\"zz", "zz'zz", "zz>zz"};

std::string Expand(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '{' && i + 2 < v.size() && v[i + 2] == '}') {
      switch (v[i + 1]) {
        case 'S': out += kTokenA; break;
        case 's': out += web::CsrfForSession(kTokenA); break;
        case 'O': out += kTokenB; break;
        case 'o': out += web::CsrfForSession(kTokenB); break;
        case 'P': out += kPreToken; break;
        case 'I': out += kSigninToken; break;
        case 'M': out += kMarker; break;
        default: out.append(v.substr(i, 3)); break;
      }
      i += 2;
    } else if (v.substr(i).starts_with("{R") && i + 3 < v.size() && v[i + 3] == '}') {
      out += PathNumber(static_cast<unsigned char>(v[i + 2]));
      i += 3;
    } else {
      out += v[i];
    }
  }
  return out;
}

// --- What the model expects ---

struct Want {
  int status = 0;
  std::string location;              // 303 only
  std::string allow;                 // 405 only
  std::vector<std::string> cookies;  // names, in any order
  bool page = false;                 // a full page (<html lang>)
  std::string lang;                  // its language
};

struct Facts {
  bool session = false, signin = false, pre = false;  // valid-looking cookies
  std::string session_token, pre_token;
  std::string lang;  // the model's language
  bool lang_cookie = false;
};

Facts FactsOf(const web::HttpRequest& req) {
  Facts f;
  auto cookie = [&](std::string_view name) -> const std::string* {
    auto it = req.cookies.find(std::string(name));
    return it == req.cookies.end() ? nullptr : &it->second;
  };
  if (const std::string* s = cookie(kSession); s && IsHex(*s, 64)) {
    f.session = true;
    f.session_token = *s;
  }
  if (const std::string* s = cookie(kSignin); s && IsHex(*s, 64)) f.signin = true;
  if (const std::string* s = cookie(kPre); s && IsHex(*s, 32)) {
    f.pre = true;
    f.pre_token = *s;
  }
  auto known = [](std::string_view l) { return l == "en" || l == "ro" || l == "it"; };
  for (const web::FormField& q : req.query) {
    if (q.name != "lang" || q.is_secret) continue;
    if (known(q.value)) {
      f.lang = q.value;
      f.lang_cookie = true;
    }
    break;  // the first
  }
  if (f.lang.empty())
    if (const std::string* c = cookie(kLang); c && known(*c)) f.lang = *c;
  if (f.lang.empty()) {
    auto it = req.headers.find("accept-language");
    if (it != req.headers.end()) f.lang = web::PickLanguage(it->second, {"en", "ro", "it"});
    if (!known(f.lang)) f.lang = "en";
  }
  return f;
}

const std::string* FormValue(const web::HttpRequest& req, std::string_view name) {
  for (const web::FormField& f : req.form)
    if (f.name == name && !f.is_secret) return &f.value;
  return nullptr;
}

bool HasSecret(const web::HttpRequest& req, std::string_view name) {
  for (const web::FormField& f : req.form)
    if (f.name == name && f.is_secret) return f.secret.size() > 0;
  return false;
}

Want Model(const web::HttpRequest& req, const Facts& f) {
  Want w;
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  const std::string& path = req.path;
  if (path == "/healthz") {
    w.status = get ? 200 : 405;
    if (!get) w.allow = "GET, HEAD";
    return w;
  }
  if (path.starts_with("/static/")) {
    const std::string_view name = std::string_view(path).substr(8);
    w.status = !get                                                               ? 405
               : (name == "style.css" || name == "copy.js" || name == "icon.svg") ? 200
                                                                                  : 404;
    if (!get) w.allow = "GET, HEAD";
    return w;
  }
  // Every other answer is the router's: the language cookie, a page or a redirect.
  if (f.lang_cookie) w.cookies.emplace_back(kLang);
  w.lang = f.lang;
  auto redirect = [&](std::string_view to) {
    w.status = 303;
    w.location = std::string(to);
    return w;
  };
  auto page = [&](int status) {
    w.status = status;
    w.page = true;
    return w;
  };
  if (path == "/") {
    if (!get) {
      w.allow = "GET, HEAD";
      return page(405);
    }
    return redirect(f.session ? "/passwords" : "/signin");
  }
  const RouteRule* r = RuleOf(path);
  if (r == nullptr) return page(404);
  if (get && !r->get) return redirect(r->fallback);
  if (get) {
    if (r->session && !f.session) return redirect("/signin");
    if (r->csrf == Token::kPre && !f.pre) w.cookies.emplace_back(kPre);
    if (path == "/signin") return page(200);
    if (path == "/signin/code" || path == "/setup")
      return f.signin ? page(200) : redirect("/signin");
    return page(503);  // the signed-in pages ask the broker first
  }
  if (!post || !r->post) {
    w.allow = r->get ? (r->post ? "GET, HEAD, POST" : "GET, HEAD") : "POST";
    return page(405);
  }
  const std::string* csrf = FormValue(req, "csrf");
  std::string expected;
  if (r->csrf == Token::kPre && f.pre) expected = f.pre_token;
  if (r->csrf == Token::kSession && f.session) expected = web::CsrfForSession(f.session_token);
  if (csrf == nullptr || expected.empty() || *csrf != expected) return page(403);
  // The POST pages, the broker away.
  auto signin_expired = [&] {
    w.cookies.emplace_back(kSignin);
    return redirect("/signin?notice=expired");
  };
  if (path == "/signin") {
    const std::string* user = FormValue(req, "user");
    return page(user == nullptr || user->empty() || !HasSecret(req, "password") ? 400 : 503);
  }
  if (path == "/signin/code") {
    if (!f.signin) return signin_expired();
    return page(HasSecret(req, "code") ? 503 : 400);
  }
  if (path == "/setup/start") return f.signin ? page(503) : signin_expired();
  if (path == "/setup/confirm") {
    if (!f.signin) return signin_expired();
    return page(HasSecret(req, "code") ? 503 : 400);
  }
  if (path == "/setup/done") return redirect("/passwords");
  if (path == "/passwords/revoke") {
    const std::string* id = FormValue(req, "id");
    return page(id == nullptr || id->empty() ? 404 : 503);
  }
  if (path == "/security/authenticator/confirm") return page(HasSecret(req, "code") ? 503 : 400);
  if (path == "/signout") w.cookies.emplace_back(kSession);
  return page(503);  // /passwords/new, /security/recovery-codes, /security/authenticator
}

// --- Checks on a response ---

std::size_t Count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t i = hay.find(needle); i != std::string_view::npos;
       i = hay.find(needle, i + needle.size()))
    ++n;
  return n;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A URL a browser resolves on our origin: TAB, CR and LF dropped and leading spaces and
// controls trimmed as the URL parser does, then "/..." (not "//" or "/\") or "?...".
bool IsLocal(std::string_view url) {
  std::string u;
  for (char c : url)
    if (c != '\t' && c != '\n' && c != '\r') u += c;
  std::size_t i = 0;
  while (i < u.size() && static_cast<unsigned char>(u[i]) <= 0x20) ++i;
  const std::string_view v = std::string_view(u).substr(i);
  if (v.starts_with("?")) return true;
  return v.starts_with("/") && !v.starts_with("//") && !v.starts_with("/\\");
}

void CheckBody(std::string_view body, const Want& w, const Facts& f, const std::string& new_pre,
               std::string_view what) {
  for (std::string_view m : kRawMarks)
    if (body.find(m) != std::string_view::npos) Fail(std::string(what) + ": raw marker in body");
  const std::string lower = Lower(body);
  constexpr std::string_view kCopyJs = "<script src=\"/static/copy.js\"></script>";
  for (std::size_t i = lower.find("<script"); i != std::string::npos;
       i = lower.find("<script", i + 1))
    if (body.substr(i, kCopyJs.size()) != kCopyJs) Fail(std::string(what) + ": a <script");
  for (std::string_view attr : {" href=\"", " src=\"", " action=\""}) {
    for (std::size_t i = body.find(attr); i != std::string_view::npos; i = body.find(attr, i + 1)) {
      const std::size_t start = i + attr.size();
      const std::size_t end = body.find('"', start);
      if (end == std::string_view::npos) Fail(std::string(what) + ": unterminated attribute");
      const std::string_view url = body.substr(start, end - start);
      if (!IsLocal(url)) Fail(std::string(what) + ": not a local URL: " + Show(url));
    }
  }
  if (!w.page) return;
  const std::string head = "<!DOCTYPE html>\n<html lang=\"" + w.lang + "\">";
  if (!body.starts_with(head)) Fail(std::string(what) + ": not a page in " + w.lang);
  // Every POST form carries exactly one csrf field, the token its POST is checked against.
  const std::size_t forms = Count(body, "<form ");
  const std::size_t csrf_fields = Count(body, "name=\"csrf\"");
  if (forms != csrf_fields) Fail(std::string(what) + ": forms and csrf fields differ");
  constexpr std::string_view kCsrf = "<input type=\"hidden\" name=\"csrf\" value=\"";
  for (std::size_t i = body.find(kCsrf); i != std::string_view::npos; i = body.find(kCsrf, i + 1)) {
    const std::size_t start = i + kCsrf.size();
    const std::string_view token = body.substr(start, body.find('"', start) - start);
    const bool ok = (f.pre && token == f.pre_token) || (!new_pre.empty() && token == new_pre) ||
                    (f.session && token == web::CsrfForSession(f.session_token));
    if (!ok) Fail(std::string(what) + ": a form's csrf token " + Show(token));
  }
}

// Checks one response; returns the new pre-sign-in token it sets, if any.
std::string Check(const web::HttpRequest& req, const web::HttpResponse& r, const Want& w,
                  const Facts& f, bool insecure) {
  const std::string what =
      req.method.substr(0, 20) + " " + Show(req.path) + " -> " + std::to_string(r.status);
  if (r.status < 200 || r.status > 599) Fail(what + ": status out of range");
  if (r.status != w.status) Fail(what + ": the model says " + std::to_string(w.status));
  if (r.secret_body) Fail(what + ": secret_body without a broker");
  if (r.cacheable != (req.path.starts_with("/static/") && r.status == 200))
    Fail(what + ": cacheable");
  if (r.content_type.empty()) Fail(what + ": no Content-Type");
  std::string location, allow;
  for (const auto& [name, value] : r.headers) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      Fail(what + ": CR, LF or NUL in header " + Show(name));
    if (name == "Location" && location.empty()) location = value;
    else if (name == "Allow" && allow.empty()) allow = value;
    else Fail(what + ": header " + Show(name));
  }
  if (location != w.location) Fail(what + ": Location " + Show(location));
  if (!location.empty() && !IsLocal(location)) Fail(what + ": Location not local");
  if (allow != w.allow) Fail(what + ": Allow " + Show(allow));
  if (r.status == 405) {
    if (allow.empty()) Fail(what + ": 405 without Allow");
    if (!req.method.empty() &&
        (", " + allow + ",").find(", " + req.method + ",") != std::string::npos)
      Fail(what + ": 405 allows the method");
  }
  // Cookies.
  std::string new_pre;
  std::multiset<std::string> names, want_names(w.cookies.begin(), w.cookies.end());
  for (const web::SetCookie& c : r.cookies) {
    names.insert(c.name);
    if (web::FormatSetCookie(c, insecure).empty() || web::FormatSetCookie(c, !insecure).empty())
      Fail(what + ": Set-Cookie the server cannot send: " + Show(c.name));
    if (c.name == kLang) {
      if (c.max_age != kLangLife || c.value != f.lang) Fail(what + ": language cookie");
    } else if (c.name == kPre) {
      if (c.max_age || !IsHex(c.value, 32) || c.value == f.pre_token)
        Fail(what + ": pre-sign-in cookie " + Show(c.value));
      new_pre = c.value;
    } else if (c.name == kSession || c.name == kSignin) {
      if (!c.value.empty() || c.max_age != 0) Fail(what + ": a token set without a broker");
    } else {
      Fail(what + ": Set-Cookie of another name " + Show(c.name));
    }
  }
  if (names != want_names) Fail(what + ": the cookies set are not the model's");
  if (!req.path.starts_with("/static/")) CheckBody(r.body, w, f, new_pre, what);
  return new_pre;
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  for (std::size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size()))
    s.replace(i, from.size(), to);
  return s;
}

bool Same(const web::HttpResponse& a, const std::string& pre_a, const web::HttpResponse& b,
          const std::string& pre_b) {
  if (a.status != b.status || a.content_type != b.content_type || a.headers != b.headers ||
      a.cacheable != b.cacheable || a.secret_body != b.secret_body ||
      a.cookies.size() != b.cookies.size())
    return false;
  for (std::size_t i = 0; i < a.cookies.size(); ++i) {
    const bool pre = a.cookies[i].name == kPre;
    if (a.cookies[i].name != b.cookies[i].name || a.cookies[i].max_age != b.cookies[i].max_age ||
        (!pre && a.cookies[i].value != b.cookies[i].value))
      return false;
  }
  return Replace(a.body, pre_a, "{pre}") == Replace(b.body, pre_b, "{pre}");
}

// --- The portal ---

web::Portal* ThePortal() {
  static web::Portal* portal = [] {
    web::PortalConfig c;
    c.broker_socket = "/nonexistent/apppass-fuzz-portal/apppassd.sock";
    c.share_dir = "/nonexistent/apppass-fuzz-portal/share";  // the built-in assets
    c.locale_dir = APPPASS_WEB_LOCALE_DIR;
    c.imap_host = "imap.example.org";
    c.smtp_host = "smtp.example.org";
    auto* p = new web::Portal(c);  // never freed: process-wide
    if (apppass::Status s = p->Init(); !s.ok()) {
      std::fprintf(stderr, "Portal::Init: %s\n", std::string(s.summary()).c_str());
      std::abort();
    }
    return p;
  }();
  return portal;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ThePortal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  web::HttpRequest req;
  req.method = "GET";
  req.path = "/";
  std::string query, form, peer = "127.0.0.1";
  bool has_form = false, insecure = false;
  std::vector<std::pair<std::string, std::string>> headers;
  for (std::size_t pos = 0; pos <= in.size();) {
    std::size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    const std::string_view line = in.substr(pos, nl - pos);
    pos = nl + 1;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, eq);
    const std::string value = Expand(line.substr(eq + 1));
    if (key == "method") req.method = value;
    else if (key == "path") req.path = value;
    else if (key == "query") query = value;
    else if (key == "form") form = value, has_form = true;
    else if (key == "cookie") headers.emplace_back("cookie", value);
    else if (key == "accept-language") headers.emplace_back("accept-language", value);
    else if (key == "xff") headers.emplace_back("x-forwarded-for", value);
    else if (key == "peer") peer = value;
    else if (key == "insecure") insecure = !value.empty();
    else if (key == "header") {
      const std::size_t colon = value.find(':');
      if (colon != std::string::npos) {
        std::size_t v = colon + 1;  // libmicrohttpd drops the spaces after the colon
        while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
        headers.emplace_back(Lower(value.substr(0, colon)), value.substr(v));
      }
    }
  }
  // As the server builds the request (server_request.cc, Finish and HeaderIterator).
  if (!web::ParseForm(query, 64, &req.query)) return 0;
  if (has_form && !web::ParseForm(form, 64, &req.form)) return 0;
  for (auto& [name, value] : headers) {
    auto [it, inserted] = req.headers.emplace(name, value);
    if (!inserted && name == "x-forwarded-for") it->second.append(", ").append(value);
    else if (!inserted && name == "cookie") it->second.append("; ").append(value);
  }
  if (const std::string* cookie = req.Header("cookie"))
    req.cookies = web::RequestCookies(*cookie, insecure);
  req.client = web::ClientAddress(peer, req.Header("x-forwarded-for"), {"127.0.0.1"});

  const Facts f = FactsOf(req);
  const Want w = Model(req, f);
  web::Portal* portal = ThePortal();
  const web::HttpResponse a = portal->Handle(req);
  const std::string pre_a = Check(req, a, w, f, insecure);
  const web::HttpResponse b = portal->Handle(req);
  const std::string pre_b = Check(req, b, w, f, insecure);
  if (!Same(a, pre_a, b, pre_b)) Fail("Handle answered twice differently: " + Show(req.path));
  return 0;
}
