// The list of the user's app passwords (GET /passwords: LIST) and revoking one (GET
// /passwords/revoke?id=: the confirmation; POST /passwords/revoke: REVOKE). Another
// user's id, or one that is not there, is "not found": the broker only ever answers the
// session's own records.
#include "pages.h"

namespace apppass::web {

namespace {

// "2026-12-07T12:34:56Z" -> <time datetime="...">2026-12-07 12:34 UTC</time>.
std::string When(std::string_view iso) {
  std::string shown(iso);
  if (shown.size() == 20 && shown[10] == 'T' && shown[19] == 'Z')
    shown = shown.substr(0, 10) + " " + shown.substr(11, 5) + " UTC";
  return "<time datetime=\"" + Escape(iso) + "\">" + Escape(shown) + "</time>";
}

std::string Services(const PageContext& ctx, const PasswordItem& p) {
  if (p.all_services) return ctx.H(Msg::kAllServices);
  std::string o;
  for (const std::string& s : p.scopes) {
    if (!o.empty()) o += ", ";
    AppendEscaped(s, &o);  // as the policy names them (imap, smtp), like the create form
  }
  return o;
}

std::string RevokeHref(std::string_view id) {
  // Ids are the broker's (hex); anything else is escaped all the same.
  std::string href = "/passwords/revoke?id=";
  for (unsigned char c : id) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_') {
      href += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      href += '%';
      href += kHex[c >> 4];
      href += kHex[c & 15];
    }
  }
  return href;
}

// A cell, labelled with its column's name for the narrow layout (style.css shows the
// label before the value when the table becomes one block per password).
std::string Cell(const PageContext& ctx, std::string_view cls, Msg column,
                 const std::string& html) {
  return "<td class=\"" + std::string(cls) + "\" data-label=\"" + ctx.H(column) + "\">" + html +
         "</td>\n";
}

std::string Row(const PageContext& ctx, const PasswordItem& p) {
  std::string o = "<tr data-id=\"" + Escape(p.id) + "\">\n";
  o += Cell(ctx, "name", Msg::kColName, Escape(p.name));
  o += Cell(ctx, "services", Msg::kColServices, Services(ctx, p));
  o += Cell(ctx, "created", Msg::kColCreated, When(p.created));
  std::string expires;
  if (p.state == "expired") expires += "<strong>" + ctx.H(Msg::kExpired) + "</strong> ";
  expires += p.expires ? When(*p.expires) : ctx.H(Msg::kNever);
  o += Cell(ctx, "expires", Msg::kColExpires, expires);
  o += Cell(ctx, "last-used", Msg::kColLastUsed,
            p.last_used ? When(*p.last_used) : ctx.H(Msg::kNotYet));
  o += Cell(ctx, "last-service", Msg::kColService,
            p.last_used && p.last_service ? Escape(*p.last_service) : std::string());
  o += Cell(ctx, "last-from", Msg::kColFrom,
            p.last_used && p.last_rhost ? Escape(*p.last_rhost) : std::string());
  o += "<td class=\"action\"><a class=\"revoke\" href=\"" + Escape(RevokeHref(p.id)) + "\">" +
       ctx.H(Msg::kRevoke) + "<span class=\"visually-hidden\">: " + Escape(p.name) +
       "</span></a></td>\n</tr>\n";
  return o;
}

}  // namespace

HttpResponse GetPasswords(PageContext& ctx) {
  PasswordList list;
  const BrokerAnswer a = ctx.broker.List(ctx.session, ctx.req.client, &list);
  if (!a.ok()) return BrokerFailure(ctx, a);
  std::string o;
  if (const std::string* n = ctx.req.Query("notice")) {
    if (*n == "revoked") o += Notice("notice", ctx.T(Msg::kRevoked));
    if (*n == "recovery") o += Notice("notice", ctx.T(Msg::kRecoveryUsed));
  }
  o += "<p>" + ctx.H(Msg::kPasswordsIntro) + "</p>\n";
  o += "<p><a id=\"create\" class=\"button\" href=\"/passwords/new\">" + ctx.H(Msg::kCreateLink) +
       "</a></p>\n";
  if (list.items.empty()) o += "<p id=\"no-passwords\">" + ctx.H(Msg::kNoPasswords) + "</p>\n";
  o += "<div class=\"table-wrap\">\n<table id=\"passwords\">\n<thead>\n<tr>";
  for (Msg m : {Msg::kColName, Msg::kColServices, Msg::kColCreated, Msg::kColExpires,
                Msg::kColLastUsed, Msg::kColService, Msg::kColFrom, Msg::kColAction})
    o += "<th scope=\"col\">" + ctx.H(m) + "</th>";
  o += "</tr>\n</thead>\n<tbody>\n";
  for (const PasswordItem& p : list.items) o += Row(ctx, p);
  o += "</tbody>\n</table>\n</div>";
  return Page(ctx, 200, Msg::kPasswordsTitle, o, list.user);
}

HttpResponse GetRevoke(PageContext& ctx) {
  const std::string* id = ctx.req.Query("id");
  PasswordList list;
  const BrokerAnswer a = ctx.broker.List(ctx.session, ctx.req.client, &list);
  if (!a.ok()) return BrokerFailure(ctx, a);
  const PasswordItem* found = nullptr;
  if (id != nullptr)
    for (const PasswordItem& p : list.items)
      if (p.id == *id) found = &p;
  if (found == nullptr) return MessagePage(ctx, 404, Msg::kNotFoundTitle, Msg::kNotFoundText);
  std::string o = "<p>" + ctx.H(Msg::kRevokeIntro) + "</p>\n";
  o += "<p class=\"subject\"><strong>" + Escape(found->name) + "</strong> (" +
       Services(ctx, *found) + ")</p>\n";
  o += "<form id=\"revoke\" method=\"post\" action=\"/passwords/revoke\">\n" +
       CsrfInput(SessionCsrf(ctx));
  o += "<input type=\"hidden\" name=\"id\" value=\"" + Escape(found->id) + "\">\n";
  o += "<button type=\"submit\" class=\"danger\">" + ctx.H(Msg::kRevoke) + "</button>\n";
  o += "<a href=\"/passwords\">" + ctx.H(Msg::kCancel) + "</a>\n</form>";
  return Page(ctx, 200, Msg::kRevokeTitle, o, list.user);
}

HttpResponse PostRevoke(PageContext& ctx) {
  const std::string* id = ctx.req.Form("id");
  if (id == nullptr || id->empty())
    return MessagePage(ctx, 404, Msg::kNotFoundTitle, Msg::kNotFoundText);
  const BrokerAnswer a = ctx.broker.Revoke(ctx.session, ctx.req.client, *id);
  // A malformed id is no more there than another user's.
  if (!a.ok() && !a.unreachable && a.status.code() == Status::Code::kInvalidArgument)
    return MessagePage(ctx, 404, Msg::kNotFoundTitle, Msg::kNotFoundText);
  if (!a.ok()) return BrokerFailure(ctx, a);
  return Redirect(ctx, "/passwords?notice=revoked");
}

}  // namespace apppass::web
