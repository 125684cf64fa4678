// apppass policy show|set|reset: the self-service policy in the store (policy.h), what
// users may do for themselves through apppassd. Root, in-process, like every admin command.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "policy.h"
#include "text.h"

namespace apppass::cli {

namespace {

struct PolicyArgs {
  std::string key, value;
  bool json = false;
};

nlohmann::ordered_json Duration(const std::optional<std::int64_t>& d) {
  return d ? nlohmann::ordered_json(DurationText(*d)) : nlohmann::ordered_json(nullptr);
}

int Show(const Context& ctx, const PolicyArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  Policy p;
  if (!(s = ReadPolicy(store, &p)).ok()) return Fail(s);
  if (a.json) {
    const nlohmann::ordered_json j = {{"self_enroll", p.self_enroll},
                                      {"self_service_scopes", p.self_service_scopes},
                                      {"max_active", p.max_active},
                                      {"default_expiry", Duration(p.default_expiry)},
                                      {"max_expiry", Duration(p.max_expiry)}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (std::string_view k : kPolicyKeys)
      std::printf("%.*s %s\n", static_cast<int>(k.size()), k.data(), PolicyValueText(p, k).c_str());
  }
  return kExitOk;
}

int Set(const Context& ctx, const PolicyArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  if (!(s = SetPolicy(store, a.key, a.value)).ok()) return Fail(s);
  Policy p;  // the value as it is now stored, in its normal form ("2w" reads back "14d")
  if (!(s = ReadPolicy(store, &p)).ok()) return Fail(s);
  std::printf("Policy %s is now %s.\n", a.key.c_str(), PolicyValueText(p, a.key).c_str());
  return kExitOk;
}

int Reset(const Context& ctx) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  if (!(s = ResetPolicy(store)).ok()) return Fail(s);
  std::printf("Policy reset to the defaults.\n");
  return kExitOk;
}

std::string KeysHelp() {
  std::string out;
  for (std::string_view k : kPolicyKeys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

}  // namespace

void AddPolicyCommand(CLI::App& app, Context& ctx) {
  auto* policy = app.add_subcommand(
      "policy", "Show or set what users may do for themselves through apppassd (self-service)");
  policy->require_subcommand(1);
  auto a = std::make_shared<PolicyArgs>();

  auto* show = policy->add_subcommand("show", "Print the policy, one 'KEY VALUE' line per key");
  show->add_flag("--json", a->json,
                 "Print {\"self_enroll\",\"self_service_scopes\",\"max_active\","
                 "\"default_expiry\",\"max_expiry\"} as JSON");
  show->callback([&ctx, a] { ctx.run = [&ctx, a] { return Show(ctx, *a); }; });

  auto* set = policy->add_subcommand(
      "set",
      "Set one key: self_enroll yes|no; self_service_scopes \"imap smtp ...\"; max_active "
      "1..1000 (binds admins too); default_expiry, max_expiry: 90d, 12h, 2w or never");
  set->add_option("KEY", a->key, KeysHelp())->required();
  set->add_option("VALUE", a->value, "The value (quote a list of scopes)")->required();
  set->callback([&ctx, a] { ctx.run = [&ctx, a] { return Set(ctx, *a); }; });

  auto* reset =
      policy->add_subcommand("reset", "Remove the stored policy: the defaults apply again");
  reset->callback([&ctx] { ctx.run = [&ctx] { return Reset(ctx); }; });
}

}  // namespace apppass::cli
