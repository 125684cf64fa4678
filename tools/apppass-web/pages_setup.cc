// "Set it up now": a signed-in-by-password user without an enrollment sets up TOTP
// (GET /setup, POST /setup/start: SIGNIN_ENROLL's key as a QR code and in groups; POST
// /setup/confirm: SIGNIN_CONFIRM opens the session and answers the recovery codes, shown
// once; POST /setup/done). The key and the codes are only in the answers to the POSTs
// that made them (no-store, never again).
#include "csrf.h"
#include "pages.h"

namespace apppass::web {

namespace {

HttpResponse SigninExpired(PageContext& ctx) {
  ctx.cookies.push_back({std::string(kSigninCookie), "", 0});
  return Redirect(ctx, "/signin?notice=expired");
}

std::string ConfirmForm(const PageContext& ctx, std::string_view error) {
  std::string o = "<p>" + ctx.H(Msg::kConfirmIntro) + "</p>\n";
  o += "<form id=\"confirm\" method=\"post\" action=\"/setup/confirm\">\n" + CsrfInput(ctx.pre);
  o += CodeField(ctx, Msg::kCodeLabel, error);
  o += "<button type=\"submit\">" + ctx.H(Msg::kNext) + "</button>\n</form>\n";
  return o;
}

// The code was wrong: the form again (the key is not shown twice), and a way to start over.
HttpResponse ConfirmAgain(PageContext& ctx, int status, Msg error) {
  std::string o = ConfirmForm(ctx, ctx.T(error));
  o += "<p><a href=\"/setup\">" + ctx.H(Msg::kStartAgain) + "</a></p>";
  return Page(ctx, status, Msg::kScanTitle, o);
}

}  // namespace

HttpResponse GetSetup(PageContext& ctx) {
  if (ctx.signin.empty()) return Redirect(ctx, "/signin");
  std::string o = "<p>" + ctx.H(Msg::kSetupIntro) + "</p>\n";
  o += "<form id=\"setup\" method=\"post\" action=\"/setup/start\">\n" + CsrfInput(ctx.pre);
  o += "<fieldset>\n<legend>" + ctx.H(Msg::kMethod) + "</legend>\n";
  o += "<div class=\"choice\"><input type=\"radio\" id=\"method-totp\" name=\"method\" "
       "value=\"totp\" checked>\n<label for=\"method-totp\">" +
       ctx.H(Msg::kMethodApp) + "</label></div>\n</fieldset>\n";
  o += "<button type=\"submit\" id=\"setup-start\">" + ctx.H(Msg::kSetItUpNow) +
       "</button>\n</form>";
  return Page(ctx, 200, Msg::kSetupTitle, o);
}

HttpResponse PostSetupStart(PageContext& ctx) {
  if (ctx.signin.empty()) return SigninExpired(ctx);
  EnrollResult e;
  const BrokerAnswer a = ctx.broker.SignInEnroll(ctx.signin, &e);
  if (!a.ok()) return a.expired() ? SigninExpired(ctx) : BrokerFailure(ctx, a);
  std::string o = EnrollmentHtml(ctx, e) + ConfirmForm(ctx, {});
  HttpResponse r = SecretPage(ctx, 200, Msg::kScanTitle, o);
  WipeString(o);
  return r;
}

HttpResponse PostSetupConfirm(PageContext& ctx) {
  if (ctx.signin.empty()) return SigninExpired(ctx);
  const SecretBuffer* code = ctx.req.FormSecret("code");
  if (code == nullptr || code->size() == 0) return ConfirmAgain(ctx, 400, Msg::kEnterValue);
  std::vector<SecretBuffer> codes;
  SessionResult s;
  const BrokerAnswer a = ctx.broker.SignInConfirm(ctx.signin, *code, ctx.req.client, &codes, &s);
  if (!a.ok()) {
    if (a.unreachable) return BrokerFailure(ctx, a);
    if (a.expired()) return SigninExpired(ctx);
    if (a.reason == "throttled") return ConfirmAgain(ctx, 429, Msg::kThrottled);
    return ConfirmAgain(ctx, 401, Msg::kWrongCode);
  }
  ctx.cookies.push_back({std::string(kSessionCookie), std::string(s.session.view()), std::nullopt});
  ctx.cookies.push_back({std::string(kSigninCookie), "", 0});
  std::string o = "<p>" + ctx.H(Msg::kRecoveryIntro) + "</p>\n" + RecoveryCodesHtml(codes);
  o += "<form id=\"saved\" method=\"post\" action=\"/setup/done\">\n" +
       CsrfInput(CsrfForSession(s.session.view()));
  o += "<div class=\"choice\"><input type=\"checkbox\" id=\"saved-check\" name=\"saved\" "
       "value=\"yes\" "
       "required>\n<label for=\"saved-check\">" +
       ctx.H(Msg::kSavedLabel) + "</label></div>\n";
  o += "<button type=\"submit\">" + ctx.H(Msg::kContinue) + "</button>\n</form>";
  HttpResponse r = SecretPage(ctx, 200, Msg::kRecoveryTitle, o, s.user);
  WipeString(o);
  return r;
}

HttpResponse PostSetupDone(PageContext& ctx) { return Redirect(ctx, "/passwords"); }

}  // namespace apppass::web
