// apppass list: app passwords with their last use, as a table or JSON.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin.h"
#include "cli.h"
#include "text.h"

namespace apppass::cli {

namespace {

struct ListArgs {
  std::string user;
  bool json = false;
  bool revoked = false;
};

nlohmann::json OptTime(const std::optional<std::int64_t>& t) {
  return t ? nlohmann::json(Iso(*t)) : nlohmann::json(nullptr);
}

int List(const Context& ctx, const ListArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  std::vector<Listed> items;
  if (!(s = ListPasswords(store, a.user, a.revoked, &items)).ok()) return Fail(s);
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& l : items) {
      const Credential& c = l.cred;
      nlohmann::json j = {{"id", c.id},
                          {"user", c.user},
                          {"name", c.name},
                          {"scopes", c.scopes},
                          {"created", Iso(c.created)},
                          {"expires", OptTime(c.expires)},
                          {"last_used", nullptr},
                          {"last_service", nullptr},
                          {"last_rhost", nullptr}};
      if (l.last_use) {
        j["last_used"] = Iso(l.last_use->time);
        j["last_service"] = l.last_use->service;
        j["last_rhost"] =
            l.last_use->rhost.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.last_use->rhost);
      }
      if (a.revoked) j["revoked"] = OptTime(c.revoked);
      arr.push_back(std::move(j));
    }
    std::printf("%s\n", arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  if (items.empty()) {
    std::printf("No app passwords%s.\n",
                a.user.empty() ? "" : (" for " + TerminalSafe(a.user)).c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "SERVICE", "FROM"}};
  for (const auto& l : items) {
    const Credential& c = l.cred;
    std::string scopes;
    for (const auto& sc : c.scopes) scopes += (scopes.empty() ? "" : ",") + sc;
    rows.push_back({c.id, c.user, c.name, scopes.empty() ? "*" : scopes, Iso(c.created),
                    c.revoked   ? "revoked " + Iso(*c.revoked)
                    : c.expires ? Iso(*c.expires)
                                : "never",
                    l.last_use ? Iso(l.last_use->time) : "never",
                    l.last_use ? l.last_use->service : "-",
                    l.last_use && !l.last_use->rhost.empty() ? l.last_use->rhost : "-"});
    // Stored strings reach root's terminal: labels and names from older stores, and hosts
    // recorded before the usage database escaped them, may hold escapes or bidi controls.
    for (std::string& cell : rows.back()) cell = TerminalSafe(cell);
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i)
      line += i + 1 == r.size() ? r[i] : fmt::format("{:<{}}  ", r[i], width[i]);
    std::printf("%s\n", line.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddListCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "list", "List app passwords (of USER, or of everyone) with their last use");
  auto a = std::make_shared<ListArgs>();
  cmd->add_option("USER", a->user, "Only this user's");
  cmd->add_flag("--revoked", a->revoked, "Include revoked ones");
  cmd->add_flag("--json", a->json,
                "Print [{\"id\",\"user\",\"name\",\"scopes\",\"created\",\"expires\",\"last_used\","
                "\"last_service\",\"last_rhost\"}]");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return List(ctx, *a); }; });
}

}  // namespace apppass::cli
