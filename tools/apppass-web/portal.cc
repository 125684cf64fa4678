// The router of the portal (portal.h): one table maps the URL contract (docs/design.md
// "apppass-web's pages") to the pages, with what each needs. Before a page runs, the
// router has chosen the language, read the cookies, refused a wrong method and, for a
// POST, checked the CSRF token: a refusal here never reaches the broker.
#include "portal.h"

#include <sodium.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "csrf.h"
#include "pages.h"
#include "static_assets.h"  // generated at build time from static/ (CMakeLists.txt)

namespace apppass::web {

namespace {

enum class Csrf { kNone, kPre, kSession };

using PageFn = HttpResponse (*)(PageContext&);

struct Route {
  std::string_view path;
  PageFn get;          // nullptr: no GET (see get_fallback)
  PageFn post;         // nullptr: no POST
  Csrf csrf;           // what a POST's csrf field must equal (kPre: a GET makes the token)
  bool needs_session;  // no session cookie: 303 /signin (GET)
  std::string_view get_fallback;  // a POST-only path: where a GET (a language link) goes
};

// clang-format off
constexpr Route kRoutes[] = {
  // path                              GET           POST                      csrf            session fallback
  {"/signin",                          GetSignin,    PostSignin,               Csrf::kPre,     false,  {}},
  {"/signin/code",                     GetCode,      PostCode,                 Csrf::kPre,     false,  {}},
  {"/setup",                           GetSetup,     nullptr,                  Csrf::kPre,     false,  {}},
  {"/setup/start",                     nullptr,      PostSetupStart,           Csrf::kPre,     false,  "/setup"},
  {"/setup/confirm",                   nullptr,      PostSetupConfirm,         Csrf::kPre,     false,  "/setup"},
  {"/setup/done",                      nullptr,      PostSetupDone,            Csrf::kSession, true,   "/passwords"},
  {"/passwords",                       GetPasswords, nullptr,                  Csrf::kNone,    true,   {}},
  {"/passwords/revoke",                GetRevoke,    PostRevoke,               Csrf::kSession, true,   {}},
  {"/passwords/new",                   GetNew,       PostNew,                  Csrf::kSession, true,   {}},
  {"/passwords/created",               GetCreated,   nullptr,                  Csrf::kNone,    true,   {}},
  {"/security",                        GetSecurity,  nullptr,                  Csrf::kNone,    true,   {}},
  {"/security/recovery-codes",         nullptr,      PostRecoveryCodes,        Csrf::kSession, true,   "/security"},
  {"/security/authenticator",          nullptr,      PostAuthenticator,        Csrf::kSession, true,   "/security"},
  {"/security/authenticator/confirm",  nullptr,      PostAuthenticatorConfirm, Csrf::kSession, true,   "/security"},
  {"/signout",                         nullptr,      PostSignout,              Csrf::kSession, true,   "/security"},
};
// clang-format on

struct Asset {
  std::string name;          // "style.css"
  std::string content_type;  //
  std::string body;
};

std::string ContentTypeOf(std::string_view name) {
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// A pre-sign-in token as NewPreSigninToken makes them: 32 lower-case hex digits.
bool IsPreToken(std::string_view t) {
  if (t.size() != 32) return false;
  for (char c : t)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string CookieToken(const HttpRequest& req, std::string_view name) {
  const std::string* v = req.Cookie(name);
  return v != nullptr && IsToken(*v) ? *v : std::string();
}

}  // namespace

struct Portal::Impl {
  explicit Impl(PortalConfig c) : config(std::move(c)), broker(config.broker_socket) {}

  PortalConfig config;
  PortalBroker broker;
  Catalog catalog;
  CreatedStore created;
  std::vector<Asset> assets;

  Lang ChooseLang(const HttpRequest& req, std::vector<SetCookie>* cookies) const;
  HttpResponse Route(const HttpRequest& req);
  HttpResponse Static(const HttpRequest& req, std::string_view name) const;
};

Portal::Portal(PortalConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Portal::~Portal() = default;

Status Portal::Init() {
  if (sodium_init() < 0) return Status::Unavailable("libsodium cannot start");
  if (Status s = InitCsrf(); !s.ok()) return s;
  if (Status s = impl_->catalog.Load(impl_->config.locale_dir); !s.ok()) return s;
  impl_->assets.clear();
  for (const assets::Embedded& e : assets::kEmbedded) {
    Asset a{.name = e.name,
            .content_type = ContentTypeOf(e.name),
            .body = std::string(reinterpret_cast<const char*>(e.data), e.size)};
    // A file of the same name in share_dir/static overrides the built-in one.
    const std::string path = impl_->config.share_dir + "/static/" + a.name;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
      if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20))
        return Status::Unavailable(path + ": not a regular file of at most 1 MiB");
      std::ifstream in(path, std::ios::binary);
      std::ostringstream buf;
      buf << in.rdbuf();
      if (!in && !in.eof()) return Status::Unavailable("cannot read " + path);
      a.body = buf.str();
    }
    impl_->assets.push_back(std::move(a));
  }
  return Status::Ok();
}

Lang Portal::Impl::ChooseLang(const HttpRequest& req, std::vector<SetCookie>* cookies) const {
  Lang lang = Lang::kEn;
  if (const std::string* q = req.Query("lang"); q != nullptr && LangFromCode(*q, &lang)) {
    cookies->push_back({std::string(kLangCookie), *q, kLangCookieLife});
    return lang;
  }
  if (const std::string* c = req.Cookie(kLangCookie); c != nullptr && LangFromCode(*c, &lang))
    return lang;
  const std::string* accept = req.Header("accept-language");
  if (accept != nullptr && LangFromCode(PickLanguage(*accept, LangCodes()), &lang)) return lang;
  return Lang::kEn;
}

HttpResponse Portal::Impl::Static(const HttpRequest& req, std::string_view name) const {
  for (const Asset& a : assets) {
    if (a.name != name) continue;
    HttpResponse r;
    r.content_type = a.content_type;
    r.body = req.method == "HEAD" ? std::string() : a.body;
    r.cacheable = true;
    return r;
  }
  HttpResponse r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "not found\n";
  return r;
}

HttpResponse Portal::Impl::Route(const HttpRequest& req) {
  const bool is_get = req.method == "GET" || req.method == "HEAD";
  const bool is_post = req.method == "POST";
  // For monitors and the load balancer: the program answers (asks the broker nothing).
  if (req.path == "/healthz") {
    HttpResponse r{.status = is_get ? 200 : 405, .content_type = "text/plain; charset=utf-8"};
    r.body = is_get ? "apppass-web\n" : "method not allowed\n";
    if (!is_get) r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (req.path.starts_with("/static/")) {
    if (!is_get) {
      HttpResponse r{.status = 405, .content_type = "text/plain; charset=utf-8"};
      r.body = "method not allowed\n";
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    return Static(req, std::string_view(req.path).substr(8));
  }
  PageContext ctx{.req = req,
                  .config = config,
                  .catalog = catalog,
                  .broker = broker,
                  .created = created,
                  .lang = Lang::kEn,
                  .session = CookieToken(req, kSessionCookie),
                  .signin = CookieToken(req, kSigninCookie),
                  .pre = {},
                  .set_pre = false,
                  .signed_in = false,
                  .cookies = {}};
  ctx.lang = ChooseLang(req, &ctx.cookies);
  if (const std::string* p = req.Cookie(kPreCookie); p != nullptr && IsPreToken(*p)) ctx.pre = *p;

  if (req.path == "/") {
    if (!is_get) {
      HttpResponse r = MessagePage(ctx, 405, Msg::kNotAllowedTitle, Msg::kNotAllowedText);
      r.headers.emplace_back("Allow", "GET, HEAD");  // a 405 must say what is allowed
      return r;
    }
    return Redirect(ctx, ctx.session.empty() ? "/signin" : "/passwords");
  }
  const web::Route* route = nullptr;
  for (const auto& r : kRoutes)
    if (r.path == req.path) route = &r;
  if (route == nullptr) return MessagePage(ctx, 404, Msg::kNotFoundTitle, Msg::kNotFoundText);
  ctx.signed_in = route->needs_session && !ctx.session.empty();

  if (is_get) {
    if (route->get == nullptr) {
      if (!route->get_fallback.empty()) return Redirect(ctx, route->get_fallback);
    } else {
      if (route->needs_session && ctx.session.empty()) return Redirect(ctx, "/signin");
      // Signed-out forms carry the pre-sign-in token: make one when there is none.
      if (route->csrf == Csrf::kPre && ctx.pre.empty()) {
        ctx.pre = NewPreSigninToken();
        ctx.set_pre = true;
      }
      return route->get(ctx);
    }
  }
  if (!is_post || route->post == nullptr) {
    HttpResponse r = MessagePage(ctx, 405, Msg::kNotAllowedTitle, Msg::kNotAllowedText);
    std::string allow = route->get != nullptr ? "GET, HEAD" : "";
    if (route->post != nullptr) allow += allow.empty() ? "POST" : ", POST";
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  // The CSRF token, before anything else: a refusal sends nothing to the broker.
  bool csrf_ok = false;
  if (route->csrf == Csrf::kPre) csrf_ok = !ctx.pre.empty() && CheckCsrf(req, ctx.pre);
  else if (route->csrf == Csrf::kSession)
    csrf_ok = !ctx.session.empty() && CheckCsrf(req, CsrfForSession(ctx.session));
  if (!csrf_ok) return MessagePage(ctx, 403, Msg::kForbiddenTitle, Msg::kForbiddenText);
  return route->post(ctx);
}

HttpResponse Portal::Handle(const HttpRequest& req) noexcept {
  try {
    return impl_->Route(req);
  } catch (...) {
    HttpResponse r;
    r.status = 500;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "internal error\n";
    return r;
  }
}

}  // namespace apppass::web
