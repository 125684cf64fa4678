// apppass revoke: end an app password's access at once. As root in the store (then the
// hooks run); as a user, the caller's own through apppassd (REVOKE, with a code).
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

Status CheckSelector(const RevokeSelector& sel) {
  if (static_cast<int>(!sel.id.empty()) + static_cast<int>(!sel.name.empty()) +
          static_cast<int>(sel.all) !=
      1)
    return Status::InvalidArgument("say which: an ID, --name LABEL or --all");
  return Status::Ok();
}

int Revoke(const Context& ctx, const RevokeArgs& a) {
  if (a.user.empty())
    return Fail(Status::InvalidArgument("USER is required (apppass revoke USER ...)"));
  Status s = CheckSelector(a.sel);
  if (!s.ok()) return Fail(s);
  std::vector<std::string> ids;
  {
    Store store;  // closed before the hooks run
    if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
    if (!(s = RevokePasswords(store, a.user, a.sel, Now(), &ids)).ok()) return Fail(s);
  }
  PrintRevoked(a.user, ids);
  // Caches (Dovecot's auth cache...) learn of it through the hooks; the revocation stands
  // whatever they do.
  const HookEvent ev{.event = kHookEventRevoke, .user = a.user, .ids = ids, .db = ctx.db};
  return RunToolHooks(ctx, ev);
}

// As a user: REVOKE id | name | all=yes with a code. `revoke ID` parses ID as USER (both
// are optional positionals): a USER that is not the caller's own name is the ID then.
int SelfRevoke(const Context& ctx, RevokeArgs a) {
  std::string self;
  Status s = SelfName(&self);
  if (!s.ok()) return Fail(s);
  if (!a.user.empty() && a.user != self && a.sel.id.empty() && (a.sel.all || !a.sel.name.empty()))
    return Fail(CheckSelfUser(a.user, &self));  // another user's: not found
  if (!a.user.empty() && a.user != self && a.sel.id.empty()) std::swap(a.user, a.sel.id);
  if (!(s = CheckSelfUser(a.user, &self)).ok()) return Fail(s);
  if (!(s = CheckSelector(a.sel)).ok()) return Fail(s);
  broker::Request req{.kind = broker::RequestKind::kRevoke, .id = 1, .fields = {}};
  if (!a.sel.id.empty()) s = req.fields.Add("id", a.sel.id);
  else if (!a.sel.name.empty()) s = req.fields.Add("name", a.sel.name);
  else s = req.fields.Add("all", "yes");
  if (!s.ok()) return Fail(s);
  SecretBuffer code;
  if (!(s = ReadVerificationCode(&code)).ok()) return Fail(s);
  if (!(s = req.fields.Add("code", code.view())).ok()) return Fail(s);
  code.clear();
  broker::CallResult res;
  if (!(s = CallBroker(ctx, req, &res)).ok()) return Fail(s);
  PrintRevoked(self, SplitSpaces(FieldText(res.final, "revoked")));
  return kExitOk;
}

}  // namespace

void PrintRevoked(const std::string& user, const std::vector<std::string>& ids) {
  std::string list;
  for (const auto& id : ids) list += " " + id;
  std::printf("Revoked %zu app password%s of %s:%s\n", ids.size(), ids.size() == 1 ? "" : "s",
              TerminalSafe(user).c_str(), TerminalSafe(list).c_str());
  std::fflush(stdout);
}

void AddRevokeCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("revoke",
                                 "Revoke USER's app password ID, or --name LABEL, or --all. As a "
                                 "user: your own, after a verification code");
  auto a = std::make_shared<RevokeArgs>();
  cmd->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
  cmd->add_option("ID", a->sel.id, "Id shown by 'apppass list'");
  cmd->add_option("--name", a->sel.name, "Revoke the active one with this label");
  cmd->add_flag("--all", a->sel.all, "Revoke all of USER's app passwords");
  cmd->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfRevoke(ctx, *a) : Revoke(ctx, *a); };
  });
}

}  // namespace apppass::cli
