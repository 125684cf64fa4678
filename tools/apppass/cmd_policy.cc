// apppass policy show|set|reset: the self-service policy in the store (policy.h), what
// users may do for themselves through apppassd. Root, in-process, like every admin command;
// `policy show` run by a user asks apppassd (POLICY_SHOW) and prints the same.
#include <charconv>
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

int PrintPolicy(const Policy& p, bool json) {
  if (json) {
    const nlohmann::ordered_json j = {{"self_enroll", p.self_enroll},
                                      {"self_service_scopes", p.self_service_scopes},
                                      {"max_active", p.max_active},
                                      {"default_expiry", Duration(p.default_expiry)},
                                      {"max_expiry", Duration(p.max_expiry)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    for (std::string_view k : kPolicyKeys)
      std::printf("%.*s %s\n", static_cast<int>(k.size()), k.data(),
                  TerminalSafe(PolicyValueText(p, k)).c_str());
  }
  return kExitOk;
}

int Show(const Context& ctx, const PolicyArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  Policy p;
  if (!(s = ReadPolicy(store, &p)).ok()) return Fail(s);
  return PrintPolicy(p, a.json);
}

// A duration as PolicyValueText writes it ("never" or "90d") back into *out.
bool ParseDurationText(const std::string& text, std::optional<std::int64_t>* out) {
  if (text == "never") {
    out->reset();
    return true;
  }
  *out = ParseDuration(text);
  return out->has_value();
}

// As a user: POLICY_SHOW, whose fields are PolicyValueText forms.
int SelfShow(const Context& ctx, const PolicyArgs& a) {
  broker::Request req{.kind = broker::RequestKind::kPolicyShow, .id = 1, .fields = {}};
  broker::CallResult res;
  Status s = CallBroker(ctx, req, &res);
  if (!s.ok()) return Fail(s);
  const broker::Reply& r = res.final;
  Policy p;
  const std::string enroll = FieldText(r, "self_enroll");
  const std::string max_active = FieldText(r, "max_active");
  p.self_enroll = enroll == "yes";
  p.self_service_scopes = SplitSpaces(FieldText(r, "self_service_scopes"));
  const auto [end, ec] =
      std::from_chars(max_active.data(), max_active.data() + max_active.size(), p.max_active);
  if ((enroll != "yes" && enroll != "no") || ec != std::errc() ||
      end != max_active.data() + max_active.size() ||
      !ParseDurationText(FieldText(r, "default_expiry"), &p.default_expiry) ||
      !ParseDurationText(FieldText(r, "max_expiry"), &p.max_expiry))
    return Fail(Status::Internal("the apppass service's policy answer is malformed"));
  return PrintPolicy(p, a.json);
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

  auto* show = policy->add_subcommand(
      "show", "Print the policy, one 'KEY VALUE' line per key (as a user: asked of apppassd)");
  show->add_flag("--json", a->json,
                 "Print {\"self_enroll\",\"self_service_scopes\",\"max_active\","
                 "\"default_expiry\",\"max_expiry\"} as JSON");
  show->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfShow(ctx, *a) : Show(ctx, *a); };
  });

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
