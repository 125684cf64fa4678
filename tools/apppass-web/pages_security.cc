// The security page: new recovery codes (POST /security/recovery-codes: MFA_RECOVERY,
// with a current code; the codes shown once), a new authenticator app (POST
// /security/authenticator: MFA_REPLACE; POST /security/authenticator/confirm:
// MFA_REPLACE_CONFIRM with a code of the new app) and signing out (form#signout).
#include "pages.h"

namespace apppass::web {

namespace {

std::string CodeInput(const PageContext& ctx, std::string_view id, Msg label,
                      std::string_view error) {
  return FieldHtml({.name = "code",
                    .label = ctx.T(label),
                    .type = "text",
                    .autocomplete = "one-time-code",
                    .hint = {},
                    .error = std::string(error),
                    .extra = " autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\"",
                    .error_id = std::string(id) + "-error",
                    .value = {},
                    .id = std::string(id)});
}

// Which form an error belongs to.
enum class Where { kNone, kRecovery, kAuthenticator };

HttpResponse SecurityPage(PageContext& ctx, int status, Where where, std::string_view error) {
  MfaStatusInfo mfa;
  const BrokerAnswer a = ctx.broker.MfaStatus(ctx.session, ctx.req.client, &mfa);
  if (!a.ok()) return BrokerFailure(ctx, a);
  const std::string csrf = CsrfInput(SessionCsrf(ctx));
  std::string o;
  if (const std::string* n = ctx.req.Query("notice"); n != nullptr && *n == "authenticator")
    o += Notice("notice", ctx.T(Msg::kAppChanged));
  o += "<section id=\"recovery-section\">\n<h2>" + ctx.H(Msg::kNewRecoveryTitle) + "</h2>\n";
  if (mfa.recovery_codes_left >= 0)
    o += "<p id=\"recovery-left\">" +
         Fill(ctx.T(Msg::kRecoveryLeft), {std::to_string(mfa.recovery_codes_left)}) + "</p>\n";
  o += "<p>" + ctx.H(Msg::kNewRecoveryIntro) + "</p>\n";
  o += "<form id=\"recovery\" method=\"post\" action=\"/security/recovery-codes\">\n" + csrf;
  o += CodeInput(ctx, "recovery-code", Msg::kCurrentCode,
                 where == Where::kRecovery ? error : std::string_view());
  o += "<button type=\"submit\">" + ctx.H(Msg::kGetNewCodes) + "</button>\n</form>\n</section>\n";
  o += "<section id=\"authenticator-section\">\n<h2>" + ctx.H(Msg::kChangeAppTitle) + "</h2>\n";
  o += "<p>" + ctx.H(Msg::kChangeAppIntro) + "</p>\n";
  o += "<form id=\"authenticator\" method=\"post\" action=\"/security/authenticator\">\n" + csrf;
  o += CodeInput(ctx, "authenticator-code", Msg::kCurrentCode,
                 where == Where::kAuthenticator ? error : std::string_view());
  o +=
      "<button type=\"submit\">" + ctx.H(Msg::kChangeAppTitle) + "</button>\n</form>\n</section>\n";
  o += "<section id=\"signout-section\">\n<h2>" + ctx.H(Msg::kSignOut) + "</h2>\n";
  o += "<form id=\"signout\" method=\"post\" action=\"/signout\">\n" + csrf;
  o += "<button type=\"submit\">" + ctx.H(Msg::kSignOut) + "</button>\n</form>\n</section>";
  return Page(ctx, status, Msg::kSecurityTitle, o, mfa.user);
}

// The error a refused code gets, or nullopt when the page should not handle it.
std::optional<Msg> CodeError(const BrokerAnswer& a) {
  if (a.unreachable || a.expired()) return std::nullopt;
  if (a.reason == "throttled") return Msg::kThrottled;
  const Status::Code c = a.status.code();
  if (c == Status::Code::kPermissionDenied || c == Status::Code::kInvalidArgument)
    return Msg::kWrongCode;
  return std::nullopt;
}

std::string ConfirmForm(const PageContext& ctx, std::string_view error) {
  std::string o = "<p>" + ctx.H(Msg::kConfirmIntro) + "</p>\n";
  o += "<form id=\"authenticator-confirm\" method=\"post\" "
       "action=\"/security/authenticator/confirm\">\n" +
       CsrfInput(SessionCsrf(ctx));
  o += CodeInput(ctx, "authenticator-confirm-code", Msg::kNewAppCode, error);
  o += "<button type=\"submit\">" + ctx.H(Msg::kNext) + "</button>\n</form>\n";
  return o;
}

const SecretBuffer* CodeOf(const PageContext& ctx) {
  const SecretBuffer* code = ctx.req.FormSecret("code");
  return code != nullptr && code->size() > 0 ? code : nullptr;
}

}  // namespace

HttpResponse GetSecurity(PageContext& ctx) { return SecurityPage(ctx, 200, Where::kNone, {}); }

HttpResponse PostRecoveryCodes(PageContext& ctx) {
  const SecretBuffer* code = CodeOf(ctx);
  if (code == nullptr) return SecurityPage(ctx, 400, Where::kRecovery, ctx.T(Msg::kEnterValue));
  std::vector<SecretBuffer> codes;
  const BrokerAnswer a = ctx.broker.MfaRecovery(ctx.session, ctx.req.client, *code, &codes);
  if (!a.ok()) {
    if (const auto e = CodeError(a)) return SecurityPage(ctx, 401, Where::kRecovery, ctx.T(*e));
    return BrokerFailure(ctx, a);
  }
  std::string o = "<p>" + ctx.H(Msg::kRecoveryIntro) + "</p>\n" + RecoveryCodesHtml(codes) +
                  "<p><a id=\"done\" class=\"button\" href=\"/security\">" + ctx.H(Msg::kDone) +
                  "</a></p>";
  HttpResponse r = SecretPage(ctx, 200, Msg::kNewRecoveryTitle, o);
  WipeString(o);
  return r;
}

HttpResponse PostAuthenticator(PageContext& ctx) {
  const SecretBuffer* code = CodeOf(ctx);
  if (code == nullptr)
    return SecurityPage(ctx, 400, Where::kAuthenticator, ctx.T(Msg::kEnterValue));
  EnrollResult e;
  const BrokerAnswer a = ctx.broker.MfaReplace(ctx.session, ctx.req.client, *code, &e);
  if (!a.ok()) {
    if (const auto err = CodeError(a))
      return SecurityPage(ctx, 401, Where::kAuthenticator, ctx.T(*err));
    return BrokerFailure(ctx, a);
  }
  std::string o = EnrollmentHtml(ctx, e) + ConfirmForm(ctx, {});
  HttpResponse r = SecretPage(ctx, 200, Msg::kChangeAppTitle, o);
  WipeString(o);
  return r;
}

HttpResponse PostAuthenticatorConfirm(PageContext& ctx) {
  const SecretBuffer* code = CodeOf(ctx);
  Msg error = Msg::kEnterValue;
  if (code != nullptr) {
    const BrokerAnswer a = ctx.broker.MfaReplaceConfirm(ctx.session, ctx.req.client, *code);
    if (a.ok()) return Redirect(ctx, "/security?notice=authenticator");
    const auto e = CodeError(a);
    if (!e) return BrokerFailure(ctx, a);
    error = *e;
  }
  std::string o = ConfirmForm(ctx, ctx.T(error)) + "<p><a href=\"/security\">" +
                  ctx.H(Msg::kStartAgain) + "</a></p>";
  return Page(ctx, code == nullptr ? 400 : 401, Msg::kChangeAppTitle, o);
}

}  // namespace apppass::web
