// apppass init: create a store with its keys, tables, owners and modes.
#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string_view>

#include "cli.h"

namespace apppass::cli {

namespace {

// "64K", "512M", "1G", "2T" (powers of 1024) or a number of bytes; nullopt otherwise.
std::optional<std::size_t> ParseSize(std::string_view text) {
  std::size_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k': unit = std::size_t{1} << 10; break;
      case 'M':
      case 'm': unit = std::size_t{1} << 20; break;
      case 'G':
      case 'g': unit = std::size_t{1} << 30; break;
      case 'T':
      case 't': unit = std::size_t{1} << 40; break;
      default: break;
    }
    if (unit != 1) text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 15) return std::nullopt;
  std::size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n > kMaxMapSize / unit) return std::nullopt;
  return n * unit;
}

}  // namespace

void AddInitCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("init", "Create the store (keys, database, usage database)");
  auto group = std::make_shared<std::string>("apppass");
  auto map_size = std::make_shared<std::string>();
  cmd->add_option("--group", *group,
                  "Group of the services that verify (given read access; run as root)")
      ->capture_default_str();
  cmd->add_option("--map-size", *map_size,
                  "Largest size data.mdb may grow to: 128K to 1T, e.g. 4G (default 1G). On an "
                  "existing store, changes it (raise it when the store is full)");
  cmd->callback([&ctx, group, map_size] {
    ctx.run = [&ctx, group, map_size] {
      std::size_t size = 0;
      if (!map_size->empty()) {
        const auto parsed = ParseSize(*map_size);
        if (!parsed)
          return Fail(Status::InvalidArgument("--map-size takes a size such as 64M, 4G or 1T"));
        size = *parsed;
      }
      Status s = Store::Init(ctx.db, *group, size);
      if (s.code() == Status::Code::kAlreadyExists) {
        Store store;
        Status open = OpenAdmin(ctx, &store);
        if (!open.ok()) return Fail(open);
        if (size != 0) {
          if (!(open = store.SetMapSize(size)).ok()) return Fail(open);
          std::printf("Store %s is already initialized; its map size is now %zu bytes.\n",
                      ctx.db.c_str(), size);
          return static_cast<int>(kExitOk);
        }
        std::printf("Store %s is already initialized; left as it is.\n", ctx.db.c_str());
        return static_cast<int>(kExitOk);
      }
      if (!s.ok()) return Fail(s);
      std::printf("Initialized apppass store in %s\n", ctx.db.c_str());
      if (geteuid() != 0) {
        std::fprintf(stderr,
                     "note: not run as root: the files belong to you and no group was set\n");
      } else if (getgrnam(group->c_str()) == nullptr) {
        std::fprintf(stderr,
                     "note: group '%s' does not exist, so only root can verify app passwords.\n"
                     "      For services that verify as another user (e.g. postfix):\n"
                     "      groupadd --system %s && chgrp -R %s %s && adduser postfix %s\n",
                     group->c_str(), group->c_str(), group->c_str(), ctx.db.c_str(),
                     group->c_str());
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace apppass::cli
