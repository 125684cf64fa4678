// apppass revoke: end an app password's access at once.
#include <cstdio>

#include "admin.h"
#include "cli.h"
#include "text.h"

namespace apppass::cli {

namespace {

struct RevokeArgs {
  std::string user;
  RevokeSelector sel;
};

int Revoke(const Context& ctx, const RevokeArgs& a) {
  if (static_cast<int>(!a.sel.id.empty()) + static_cast<int>(!a.sel.name.empty()) +
          static_cast<int>(a.sel.all) !=
      1)
    return Fail(Status::InvalidArgument("say which: an ID, --name LABEL or --all"));
  std::vector<std::string> ids;
  {
    Store store;  // closed before the hooks run
    Status s = OpenAdmin(ctx, &store);
    if (!s.ok()) return Fail(s);
    if (!(s = RevokePasswords(store, a.user, a.sel, Now(), &ids)).ok()) return Fail(s);
  }
  std::string list;
  for (const auto& id : ids) list += " " + id;
  std::printf("Revoked %zu app password%s of %s:%s\n", ids.size(), ids.size() == 1 ? "" : "s",
              TerminalSafe(a.user).c_str(), TerminalSafe(list).c_str());
  // Caches (Dovecot's auth cache...) learn of it through the hooks; the revocation stands
  // whatever they do.
  const HookEvent ev{.event = kHookEventRevoke, .user = a.user, .ids = ids, .db = ctx.db};
  return RunToolHooks(ctx, ev);
}

}  // namespace

void AddRevokeCommand(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("revoke", "Revoke USER's app password ID, or --name LABEL, or --all");
  auto a = std::make_shared<RevokeArgs>();
  cmd->add_option("USER", a->user, "User name")->required();
  cmd->add_option("ID", a->sel.id, "Id shown by 'apppass list'");
  cmd->add_option("--name", a->sel.name, "Revoke the active one with this label");
  cmd->add_flag("--all", a->sel.all, "Revoke all of USER's app passwords");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return Revoke(ctx, *a); }; });
}

}  // namespace apppass::cli
