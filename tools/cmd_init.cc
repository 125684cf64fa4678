// apppass init: create a store with its keys, tables, owners and modes.
#include <grp.h>
#include <unistd.h>

#include <cstdio>

#include "cli.h"

namespace apppass::cli {

void AddInitCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("init", "Create the store (keys, database, usage database)");
  auto group = std::make_shared<std::string>("apppass");
  cmd->add_option("--group", *group,
                  "Group of the services that verify (given read access; run as root)")
      ->capture_default_str();
  cmd->callback([&ctx, group] {
    ctx.run = [&ctx, group] {
      Status s = Store::Init(ctx.db, *group);
      if (s.code() == Status::Code::kAlreadyExists) {
        Store store;
        Status open = OpenAdmin(ctx, &store);
        if (!open.ok()) return Fail(open);
        std::printf("Store %s is already initialized; left as it is.\n", ctx.db.c_str());
        return static_cast<int>(kExitOk);
      }
      if (!s.ok()) return Fail(s);
      std::printf("Initialized apppass store in %s\n", ctx.db.c_str());
      if (geteuid() != 0) {
        std::fprintf(stderr, "note: not run as root: the files belong to you and no group was set\n");
      } else if (getgrnam(group->c_str()) == nullptr) {
        std::fprintf(stderr,
                     "note: group '%s' does not exist, so only root can verify app passwords.\n"
                     "      For services that verify as another user (e.g. postfix):\n"
                     "      groupadd --system %s && chgrp -R %s %s && adduser postfix %s\n",
                     group->c_str(), group->c_str(), group->c_str(), ctx.db.c_str(), group->c_str());
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace apppass::cli
