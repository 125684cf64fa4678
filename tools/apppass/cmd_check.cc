// apppass check: verify every invariant of the store (common/store_check.h) and report
// each problem with what to do. Only reads; safe while the services and the tool run.
#include "cli.h"
#include "store_check.h"

namespace apppass::cli {

namespace {

int Check(const Context& ctx, bool json) {
  const std::string dir = StoreDir(ctx);
  CheckReport report;
  const Status s = CheckStore(dir, CheckOptions{.now = Now()}, &report);
  if (!s.ok()) return Fail(s);
  return PrintReport(json ? FormatCheckJson(dir, report) : FormatCheckText(dir, report),
                     report.clean() ? kExitOk : kExitProblems);
}

}  // namespace

void AddCheckCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "check",
      "Verify every invariant of the store: tables readable, index and records agree, each\n"
      "user's list matches, record versions known, enrollments decode, keys present;\n"
      "warns about active app passwords made without --scope or --all-services.\n"
      "Only reads (safe while services verify). Prints one line per problem or warning\n"
      "with what to do, then a summary. Exit status 0 when there is no problem (warnings\n"
      "allowed), 8 when there is at least one, 5 when the store cannot be opened.");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag(
      "--json", *json,
      "Print {\"store\",\"users\",\"credentials\":{\"total\",\"active\",\"revoked\",\"expired\"},"
      "\"usage_records\",\"problems\",\"warnings\",\"findings\":[{\"status\",\"table\",\"key\","
      "\"message\",\"fix\"}]}");
  cmd->callback([&ctx, json] { ctx.run = [&ctx, json] { return Check(ctx, *json); }; });
}

}  // namespace apppass::cli
