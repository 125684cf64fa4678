// What the pages (pages_*.cc) share: the request's context as the router (portal.cc)
// prepared it, and the helpers that build responses. A page asks the broker and renders;
// the router has already checked the method and the CSRF token.
// Thread-safety: a PageContext belongs to one request; the helpers are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "created_store.h"
#include "html.h"
#include "http.h"
#include "i18n.h"
#include "portal.h"
#include "portal_broker.h"

namespace apppass::web {

// Cookie names (the server strips "__Host-" in insecure_http mode: server.h).
inline constexpr std::string_view kSessionCookie = "__Host-apppass-session";
inline constexpr std::string_view kSigninCookie = "__Host-apppass-signin";
inline constexpr std::string_view kPreCookie = "__Host-apppass-pre";
inline constexpr std::string_view kLangCookie = "apppass-lang";
// Lives of the cookies, seconds: the pending sign-in (the broker's 5 min), the language.
inline constexpr long kSigninCookieLife = 300;
inline constexpr long kLangCookieLife = 365L * 24 * 3600;

struct PageContext {
  const HttpRequest& req;
  const PortalConfig& config;
  const Catalog& catalog;
  const PortalBroker& broker;
  CreatedStore& created;
  Lang lang = Lang::kEn;
  std::string session;             // the session cookie when it looks like a token, else empty
  std::string signin;              // the pending sign-in cookie, likewise
  std::string pre;                 // the pre-sign-in CSRF token (the cookie's, or a new one)
  bool set_pre = false;            // pre is new: set the cookie with the response
  bool signed_in = false;          // a page of a session (the header shows its links)
  std::vector<SetCookie> cookies;  // set with the response (language, ...)

  const std::string& T(Msg m) const { return catalog.Text(lang, m); }
  // T(m), escaped for HTML.
  std::string H(Msg m) const { return Escape(T(m)); }
};

// --- Responses ---
// A page: the layout around `main_html` (status, user shown in the header when not
// empty). Adds ctx.cookies.
HttpResponse Page(PageContext& ctx, int status, Msg title, const std::string& main_html,
                  std::string_view user = {});
// A page that shows a secret once (a new password, recovery codes, a TOTP key): as Page,
// with secret_body set (the server wipes it), and language links that open a new tab, so
// that switching the language does not lose what cannot be shown again.
HttpResponse SecretPage(PageContext& ctx, int status, Msg title, const std::string& main_html,
                        std::string_view user = {});
// 303 to `location` (a path of ours), with ctx.cookies.
HttpResponse Redirect(PageContext& ctx, std::string_view location);
// A short page with one message (403, 404, 405, 500, 503).
HttpResponse MessagePage(PageContext& ctx, int status, Msg title, Msg text);
// The page for a broker answer that is not OK and not handled by the page: unreachable
// -> 503; expired -> the cookie dropped and 303 /signin; not found -> 404; else 500.
HttpResponse BrokerFailure(PageContext& ctx, const BrokerAnswer& a);
// Drops the session cookie and sends the browser to /signin (with a notice).
HttpResponse SessionEnded(PageContext& ctx);

// --- Pieces of pages (return HTML) ---
// <input type="hidden" name="csrf" value="...">.
std::string CsrfInput(std::string_view token);
// The signed-in CSRF token of this request's session.
std::string SessionCsrf(const PageContext& ctx);
// <p id="ID" class="CLASS" role=...>TEXT</p> (text escaped).
std::string Notice(std::string_view id, std::string_view text);
std::string ErrorText(std::string_view id, std::string_view text);
// A labelled text field: label, input (type, name, autocomplete, attributes), its
// error below (id NAME-error, aria-describedby, aria-invalid) when `error` is not empty.
struct Field {
  std::string name, label, type = "text", autocomplete, hint, error, extra;
  std::string error_id;  // the error's id; empty: NAME-error
  std::string value;     // the value to show again (never a secret)
  std::string id;        // the input's id; empty: NAME
};
std::string FieldHtml(const Field& f);
// The verification code field (name "code", one-time-code).
std::string CodeField(const PageContext& ctx, Msg label, std::string_view error);
// The TOTP key in groups of four ("ABCD EFGH ...").
std::string GroupKey(std::string_view key);
// The QR code and #secret for an enrollment (from the otpauth URI and key).
std::string EnrollmentHtml(const PageContext& ctx, const EnrollResult& e);
// <ul id="recovery-codes"><li><code>..</code></li>...</ul>.
std::string RecoveryCodesHtml(const std::vector<SecretBuffer>& codes);

// --- The pages (pages_*.cc) ---
HttpResponse GetSignin(PageContext& ctx);
HttpResponse PostSignin(PageContext& ctx);
HttpResponse GetCode(PageContext& ctx);
HttpResponse PostCode(PageContext& ctx);
HttpResponse PostSignout(PageContext& ctx);
HttpResponse GetSetup(PageContext& ctx);
HttpResponse PostSetupStart(PageContext& ctx);
HttpResponse PostSetupConfirm(PageContext& ctx);
HttpResponse PostSetupDone(PageContext& ctx);
HttpResponse GetPasswords(PageContext& ctx);
HttpResponse GetRevoke(PageContext& ctx);
HttpResponse PostRevoke(PageContext& ctx);
HttpResponse GetNew(PageContext& ctx);
HttpResponse PostNew(PageContext& ctx);
HttpResponse GetCreated(PageContext& ctx);
HttpResponse GetSecurity(PageContext& ctx);
HttpResponse PostRecoveryCodes(PageContext& ctx);
HttpResponse PostAuthenticator(PageContext& ctx);
HttpResponse PostAuthenticatorConfirm(PageContext& ctx);

}  // namespace apppass::web
