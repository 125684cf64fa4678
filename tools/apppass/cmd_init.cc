// apppass init: create a store with its keys, tables, owners and modes.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string_view>

#include "cli.h"
#include "text.h"

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
  auto group = std::make_shared<std::string>();
  auto map_size = std::make_shared<std::string>();
  // Accepted for scripts written for apppass before the store became root-only.
  auto* group_opt = cmd->add_option(
      "--group", *group,
      "Ignored (kept for old scripts): the store is root:root 0700, its files 0600. The group "
      "apppass now only says who may ask apppassd to verify");
  cmd->add_option("--map-size", *map_size,
                  "Largest size data.mdb may grow to: 128K to 1T, e.g. 4G (default 1G). On an "
                  "existing store, changes it (raise it when the store is full)");
  cmd->callback([&ctx, group, map_size, group_opt] {
    ctx.run = [&ctx, group, map_size, given_group = group_opt->count() > 0] {
      if (given_group)
        std::fprintf(stderr,
                     "apppass: warning: --group %s is ignored: the store is root-only; group "
                     "membership now only lets a service ask apppassd to verify\n",
                     TerminalSafe(*group).c_str());
      std::size_t size = 0;
      if (!map_size->empty()) {
        const auto parsed = ParseSize(*map_size);
        if (!parsed)
          return Fail(Status::InvalidArgument("--map-size takes a size such as 64M, 4G or 1T"));
        size = *parsed;
      }
      Status s = Store::Init(ctx.db, size);
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
      if (geteuid() != 0)
        std::fprintf(stderr,
                     "note: not run as root: the files belong to you, and apppass opens a store "
                     "only as root\n");
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace apppass::cli
