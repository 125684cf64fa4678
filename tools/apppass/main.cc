// apppass: the admin tool. Wires the subcommands together; each is in cmd_*.cc. Run by
// root it works on the store in-process; run by any other user it asks apppassd, for that
// user's own account only (self-service, issue 11).
#include <sodium.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <fmt/format.h>

#include "cli.h"
#include "text.h"

namespace apppass::cli {

namespace {

// The commands only root may run (a user gets NeedsRoot): they work on the whole store or
// on another user's enrollment. `list`, `create`, `revoke`, `mfa status|enroll|confirm`
// go through apppassd; doctor only reads and stays open to everyone.
constexpr std::string_view kRootOnly[] = {"init",       "check",      "mfa reset",
                                          "mfa import", "policy set", "policy reset"};

// The chosen command as words ("mfa reset").
std::string CommandPath(const CLI::App& app) {
  std::string path;
  for (const CLI::App* cur = &app; !cur->get_subcommands().empty();) {
    cur = cur->get_subcommands().front();
    path += (path.empty() ? "" : " ") + cur->get_name();
  }
  return path;
}

}  // namespace

int RunToolHooks(const Context& ctx, const HookEvent& ev) {
  const bool ok = RunHooks(ctx.hooks_dir, ev, [](const std::string& line) {
    std::fprintf(stderr, "apppass: warning: %s\n", TerminalSafe(line).c_str());
    std::fflush(stderr);
  });
  return ok ? kExitOk : kExitHookFailed;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "apppass: %s\n", TerminalSafe(s.message()).c_str());
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidArgument: return kExitUsage;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kPermissionDenied: return kExitRefused;
    case Status::Code::kUnavailable: return kExitUnavailable;
    case Status::Code::kAlreadyExists: return kExitExists;
    case Status::Code::kInternal: break;
  }
  return kExitError;
}

Status OpenAdmin(const Context& ctx, Store* store) {
  std::vector<std::string> tightened;
  const Status s = Store::Open(ctx.db, Store::Mode::kAdmin, store, &tightened);
  // A store made by an older apppass: one line per entry made root's alone.
  for (const auto& line : tightened)
    std::fprintf(stderr, "apppass: made root-only: %s\n", TerminalSafe(line).c_str());
  return s;
}

std::string StoreDir(const Context& ctx) {
  std::string dir = ctx.db;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

int PrintReport(const std::string& text, int exit_code) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return exit_code;
}

std::int64_t Now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string Iso(std::int64_t t) { return FormatIsoUtc(t); }

}  // namespace apppass::cli

int main(int argc, char** argv) {
  using namespace apppass::cli;
  if (sodium_init() < 0) {
    std::fprintf(stderr, "apppass: libsodium failed to initialize\n");
    return kExitError;
  }
  // Under a file size limit (ulimit -f) a write that would grow data.mdb must fail with
  // EFBIG and a clear message, not kill the tool with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  Context ctx;
  CLI::App app{
      "apppass: app passwords for mail clients that cannot do MFA.\n"
      "Enroll a user in TOTP MFA, confirm it, then create, list and revoke app passwords\n"
      "that pam_apppass.so and the apppass SASL plugin accept.\n\n"
      "Exit status: 0 ok, 1 internal error, 2 bad arguments or input, 3 not found,\n"
      "4 refused (MFA not confirmed, wrong code, limit), 5 store unavailable, 6 already exists,\n"
      "7 done, but a hook failed (revoke and mfa reset run the hooks in --hooks-dir),\n"
      "8 doctor or check found a problem.\n\n"
      "Self-service: run by a user other than root, apppass asks the apppass service\n"
      "(apppassd, on --socket) and acts on that user's own account only: list, create,\n"
      "revoke, mfa status, and mfa enroll and confirm when the administrator allows it.\n"
      "Every change asks for a current code from the user's authenticator app\n"
      "(prompt 'Verification code: ', or one line on stdin). Exit 5 when the service is\n"
      "not running; 4 for a command that needs root.",
      "apppass"};
  app.option_defaults()->always_capture_default();
  app.add_option("--db", ctx.db, "Store directory")->capture_default_str();
  app.add_option("--hooks-dir", ctx.hooks_dir,
                 "Programs run after revoke and mfa reset, e.g. to flush Dovecot's auth cache "
                 "(a missing directory means none)")
      ->capture_default_str()
      ->check(
          [](const std::string& v) { return std::string(v.empty() ? "must not be empty" : ""); });
  app.add_option("--socket", ctx.socket,
                 "As a user: the apppass service's socket (self-service; root works on --db)")
      ->capture_default_str()
      ->check(
          [](const std::string& v) { return std::string(v.empty() ? "must not be empty" : ""); });
  app.set_version_flag("--version", std::string("apppass ") + APPPASS_VERSION);
  app.require_subcommand(1);
  AddInitCommand(app, ctx);
  AddMfaCommand(app, ctx);
  AddCreateCommand(app, ctx);
  AddListCommand(app, ctx);
  AddRevokeCommand(app, ctx);
  AddDoctorCommand(app, ctx);
  AddCheckCommand(app, ctx);
  AddPolicyCommand(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a missing subcommand before a stray word, so "apppass frob" and
    // "apppass mfa frob" would only say "A subcommand is required": name the word.
    std::string command;  // the subcommands given, e.g. "mfa"
    const CLI::App* cur = &app;
    while (!cur->get_subcommands().empty()) {
      cur = cur->get_subcommands().front();
      command += cur->get_name() + " ";
    }
    const std::vector<std::string> extra = cur->remaining();
    if (cur->get_require_subcommand_min() > 0 && !extra.empty())
      std::fprintf(stderr, "apppass: unknown command '%s%s' (see 'apppass %s--help')\n",
                   command.c_str(), extra.front().c_str(), command.c_str());
    else std::fprintf(stderr, "apppass: %s (see 'apppass --help')\n", e.what());
    return kExitUsage;
  }
  if (!ctx.run) return kExitUsage;
  ctx.self_service = getuid() != 0;
  if (ctx.self_service) {
    const std::string command = CommandPath(app);
    for (std::string_view root_only : kRootOnly)
      if (command == root_only) return NeedsRoot(command);
  }
  try {
    return ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "apppass: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "apppass: internal error\n");
  }
  return kExitError;
}
