// apppass create: generate an app password for a user with confirmed MFA, shown once. As
// root in the store; as a user, for the caller through apppassd (CREATE, with a code).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "admin.h"
#include "cli.h"
#include "text.h"

namespace apppass::cli {

namespace {

struct CreateArgs {
  std::string user, name;
  std::string expires = "never";  // the default; an empty --expires "" is refused
  bool expires_given = false;     // as a user, no --expires means the policy's default
  std::vector<std::string> scopes;
  bool all_services = false;  // --all-services: every service, on purpose
  bool json = false;
};

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

Status CheckExpires(const CreateArgs& a, std::optional<std::int64_t>* secs) {
  if (a.expires == "never") return Status::Ok();
  *secs = ParseDuration(a.expires);
  if (!*secs)
    return Status::InvalidArgument(
        "--expires takes a duration such as 90d, 12h, 30m, 2w or 'never'");
  return Status::Ok();
}

int Create(const Context& ctx, const CreateArgs& a) {
  if (a.user.empty())
    return Fail(Status::InvalidArgument("USER is required (apppass create USER)"));
  // Before the store is opened: no password is valid everywhere by accident.
  if (a.scopes.empty() && !a.all_services)
    return Fail(Status::InvalidArgument(std::string(kChooseServices)));
  CreateRequest req{.user = a.user,
                    .name = a.name,
                    .scopes = a.scopes,
                    .expires = {},
                    .all_services = a.all_services};
  const std::int64_t now = Now();
  std::optional<std::int64_t> secs;
  Status s = CheckExpires(a, &secs);
  if (!s.ok()) return Fail(s);
  if (secs) req.expires = now + *secs;
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  Created c;
  if (!(s = CreatePassword(store, req, now, &c)).ok()) return Fail(s);
  const Credential& cr = c.cred;
  return PrintCreated(
      {.id = cr.id,
       .user = cr.user,
       .name = cr.name,
       .scopes = cr.scopes,
       .all_services = cr.all_services,
       .created = Iso(cr.created),
       .expires = cr.expires ? std::optional<std::string>(Iso(*cr.expires)) : std::nullopt,
       .password = c.password.view()},
      a.json);
}

// As a user: CREATE name, scopes, expires (as given; absent: the policy's default) and a
// code read from the terminal or stdin.
int SelfCreate(const Context& ctx, const CreateArgs& a) {
  std::string self;
  Status s = CheckSelfUser(a.user, &self);
  if (!s.ok()) return Fail(s);
  // Refused here, before a code is asked for (apppassd refuses them too).
  if (a.all_services)
    return Fail(Status::InvalidArgument(
        "--all-services is for the administrator: choose the services this password is for "
        "with --scope (e.g. --scope imap --scope smtp)"));
  if (a.scopes.empty())
    return Fail(Status::InvalidArgument(
        "choose the services this password is for with --scope (e.g. --scope imap --scope "
        "smtp)"));
  std::optional<std::int64_t> secs;
  if (!(s = CheckExpires(a, &secs)).ok()) return Fail(s);
  broker::Request req{.kind = broker::RequestKind::kCreate, .id = 1, .fields = {}};
  if (!(s = req.fields.Add("name", a.name)).ok() ||
      !(s = req.fields.Add("scopes", Join(a.scopes, " "))).ok() ||
      (a.expires_given && !(s = req.fields.Add("expires", a.expires)).ok()))
    return Fail(s);
  SecretBuffer code;
  if (!(s = ReadVerificationCode(&code)).ok()) return Fail(s);
  if (!(s = req.fields.Add("code", code.view())).ok()) return Fail(s);
  code.clear();
  broker::CallResult res;
  if (!(s = CallBroker(ctx, req, &res)).ok()) return Fail(s);
  const broker::Reply& r = res.final;
  const SecretBuffer* password = r.fields.GetSecret("password");
  if (password == nullptr || FieldText(r, "id").empty())
    return Fail(Status::Internal("the apppass service's answer has no password or id"));
  return PrintCreated({.id = FieldText(r, "id"),
                       .user = FieldText(r, "user").empty() ? self : FieldText(r, "user"),
                       .name = FieldText(r, "name"),
                       .scopes = SplitSpaces(FieldText(r, "scopes")),
                       .all_services = FieldText(r, "all_services") == "yes",
                       .created = FieldText(r, "created"),
                       .expires = OptionalField(r, "expires"),
                       .password = password->view()},
                      a.json);
}

}  // namespace

int PrintCreated(const CreatedView& c, bool json) {
  if (json) {
    // The password is spliced in rather than put in a json value, so no extra heap copy
    // of it is left behind; it is from a fixed alphabet and needs no escaping.
    nlohmann::json j = {
        {"id", c.id},
        {"user", c.user},
        {"name", c.name},
        {"scopes", c.scopes},
        {"all_services", c.all_services},
        {"created", c.created},
        {"expires", c.expires ? nlohmann::json(*c.expires) : nlohmann::json(nullptr)}};
    const std::string rest = j.dump().substr(1);
    std::printf("{\"password\":\"%.*s\",%s\n", static_cast<int>(c.password.size()),
                c.password.data(), rest.c_str());
  } else {
    std::printf("App password \"%s\" for %s (id %s), scopes: %s, expires: %s\n\n",
                TerminalSafe(c.name).c_str(), TerminalSafe(c.user).c_str(),
                TerminalSafe(c.id).c_str(),
                c.all_services     ? "all services"
                : c.scopes.empty() ? "none given (unscoped: every service)"
                                   : TerminalSafe(Join(c.scopes, ", ")).c_str(),
                c.expires ? TerminalSafe(*c.expires).c_str() : "never");
    std::printf("    %.*s\n\n", static_cast<int>(c.password.size()), c.password.data());
    std::printf("Enter it in the mail client now: it is shown only this once.\n");
  }
  std::fflush(stdout);
  return kExitOk;
}

void AddCreateCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "create",
      "Create an app password for USER (needs confirmed MFA; at most the policy's max_active "
      "active ones); it is printed once. As a user: for yourself, after a verification code");
  auto a = std::make_shared<CreateArgs>();
  cmd->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
  cmd->add_option("--name", a->name,
                  "Label, e.g. \"iPhone mail\" (unique among USER's active ones)")
      ->required();
  auto* scope = cmd->add_option(
      "--scope", a->scopes,
      "Service it is valid for (PAM service / SASL service, e.g. imap, smtp); repeatable. "
      "One of --scope and --all-services is required");
  cmd->add_flag("--all-services", a->all_services,
                "Valid for every service the PAM module and SASL plugin are configured for "
                "(root only)")
      ->excludes(scope);
  auto* expires = cmd->add_option("--expires", a->expires,
                                  "Lifetime: 90d, 12h, 30m, 2w, a number of seconds, or never");
  cmd->add_flag("--json", a->json,
                "Print {\"id\",\"user\",\"name\",\"password\",\"scopes\",\"all_services\","
                "\"created\",\"expires\"}");
  cmd->callback([&ctx, a, expires] {
    a->expires_given = expires->count() > 0;
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfCreate(ctx, *a) : Create(ctx, *a); };
  });
}

}  // namespace apppass::cli
