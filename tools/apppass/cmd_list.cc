// apppass list: app passwords with their last use, as a table or JSON. As root from the
// store; as a user, the user's own through apppassd (LIST).
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

nlohmann::json OptText(const std::optional<std::string>& t) {
  return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

std::optional<std::string> OptIso(const std::optional<std::int64_t>& t) {
  return t ? std::optional<std::string>(Iso(*t)) : std::nullopt;
}

int List(const Context& ctx, const ListArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  std::vector<Listed> items;
  if (!(s = ListPasswords(store, a.user, a.revoked, &items)).ok()) return Fail(s);
  std::vector<ListRow> rows;
  rows.reserve(items.size());
  for (const auto& l : items) {
    const Credential& c = l.cred;
    ListRow r{.id = c.id,
              .user = c.user,
              .name = c.name,
              .scopes = c.scopes,
              .all_services = c.all_services,
              .created = Iso(c.created),
              .expires = OptIso(c.expires),
              .is_revoked = c.revoked.has_value(),
              .revoked = OptIso(c.revoked)};
    if (l.last_use) {
      r.last_used = Iso(l.last_use->time);
      r.last_service = l.last_use->service;
      if (!l.last_use->rhost.empty()) r.last_rhost = l.last_use->rhost;
    }
    rows.push_back(std::move(r));
  }
  return PrintList(rows, a.user, a.json, a.revoked);
}

// As a user: LIST (revoked=yes with --revoked); its ITEMs (id, name, scopes, all_services?,
// created, expires?, revoked?, last_used?, last_service?, last_rhost?, state) are the caller's,
// named by the daemon.
int SelfList(const Context& ctx, const ListArgs& a) {
  std::string self;
  Status s = CheckSelfUser(a.user, &self);
  if (!s.ok()) return Fail(s);
  broker::Request req{.kind = broker::RequestKind::kList, .id = 1, .fields = {}};
  if (a.revoked && !(s = req.fields.Add("revoked", "yes")).ok()) return Fail(s);
  broker::CallResult res;
  if (!(s = CallBroker(ctx, req, &res)).ok()) return Fail(s);
  const std::string user =
      FieldText(res.final, "user").empty() ? self : FieldText(res.final, "user");
  std::vector<ListRow> rows;
  for (const auto& item : res.items) {
    const bool revoked = FieldText(item, "state") == "revoked";
    if (revoked && !a.revoked) continue;  // a daemon that sends them anyway
    ListRow r{.id = FieldText(item, "id"),
              .user = user,
              .name = FieldText(item, "name"),
              .scopes = SplitSpaces(FieldText(item, "scopes")),
              .all_services = FieldText(item, "all_services") == "yes",
              .created = FieldText(item, "created"),
              .expires = OptionalField(item, "expires"),
              .is_revoked = revoked,
              .revoked = OptionalField(item, "revoked")};
    if ((r.last_used = OptionalField(item, "last_used"))) {
      r.last_service = FieldText(item, "last_service");
      r.last_rhost = OptionalField(item, "last_rhost");
    }
    rows.push_back(std::move(r));
  }
  return PrintList(rows, a.user.empty() ? std::string() : user, a.json, a.revoked);
}

}  // namespace

int PrintList(const std::vector<ListRow>& items, const std::string& user, bool json,
              bool with_revoked) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : items) {
      nlohmann::json j = {{"id", r.id},
                          {"user", r.user},
                          {"name", r.name},
                          {"scopes", r.scopes},
                          {"all_services", r.all_services},
                          {"created", r.created},
                          {"expires", OptText(r.expires)},
                          {"last_used", OptText(r.last_used)},
                          {"last_service", OptText(r.last_service)},
                          {"last_rhost", OptText(r.last_rhost)}};
      if (with_revoked) j["revoked"] = OptText(r.revoked);
      arr.push_back(std::move(j));
    }
    std::printf("%s\n", arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  if (items.empty()) {
    std::printf("No app passwords%s.\n",
                user.empty() ? "" : (" for " + TerminalSafe(user)).c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "SERVICE", "FROM"}};
  for (const auto& r : items) {
    std::string scopes;
    for (const auto& sc : r.scopes) scopes += (scopes.empty() ? "" : ",") + sc;
    // An old record made without a scope is valid everywhere too, but nobody chose that:
    // `apppass check` warns about it.
    rows.push_back({r.id, r.user, r.name,
                    r.all_services   ? "all services"
                    : scopes.empty() ? "(unscoped)"
                                     : scopes,
                    r.created,
                    r.is_revoked ? (r.revoked ? "revoked " + *r.revoked : "revoked")
                    : r.expires  ? *r.expires
                                 : "never",
                    r.last_used.value_or("never"), r.last_used ? r.last_service.value_or("") : "-",
                    r.last_rhost.value_or("-")});
    // Stored strings reach the terminal: labels and names from older stores, and hosts
    // recorded before the usage database escaped them, may hold escapes or bidi controls;
    // and as a user every field comes from another process.
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

void AddListCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "list",
      "List app passwords (of USER, or of everyone) with their last use; as a user, your own");
  auto a = std::make_shared<ListArgs>();
  cmd->add_option("USER", a->user, "Only this user's");
  cmd->add_flag("--revoked", a->revoked, "Include revoked ones");
  cmd->add_flag("--json", a->json,
                "Print [{\"id\",\"user\",\"name\",\"scopes\",\"all_services\",\"created\","
                "\"expires\",\"last_used\",\"last_service\",\"last_rhost\"}] (scopes [] with "
                "all_services false: an old unscoped one)");
  cmd->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfList(ctx, *a) : List(ctx, *a); };
  });
}

}  // namespace apppass::cli
