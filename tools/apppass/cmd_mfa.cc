// apppass mfa enroll|confirm|import|status|reset: the TOTP enrollment that gates app
// passwords. 'import' accepts a user's existing pam_google_authenticator or pam_oath
// enrollment instead of a new one (mfa_import.h).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "admin.h"
#include "cli.h"
#include "mfa_import.h"
#include "qr.h"
#include "secret.h"
#include "text.h"

namespace apppass::cli {

namespace {

struct MfaArgs {
  std::string user;
  std::string code;
  std::string issuer;
  bool json = false;
  // mfa import: exactly one of the two; an empty file means the default.
  bool from_google_authenticator = false;
  bool from_oath = false;
  std::string file;
};

std::string DefaultIssuer() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "apppass";
  return std::string("apppass@") + host;
}

// Reads a code from stdin: one line, at most a few bytes; prompts when on a terminal.
bool ReadCode(std::string* code) {
  if (isatty(STDIN_FILENO)) std::fprintf(stderr, "Code from the authenticator app: ");
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  *code = line.substr(0, 16);
  return true;
}

int Enroll(const Context& ctx, const MfaArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  EnrollResult r;
  s = MfaEnroll(store, a.user, a.issuer.empty() ? DefaultIssuer() : a.issuer, Now(), &r);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    nlohmann::json j = {{"user", a.user}, {"secret", std::string(r.base32.view())}, {"uri", r.uri}};
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("MFA enrollment started for %s.\n\n", TerminalSafe(a.user).c_str());
  if (isatty(STDOUT_FILENO)) std::printf("%s\n", RenderQr(r.uri).c_str());
  std::printf("Secret (for manual entry): %.*s\nURI: %s\n\n", static_cast<int>(r.base32.size()),
              r.base32.view().data(), r.uri.c_str());
  std::printf("Add it to an authenticator app, then confirm with:\n  apppass mfa confirm %s\n",
              TerminalSafe(a.user).c_str());
  return kExitOk;
}

int Confirm(const Context& ctx, MfaArgs a) {
  if (a.code.empty() && !ReadCode(&a.code))
    return Fail(Status::InvalidArgument("no code given (argument or stdin)"));
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  if (!(s = MfaConfirm(store, a.user, a.code, Now())).ok()) return Fail(s);
  std::printf("MFA enrollment of %s confirmed.\n", TerminalSafe(a.user).c_str());
  return kExitOk;
}

int Import(const Context& ctx, MfaArgs a) {
  if (a.from_google_authenticator == a.from_oath)
    return Fail(Status::InvalidArgument(
        "say where the enrollment is: --google-authenticator [FILE] or --oath [FILE]"));
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  // The user's account: its uid may own the file, its home holds ~/.google_authenticator.
  uid_t uid = 0;
  std::string home;
  const Status account = LookupSystemUser(a.user, &uid, &home);
  if (!account.ok() && !account.IsNotFound()) return Fail(account);
  const std::optional<uid_t> user_uid = account.ok() ? std::optional<uid_t>(uid) : std::nullopt;
  ExistingTotp existing;
  std::string path = a.file;
  if (a.from_google_authenticator) {
    if (path.empty() && !account.ok())
      return Fail(Status::NotFound(account.message() +
                                   " to find ~/.google_authenticator; give the file after "
                                   "--google-authenticator"));
    if (path.empty()) path = home + "/.google_authenticator";
    s = ReadGoogleAuthenticatorFile(path, user_uid, &existing);
  } else {
    if (path.empty()) path = kDefaultOathUsersFile;
    s = ReadOathUsersFile(path, a.user, user_uid, &existing);
  }
  // "import alice --oath 123456" reads the code as the FILE: say so.
  if (s.IsNotFound() && a.code.empty() && a.file.size() == 6 &&
      a.file.find_first_not_of("0123456789") == std::string::npos)
    s = Status::NotFound(s.message() +
                         " (a code right after the option is taken as FILE: "
                         "put the code before the option)");
  if (!s.ok()) return Fail(s);
  if (a.code.empty() && !ReadCode(&a.code))
    return Fail(Status::InvalidArgument("no code given (argument or stdin)"));
  if (!(s = MfaImport(store, a.user, existing, a.code, Now())).ok()) return Fail(s);
  std::printf("MFA enrollment of %s imported from %s (%s) and confirmed.\n",
              TerminalSafe(a.user).c_str(), LogText(path).c_str(), existing.source.c_str());
  return kExitOk;
}

int StatusCmd(const Context& ctx, const MfaArgs& a) {
  Store store;
  Status s = OpenAdmin(ctx, &store);
  if (!s.ok()) return Fail(s);
  UserRecord u;
  s = MfaGet(store, a.user, &u);
  if (!s.ok() && !s.IsNotFound()) return Fail(s);
  const MfaState state = s.ok() ? u.mfa : MfaState::kNone;
  if (a.json) {
    nlohmann::json j = {{"user", a.user},
                        {"state", std::string(MfaStateName(state))},
                        {"enrolled", nullptr},
                        {"confirmed", nullptr},
                        {"source", nullptr}};
    if (state != MfaState::kNone) j["enrolled"] = Iso(u.enrolled);
    if (state != MfaState::kNone) j["source"] = u.source;
    if (u.confirmed && state == MfaState::kConfirmed) j["confirmed"] = Iso(*u.confirmed);
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  const std::string user = TerminalSafe(a.user);
  switch (state) {
    case MfaState::kNone: std::printf("%s: not enrolled\n", user.c_str()); break;
    case MfaState::kPending:
      std::printf("%s: pending since %s (confirm with 'apppass mfa confirm %s')\n", user.c_str(),
                  Iso(u.enrolled).c_str(), user.c_str());
      break;
    case MfaState::kConfirmed:
      std::printf(
          "%s: confirmed on %s%s\n", user.c_str(), Iso(u.confirmed.value_or(u.enrolled)).c_str(),
          u.source == kSourceApppass ? ""
                                     : (" (imported from " + TerminalSafe(u.source) + ")").c_str());
      break;
  }
  return kExitOk;
}

int Reset(const Context& ctx, const MfaArgs& a) {
  int revoked = 0;
  {
    Store store;  // closed before the hooks run
    Status s = OpenAdmin(ctx, &store);
    if (!s.ok()) return Fail(s);
    if (!(s = MfaReset(store, a.user, Now(), &revoked)).ok()) return Fail(s);
  }
  std::printf("MFA enrollment of %s removed; %d app password%s revoked.\n",
              TerminalSafe(a.user).c_str(), revoked, revoked == 1 ? "" : "s");
  // As after revoke (cmd_revoke.cc); no ids: all of the user's app passwords are revoked.
  const HookEvent ev{.event = kHookEventMfaReset, .user = a.user, .ids = {}, .db = ctx.db};
  return RunToolHooks(ctx, ev);
}

}  // namespace

void AddMfaCommand(CLI::App& app, Context& ctx) {
  auto* mfa = app.add_subcommand(
      "mfa", "Enroll a user in TOTP MFA (or import an existing one), confirm, show or reset it");
  mfa->require_subcommand(1);
  auto a = std::make_shared<MfaArgs>();

  auto* enroll = mfa->add_subcommand(
      "enroll",
      "Create a TOTP secret for USER; print the otpauth:// URI (and a QR code on a terminal)");
  enroll->add_option("USER", a->user, "User name")->required();
  enroll->add_option("--issuer", a->issuer,
                     "Issuer shown by the authenticator app (default apppass@HOSTNAME)");
  enroll->add_flag("--json", a->json, "Print {\"user\",\"secret\",\"uri\"} as JSON");
  enroll->callback([&ctx, a] { ctx.run = [&ctx, a] { return Enroll(ctx, *a); }; });

  auto* confirm = mfa->add_subcommand(
      "confirm",
      "Confirm USER's enrollment with a current 6-digit code (read from stdin if not given)");
  confirm->add_option("USER", a->user, "User name")->required();
  confirm->add_option("CODE", a->code, "Current code from the authenticator app");
  confirm->callback([&ctx, a] { ctx.run = [&ctx, a] { return Confirm(ctx, *a); }; });

  auto* import = mfa->add_subcommand(
      "import",
      "Accept USER's existing pam_google_authenticator or pam_oath TOTP enrollment as "
      "confirmed MFA, once a current 6-digit code (read from stdin if not given) verifies");
  import->add_option("USER", a->user, "User name")->required();
  import->add_option("CODE", a->code, "Current code from the user's authenticator app");
  auto* ga = import
                 ->add_option("--google-authenticator", a->file,
                              "Read the google-authenticator state file FILE (default "
                              "~USER/.google_authenticator)")
                 ->expected(0, 1)
                 ->type_name("[FILE]");
  auto* oath = import
                   ->add_option("--oath", a->file,
                                "Read USER's entry in the pam_oath usersfile FILE (default " +
                                    std::string(kDefaultOathUsersFile) + ")")
                   ->expected(0, 1)
                   ->type_name("[FILE]");
  ga->excludes(oath);
  import->callback([&ctx, a, ga, oath] {
    a->from_google_authenticator = ga->count() > 0;
  a->from_oath = oath->count() > 0;
  ctx.run = [&ctx, a] { return Import(ctx, *a); };
});

auto* status = mfa->add_subcommand("status", "Show USER's enrollment: none, pending or confirmed");
status->add_option("USER", a->user, "User name")->required();
status->add_flag("--json", a->json,
                 "Print {\"user\",\"state\",\"enrolled\",\"confirmed\",\"source\"} as JSON");
status->callback([&ctx, a] { ctx.run = [&ctx, a] { return StatusCmd(ctx, *a); }; });

auto* reset =
    mfa->add_subcommand("reset", "Remove USER's enrollment and revoke all their app passwords");
reset->add_option("USER", a->user, "User name")->required();
reset->callback([&ctx, a] { ctx.run = [&ctx, a] { return Reset(ctx, *a); }; });
}  // namespace apppass::cli

}  // namespace apppass::cli
