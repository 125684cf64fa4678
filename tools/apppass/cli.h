// Shared pieces of the apppass admin tool: the run context, exit codes, output helpers.
// Each subcommand lives in its own cmd_*.cc and registers itself with Add*Command().
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker_client.h"
#include "hooks.h"
#include "secret.h"
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
  kExitUnavailable = 5,  // the store (or, as a user, the apppass service) cannot be used
  kExitExists = 6,       // already exists
  kExitHookFailed = 7,   // done (the change was committed), but a hook failed (hooks.h)
  kExitProblems = 8,     // doctor, check: at least one problem found (warnings alone exit 0)
};

struct Context {
  std::string db = kDefaultStoreDir;
  std::string hooks_dir = kDefaultHooksDir;  // run after revoke and mfa reset (hooks.h)
  // Self-service (issue 11): run by a user other than root, the tool opens no store and
  // asks apppassd on this socket instead, for the caller's own account only.
  std::string socket = broker::kDefaultSocket;
  bool self_service = false;  // getuid() != 0, set once in main()
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

// --- What the commands print, whichever way the data came (from the store as root, from
// apppassd as a user). Times are ISO 8601 UTC text already. Each prints on stdout and
// returns the exit code.

// One app password as `list` shows it.
struct ListRow {
  std::string id, user, name;
  std::vector<std::string> scopes;  // empty: every service (all_services, or an old record)
  bool all_services = false;        // chosen on purpose (create --all-services)
  std::string created;
  std::optional<std::string> expires;
  bool is_revoked = false;
  std::optional<std::string> revoked;                              // when it was revoked, if known
  std::optional<std::string> last_used, last_service, last_rhost;  // last_* set together
};
// `user` is the user asked for ("" for everyone); `with_revoked` adds "revoked" to JSON.
int PrintList(const std::vector<ListRow>& rows, const std::string& user, bool json,
              bool with_revoked);

// A new app password, shown once. `password` is owned by the caller.
struct CreatedView {
  std::string id, user, name;
  std::vector<std::string> scopes;
  bool all_services = false;
  std::string created;
  std::optional<std::string> expires;
  std::string_view password;
};
int PrintCreated(const CreatedView& c, bool json);

// "Revoked N app passwords of USER: ID..." (no hooks: the caller runs them).
void PrintRevoked(const std::string& user, const std::vector<std::string>& ids);

// A user's MFA enrollment as `mfa status` shows it.
struct MfaStatusView {
  std::string user;
  std::string state;  // MfaStateName: none, pending, confirmed
  std::optional<std::string> enrolled, confirmed, source;
  std::optional<int> recovery_codes_left;  // confirmed only: unused recovery codes
  // confirmed only: since when a new authenticator app waits for confirmation (mfa replace)
  std::optional<std::string> replacement_pending;
};
// `confirm_hint` is the command that confirms a pending enrollment or replacement.
int PrintMfaStatus(const MfaStatusView& v, bool json, const std::string& confirm_hint);

// New recovery codes (recovery_codes.h), shown once: text with a line telling the user to
// store them safely and how to make new ones (`again_hint`), or with `json`
// {"user","recovery_codes":[...]}. The codes are owned by the caller.
int PrintRecoveryCodes(const std::string& user, const std::vector<std::string_view>& codes,
                       bool json, const std::string& again_hint);

// A confirmed enrollment (mfa confirm, mfa import): `message` ("MFA enrollment of alice
// confirmed."), then the recovery codes the confirmation made, if any (none after a
// re-check). With `json`: {"user","state":"confirmed","recovery_codes":[...]} ([] when
// none were made).
int PrintConfirmed(const std::string& user, const std::string& message,
                   const std::vector<std::string_view>& codes, bool json,
                   const std::string& again_hint);

// A started enrollment (or, `replacing`, a new authenticator app beside the confirmed
// one): secret and URI (both secret, owned by the caller), a QR code when stdout is a
// terminal, and `confirm_hint`. JSON {"user","secret","uri"} either way.
int PrintEnrolled(const std::string& user, std::string_view secret, std::string_view uri, bool json,
                  const std::string& confirm_hint, bool replacing = false);

// --- Self-service (self_service_cli.cc) ---

// The caller's own user name (getuid() -> getpwuid_r). NotFound when the uid has none.
Status SelfName(std::string* name);
// The USER a self-service command was given: empty or the caller's own name is fine (and
// *self is set to it); any other name is NotFound with the same message whether that user
// exists or not (no existence oracle).
Status CheckSelfUser(const std::string& given, std::string* self);
// Sends `request` to apppassd at ctx.socket (kRequestTimeout) and reads its answer. Ok
// with *out filled when the daemon answered OK; the daemon's FAIL as its Status (message
// made terminal-safe by Fail); Unavailable "the apppass service is not running (DETAIL);
// ask your administrator" when it could not be asked.
Status CallBroker(const Context& ctx, broker::Request& request, broker::CallResult* out);
// The value of a field of a reply, or "" / nullopt when absent.
std::string FieldText(const broker::Reply& r, std::string_view key);
std::optional<std::string> OptionalField(const broker::Reply& r, std::string_view key);
// A count field ("0".."1000000", no sign or leading zero), or nullopt when absent or not
// a count.
std::optional<int> CountField(const broker::Reply& r, std::string_view key);
// Splits a space-separated list ("imap smtp"); "" gives an empty list.
std::vector<std::string> SplitSpaces(std::string_view text);
// Prints the refusal of an admin-only command run by a user and returns kExitRefused.
int NeedsRoot(const std::string& command);

// Reads a TOTP verification code for a change (code_prompt.cc): with `prompt` and echo off
// when stdin is a terminal (echo restored on every path, SIGINT included), else one line
// of stdin (no prompt). Never from argv. Spaces are dropped. InvalidArgument when nothing
// (or more than 64 bytes) was given.
inline constexpr std::string_view kVerificationPrompt = "Verification code: ";
Status ReadVerificationCode(SecretBuffer* code, std::string_view prompt = kVerificationPrompt);

void AddInitCommand(CLI::App& app, Context& ctx);
void AddMfaCommand(CLI::App& app, Context& ctx);
void AddCreateCommand(CLI::App& app, Context& ctx);
void AddListCommand(CLI::App& app, Context& ctx);
void AddRevokeCommand(CLI::App& app, Context& ctx);
void AddDoctorCommand(CLI::App& app, Context& ctx);
void AddCheckCommand(CLI::App& app, Context& ctx);
void AddPolicyCommand(CLI::App& app, Context& ctx);

}  // namespace apppass::cli
