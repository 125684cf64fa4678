// Signing in: GET/POST /signin (user and password: SIGNIN), GET/POST /signin/code (the
// TOTP or recovery code: SIGNIN_CODE, which opens the session), POST /signout.
// Signed out, forms carry the pre-sign-in CSRF token (csrf.h); the router checked it.
#include "pages.h"

namespace apppass::web {

namespace {

HttpResponse SigninForm(PageContext& ctx, int status, std::string_view user, Msg error,
                        bool has_error) {
  std::string o;
  const std::string* notice = ctx.req.Query("notice");
  if (!has_error && notice != nullptr) {
    if (*notice == "ended") o += Notice("notice", ctx.T(Msg::kSessionEnded));
    if (*notice == "expired") o += Notice("notice", ctx.T(Msg::kSignInAgain));
    if (*notice == "signedout") o += Notice("notice", ctx.T(Msg::kSignedOut));
  }
  o += "<p>" + ctx.H(Msg::kSignInIntro) + "</p>\n";
  if (has_error) o += ErrorText("error", ctx.T(error));
  o += "<form id=\"signin\" method=\"post\" action=\"/signin\"";
  if (has_error) o += " aria-describedby=\"error\"";
  o += ">\n" + CsrfInput(ctx.pre);
  Field user_field{.name = "user",
                   .label = ctx.T(Msg::kUserName),
                   .type = "text",
                   .autocomplete = "username",
                   .hint = {},
                   .error = {},
                   .extra = " autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"256\"",
                   .error_id = {},
                   .value = std::string(user),
                   .id = {}};
  Field pw_field{.name = "password",
                 .label = ctx.T(Msg::kPassword),
                 .type = "password",
                 .autocomplete = "current-password",
                 .hint = {},
                 .error = {},
                 .extra = " maxlength=\"512\"",
                 .error_id = {},
                 .value = {},
                 .id = {}};
  if (has_error) {
    user_field.extra += " aria-describedby=\"error\"";
    pw_field.extra += " aria-describedby=\"error\"";
  }
  o += FieldHtml(user_field) + FieldHtml(pw_field);
  o += "<button type=\"submit\">" + ctx.H(Msg::kSignInButton) + "</button>\n</form>";
  return Page(ctx, status, Msg::kSignInTitle, o);
}

HttpResponse CodeForm(PageContext& ctx, int status, std::string_view error) {
  std::string o = "<p>" + ctx.H(Msg::kCodeIntro) + "</p>\n";
  o += "<form id=\"code\" method=\"post\" action=\"/signin/code\">\n" + CsrfInput(ctx.pre);
  o += CodeField(ctx, Msg::kCodeLabel, error);
  o += "<button type=\"submit\">" + ctx.H(Msg::kVerify) + "</button>\n</form>";
  return Page(ctx, status, Msg::kCodeTitle, o);
}

// The pending sign-in is gone: its cookie dropped, the sign-in page again.
HttpResponse SigninExpired(PageContext& ctx) {
  ctx.cookies.push_back({std::string(kSigninCookie), "", 0});
  return Redirect(ctx, "/signin?notice=expired");
}

}  // namespace

HttpResponse GetSignin(PageContext& ctx) { return SigninForm(ctx, 200, {}, Msg::kSiteName, false); }

HttpResponse PostSignin(PageContext& ctx) {
  const std::string* user = ctx.req.Form("user");
  const SecretBuffer* password = ctx.req.FormSecret("password");
  const std::string shown = user == nullptr ? std::string() : *user;
  if (user == nullptr || user->empty() || password == nullptr || password->size() == 0)
    return SigninForm(ctx, 400, shown, Msg::kWrongPassword, true);
  SignInResult r;
  const BrokerAnswer a = ctx.broker.SignIn(*user, *password, ctx.req.client, &r);
  if (!a.ok()) {
    if (a.unreachable) return BrokerFailure(ctx, a);
    if (a.reason == "throttled") return SigninForm(ctx, 429, shown, Msg::kThrottled, true);
    if (a.reason == "no_mfa") return SigninForm(ctx, 403, shown, Msg::kNoMfa, true);
    // wrong, and anything else: the one answer that says nothing about the account.
    return SigninForm(ctx, 401, shown, Msg::kWrongPassword, true);
  }
  ctx.cookies.push_back(
      {std::string(kSigninCookie), std::string(r.signin.view()), kSigninCookieLife});
  return Redirect(ctx, r.next == "enroll" ? "/setup" : "/signin/code");
}

HttpResponse GetCode(PageContext& ctx) {
  if (ctx.signin.empty()) return Redirect(ctx, "/signin");
  return CodeForm(ctx, 200, {});
}

HttpResponse PostCode(PageContext& ctx) {
  if (ctx.signin.empty()) return SigninExpired(ctx);
  const SecretBuffer* code = ctx.req.FormSecret("code");
  if (code == nullptr || code->size() == 0) return CodeForm(ctx, 400, ctx.T(Msg::kEnterValue));
  SessionResult r;
  const BrokerAnswer a = ctx.broker.SignInCode(ctx.signin, *code, ctx.req.client, &r);
  if (!a.ok()) {
    if (a.unreachable) return BrokerFailure(ctx, a);
    if (a.expired()) return SigninExpired(ctx);
    if (a.reason == "throttled") return CodeForm(ctx, 429, ctx.T(Msg::kThrottled));
    return CodeForm(ctx, 401, ctx.T(Msg::kWrongCode));
  }
  // The broker's new session token: a new id at every sign-in (no fixation).
  ctx.cookies.push_back({std::string(kSessionCookie), std::string(r.session.view()), std::nullopt});
  ctx.cookies.push_back({std::string(kSigninCookie), "", 0});
  return Redirect(ctx, r.recovery_code_used ? "/passwords?notice=recovery" : "/passwords");
}

HttpResponse PostSignout(PageContext& ctx) {
  const BrokerAnswer a = ctx.broker.SignOut(ctx.session);
  ctx.cookies.push_back({std::string(kSessionCookie), "", 0});
  if (!a.ok() && a.unreachable) return BrokerFailure(ctx, a);
  return Redirect(ctx, "/signin?notice=signedout");
}

}  // namespace apppass::web
