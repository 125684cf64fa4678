// Shared pieces of the apppass admin tool: the run context, exit codes, output helpers.
// Each subcommand lives in its own cmd_*.cc and registers itself with Add*Command().
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "hooks.h"
#include "status.h"
#include "store.h"

namespace apppass::cli {

// Exit codes (documented in apppass(8) and --help).
enum Exit : int {
  kExitOk = 0,
  kExitError = 1,        // internal or unexpected error
  kExitUsage = 2,        // bad arguments or input
  kExitNotFound = 3,     // no such user, enrollment or app password
  kExitRefused = 4,      // refused by a rule: MFA not confirmed, wrong code, limit reached
  kExitUnavailable = 5,  // the store cannot be used
  kExitExists = 6,       // already exists
  kExitHookFailed = 7,   // done (the change was committed), but a hook failed (hooks.h)
  kExitProblems = 8,     // doctor, check: at least one problem found (warnings alone exit 0)
};

struct Context {
  std::string db = kDefaultStoreDir;
  std::string hooks_dir = kDefaultHooksDir;  // run after revoke and mfa reset (hooks.h)
  // Set by the chosen subcommand's callback; main() runs it after parsing.
  std::function<int()> run;
};

// Prints "apppass: MESSAGE" on stderr and returns the exit code for `s`.
int Fail(const Status& s);
// Runs the hooks of --hooks-dir for `ev` (hooks.h), printing "apppass: warning: ..." on
// stderr for each failure; returns kExitOk, or kExitHookFailed when one failed.
int RunToolHooks(const Context& ctx, const HookEvent& ev);
// Opens the store for administration, or prints why not. First tightens an older,
// group-accessible store (store_modes.h), printing one line on stderr per entry changed.
Status OpenAdmin(const Context& ctx, Store* store);
// The store directory of --db without trailing slashes, as reports name it.
std::string StoreDir(const Context& ctx);
// Writes a finished report to stdout and flushes it; returns `exit_code` (for the
// subcommands that print a report and exit by what it found: check, doctor).
int PrintReport(const std::string& text, int exit_code);
std::int64_t Now();
// ISO 8601 UTC, or "null" semantics handled by callers.
std::string Iso(std::int64_t t);

void AddInitCommand(CLI::App& app, Context& ctx);
void AddMfaCommand(CLI::App& app, Context& ctx);
void AddCreateCommand(CLI::App& app, Context& ctx);
void AddListCommand(CLI::App& app, Context& ctx);
void AddRevokeCommand(CLI::App& app, Context& ctx);
void AddDoctorCommand(CLI::App& app, Context& ctx);
void AddCheckCommand(CLI::App& app, Context& ctx);
void AddPolicyCommand(CLI::App& app, Context& ctx);

}  // namespace apppass::cli
