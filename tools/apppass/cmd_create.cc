// apppass create: generate an app password for a user with confirmed MFA, shown once.
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
  std::vector<std::string> scopes;
  bool json = false;
};

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

int Create(const Context& ctx, const CreateArgs& a) {
  CreateRequest req{.user = a.user, .name = a.name, .scopes = a.scopes, .expires = {}};
  const std::int64_t now = Now();
  if (a.expires != "never") {
    const auto secs = ParseDuration(a.expires);
    if (!secs)
      return Fail(Status::InvalidArgument(
          "--expires takes a duration such as 90d, 12h, 30m, 2w or 'never'"));
    req.expires = now + *secs;
  }
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  Created c;
  if (!(s = CreatePassword(store, req, now, &c)).ok()) return Fail(s);
  const Credential& cr = c.cred;
  if (a.json) {
    // The password is spliced in rather than put in a json value, so no extra heap copy
    // of it is left behind; it is from a fixed alphabet and needs no escaping.
    nlohmann::json j = {
        {"id", cr.id},
        {"user", cr.user},
        {"name", cr.name},
        {"scopes", cr.scopes},
        {"created", Iso(cr.created)},
        {"expires", cr.expires ? nlohmann::json(Iso(*cr.expires)) : nlohmann::json(nullptr)}};
    const std::string rest = j.dump().substr(1);
    std::printf("{\"password\":\"%.*s\",%s\n", static_cast<int>(c.password.size()),
                c.password.view().data(), rest.c_str());
  } else {
    std::printf("App password \"%s\" for %s (id %s), scopes: %s, expires: %s\n\n",
                TerminalSafe(cr.name).c_str(), TerminalSafe(cr.user).c_str(), cr.id.c_str(),
                cr.scopes.empty() ? "all services" : Join(cr.scopes, ", ").c_str(),
                cr.expires ? Iso(*cr.expires).c_str() : "never");
    std::printf("    %.*s\n\n", static_cast<int>(c.password.size()), c.password.view().data());
    std::printf("Enter it in the mail client now: it is shown only this once.\n");
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void AddCreateCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "create",
      "Create an app password for USER (needs confirmed MFA; at most the policy's max_active "
      "active ones); it is printed once");
  auto a = std::make_shared<CreateArgs>();
  cmd->add_option("USER", a->user, "User name")->required();
  cmd->add_option("--name", a->name,
                  "Label, e.g. \"iPhone mail\" (unique among USER's active ones)")
      ->required();
  cmd->add_option("--scope", a->scopes,
                  "Service it is valid for (PAM service / SASL service, e.g. imap, smtp); "
                  "repeatable; none means every service");
  cmd->add_option("--expires", a->expires,
                  "Lifetime: 90d, 12h, 30m, 2w, a number of seconds, or never");
  cmd->add_flag("--json", a->json,
                "Print {\"id\",\"user\",\"name\",\"password\",\"scopes\",\"created\",\"expires\"}");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return Create(ctx, *a); }; });
}

}  // namespace apppass::cli
