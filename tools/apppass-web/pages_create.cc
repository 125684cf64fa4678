// Creating an app password: GET /passwords/new (the form, from POLICY_SHOW: the services
// users may choose and the expiries allowed), POST /passwords/new (CREATE; the new
// password kept in the CreatedStore, 303), GET /passwords/created (shown once: a reload
// finds it gone and says "already shown").
#include <algorithm>
#include <cstdint>
#include <optional>

#include "pages.h"
#include "policy.h"
#include "text.h"

namespace apppass::web {

namespace {

struct CreateForm {
  std::string name;
  std::vector<std::string> scopes;  // chosen
  std::string expiry;               // chosen ("" = the policy's default)
  std::string name_error, scope_error, error;
};

std::string DurationLabel(const PageContext& ctx, std::int64_t seconds) {
  if (seconds % 86400 == 0) return Fill(ctx.T(Msg::kDays), {std::to_string(seconds / 86400)});
  if (seconds % 3600 == 0) return Fill(ctx.T(Msg::kHours), {std::to_string(seconds / 3600)});
  return Fill(ctx.T(Msg::kMinutes), {std::to_string((seconds + 59) / 60)});
}

// The expiry choices the policy allows, shortest first, "never" last when allowed; and
// which is chosen by default.
std::string ExpirySelect(const PageContext& ctx, const PolicyInfo& policy,
                         std::string_view chosen) {
  // -1: never (no limit, no default).
  auto seconds = [](const std::string& text) -> std::int64_t {
    if (text == "never") return -1;
    const std::optional<std::int64_t> d = ParseDuration(text);
    return d ? *d : -1;
  };
  const std::int64_t max = seconds(policy.max_expiry);
  const std::int64_t def = seconds(policy.default_expiry);
  std::vector<std::int64_t> choices;
  for (std::int64_t d : {7 * 86400L, 30 * 86400L, 90 * 86400L, 180 * 86400L, 365 * 86400L})
    if (max < 0 || d <= max) choices.push_back(d);
  if (max > 0) choices.push_back(max);
  if (def > 0 && (max < 0 || def <= max)) choices.push_back(def);
  std::sort(choices.begin(), choices.end());
  choices.erase(std::unique(choices.begin(), choices.end()), choices.end());
  std::string selected(chosen);
  if (selected.empty())
    selected = def > 0 ? DurationText(def) : max > 0 ? DurationText(max) : "never";
  std::string o = "<div class=\"field\">\n<label for=\"expiry\">" + ctx.H(Msg::kExpiryLabel) +
                  "</label>\n<select id=\"expiry\" name=\"expiry\">\n";
  for (std::int64_t d : choices) {
    const std::string value = DurationText(d);
    o += "<option value=\"" + Escape(value) + "\"" + (value == selected ? " selected" : "") + ">" +
         DurationLabel(ctx, d) + "</option>\n";
  }
  if (max < 0)
    o += std::string("<option value=\"never\"") + (selected == "never" ? " selected" : "") + ">" +
         ctx.H(Msg::kExpiryNever) + "</option>\n";
  o += "</select>\n</div>\n";
  return o;
}

HttpResponse FormPage(PageContext& ctx, int status, const PolicyInfo& policy, const CreateForm& f,
                      std::string_view user) {
  std::string o;
  if (!f.error.empty()) o += ErrorText("error", f.error);
  o += "<form id=\"create\" method=\"post\" action=\"/passwords/new\"";
  if (!f.error.empty()) o += " aria-describedby=\"error\"";
  o += ">\n" + CsrfInput(SessionCsrf(ctx));
  o += FieldHtml({.name = "name",
                  .label = ctx.T(Msg::kNameLabel),
                  .type = "text",
                  .autocomplete = "off",
                  .hint = ctx.T(Msg::kNameHint),
                  .error = f.name_error,
                  .extra = " maxlength=\"64\"",
                  .error_id = {},
                  .value = f.name,
                  .id = {}});
  o += "<fieldset id=\"scopes\"";
  if (!f.scope_error.empty()) o += " aria-describedby=\"scope-error\"";
  o += ">\n<legend>" + ctx.H(Msg::kServicesLabel) + "</legend>\n";
  for (const std::string& s : policy.scopes) {
    const bool checked = f.scopes.empty()
                             ? s == "imap" || s == "smtp"
                             : std::find(f.scopes.begin(), f.scopes.end(), s) != f.scopes.end();
    o += "<div class=\"choice\"><input type=\"checkbox\" id=\"scope-" + Escape(s) +
         "\" name=\"scope\" value=\"" + Escape(s) + "\"" + (checked ? " checked" : "") +
         ">\n<label for=\"scope-" + Escape(s) + "\">" + Escape(s) + "</label></div>\n";
  }
  if (!f.scope_error.empty())
    o += "<p id=\"scope-error\" class=\"error\" role=\"alert\">" + Escape(f.scope_error) + "</p>\n";
  o += "</fieldset>\n" + ExpirySelect(ctx, policy, f.expiry);
  o += "<button type=\"submit\">" + ctx.H(Msg::kCreateButton) + "</button>\n";
  o += "<a href=\"/passwords\">" + ctx.H(Msg::kCancel) + "</a>\n</form>";
  return Page(ctx, status, Msg::kCreateTitle, o, user);
}

std::string MailSettings(const PageContext& ctx, std::string_view user) {
  std::string o = "<section id=\"mail-settings\">\n<h2>" + ctx.H(Msg::kMailSettings) +
                  "</h2>\n<dl>\n<dt>" + ctx.H(Msg::kUserName) + "</dt><dd><code>" + Escape(user) +
                  "</code></dd>\n</dl>\n";
  auto server = [&](Msg title, const std::string& host, int port, bool implicit_tls) {
    if (host.empty()) return;
    o += "<h3>" + ctx.H(title) + "</h3>\n<dl>\n<dt>" + ctx.H(Msg::kServer) + "</dt><dd><code>" +
         Escape(host) + "</code></dd>\n<dt>" + ctx.H(Msg::kPort) + "</dt><dd><code>" +
         std::to_string(port) + "</code></dd>\n<dt>" + ctx.H(Msg::kEncryption) + "</dt><dd>" +
         (implicit_tls ? "SSL/TLS" : "STARTTLS") + "</dd>\n</dl>\n";
  };
  server(Msg::kIncoming, ctx.config.imap_host, ctx.config.imap_port,
         ctx.config.imap_port == 993 || ctx.config.imap_port == 995);
  server(Msg::kOutgoing, ctx.config.smtp_host, ctx.config.smtp_port, ctx.config.smtp_port == 465);
  o += "</section>\n";
  return o;
}

}  // namespace

namespace {

// The form needs the policy (POLICY_SHOW, which anyone may ask) and a live session: the
// SESSION call checks it (an ended one goes to /signin) and names the user for the header.
HttpResponse ShowForm(PageContext& ctx, int status, const CreateForm& f) {
  SessionInfo session;
  const BrokerAnswer s = ctx.broker.Session(ctx.session, ctx.req.client, &session);
  if (!s.ok()) return BrokerFailure(ctx, s);
  PolicyInfo policy;
  const BrokerAnswer p = ctx.broker.PolicyShow(ctx.session, ctx.req.client, &policy);
  if (!p.ok()) return BrokerFailure(ctx, p);
  return FormPage(ctx, status, policy, f, session.user);
}

}  // namespace

HttpResponse GetNew(PageContext& ctx) { return ShowForm(ctx, 200, {}); }

HttpResponse PostNew(PageContext& ctx) {
  CreateForm f;
  if (const std::string* n = ctx.req.Form("name")) f.name = *n;
  f.scopes = ctx.req.FormAll("scope");
  if (const std::string* e = ctx.req.Form("expiry")) f.expiry = *e;
  if (f.name.empty()) f.name_error = ctx.T(Msg::kEnterValue);
  if (f.scopes.empty()) f.scope_error = ctx.T(Msg::kChooseService);
  if (f.name_error.empty() && f.scope_error.empty()) {
    CreatedPassword created;
    const BrokerAnswer a =
        ctx.broker.Create(ctx.session, ctx.req.client,
                          {.name = f.name, .scopes = f.scopes, .expires = f.expiry}, &created);
    if (a.ok()) {
      ctx.created.Put(ctx.session, std::move(created), CreatedStore::Clock::now());
      return Redirect(ctx, "/passwords/created");
    }
    if (a.unreachable || a.expired()) return BrokerFailure(ctx, a);
    // The broker's reason (a name it refuses, the limit of active passwords), as it says it.
    f.error = std::string(a.status.summary());
  }
  return ShowForm(ctx, 400, f);
}

HttpResponse GetCreated(PageContext& ctx) {
  SessionInfo session;
  const BrokerAnswer a = ctx.broker.Session(ctx.session, ctx.req.client, &session);
  if (!a.ok()) return BrokerFailure(ctx, a);
  CreatedPassword created;
  if (!ctx.created.Take(ctx.session, CreatedStore::Clock::now(), &created)) {
    std::string o = "<p id=\"already-shown\">" + ctx.H(Msg::kAlreadyShownText) +
                    "</p>\n<p><a id=\"done\" class=\"button\" href=\"/passwords\">" +
                    ctx.H(Msg::kDone) + "</a></p>";
    return Page(ctx, 410, Msg::kAlreadyShownTitle, o, session.user);
  }
  std::string o = "<p>" + ctx.H(Msg::kNewPasswordIntro) + "</p>\n";
  o += "<p class=\"subject\">" + Fill(ctx.T(Msg::kNewPasswordFor), {created.name}) + "</p>\n";
  o += "<div class=\"password-box\">\n<code id=\"new-password\" class=\"secret\">";
  AppendEscaped(created.password.view(), &o);
  o += "</code>\n<button type=\"button\" id=\"copy\" class=\"copy\" hidden data-copied=\"" +
       ctx.H(Msg::kCopied) + "\">" + ctx.H(Msg::kCopy) +
       "</button>\n<span id=\"copy-status\" role=\"status\"></span>\n</div>\n";
  o += MailSettings(ctx, session.user);
  o += "<p><a id=\"done\" class=\"button\" href=\"/passwords\">" + ctx.H(Msg::kDone) +
       "</a></p>\n<script src=\"/static/copy.js\"></script>";
  HttpResponse r = SecretPage(ctx, 200, Msg::kNewPasswordTitle, o, session.user);
  WipeString(o);
  return r;
}

}  // namespace apppass::web
