// apppass mfa enroll|confirm|replace|import|status|recovery-codes|reset: the TOTP enrollment
// that gates app passwords and is the second factor of interactive logins
// (second_factor.h). 'import' accepts a user's existing pam_google_authenticator or
// pam_oath enrollment instead of a new one (mfa_import.h). Confirming (or importing) makes
// the user's recovery codes and shows them once; 'recovery-codes' makes new ones
// (recovery_codes.h). 'replace' changes the authenticator app of a confirmed enrollment
// (mfa_replace.h): a current code of the old app makes a new secret pending beside it, and
// 'confirm' with a code of the new app swaps them (app passwords and recovery codes kept).
// As a user, status, enroll (when the policy allows), confirm, replace and recovery-codes
// act on the caller's own enrollment through apppassd.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin.h"
#include "cli.h"
#include "mfa_import.h"
#include "mfa_replace.h"
#include "qr.h"
#include "recovery_codes.h"
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

std::vector<std::string_view> Views(const std::vector<SecretBuffer>& codes) {
  std::vector<std::string_view> out;
  for (const auto& c : codes) out.push_back(c.view());
  return out;
}

// The command that makes new recovery codes for `user` (root's form).
std::string RecoveryCodesHint(const std::string& user) {
  return "apppass mfa recovery-codes " + TerminalSafe(user);
}
// ... and a user's own.
constexpr const char* kSelfRecoveryCodesHint = "apppass mfa recovery-codes";

// The recovery codes of apppassd's answer (MFA_CONFIRM, MFA_RECOVERY): one ITEM with
// recovery_code= each (held in the answer's SecretBuffers; the views point there), as
// many as the OK's count says. None when the answer has no ITEM and no count (a re-check).
Status RecoveryCodesOf(const broker::CallResult& res, std::vector<std::string_view>* codes) {
  const std::optional<std::string> count = OptionalField(res.final, "count");
  if (res.items.empty() && !count) return Status::Ok();
  if (count != std::to_string(res.items.size()))
    return Status::Internal("the apppass service's answer has a wrong number of recovery codes");
  for (const broker::Reply& item : res.items) {
    const SecretBuffer* code = item.fields.GetSecret("recovery_code");
    if (code == nullptr)
      return Status::Internal("the apppass service's answer has an item without a recovery code");
    codes->push_back(code->view());
  }
  return Status::Ok();
}

std::string DefaultIssuer() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "apppass";
  return std::string("apppass@") + host;
}

constexpr const char* kCodePrompt = "Code from the authenticator app: ";
// The prompts of a replacement: which app the code is from.
constexpr const char* kCurrentAppPrompt = "Verification code (current authenticator app): ";
constexpr const char* kNewAppPrompt = "Verification code (new authenticator app): ";

// Reads a code from stdin: one line, at most a few bytes; prompts when on a terminal.
bool ReadCode(std::string* code, const char* prompt = kCodePrompt) {
  if (isatty(STDIN_FILENO)) std::fprintf(stderr, "%s", prompt);
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  *code = line.substr(0, 16);
  return true;
}

// Root names the user; a command run without one says so as CLI11 would.
Status NeedUser(const MfaArgs& a, const char* command) {
  if (!a.user.empty()) return Status::Ok();
  return Status::InvalidArgument(fmt::format("USER is required (apppass mfa {} USER)", command));
}

int Enroll(const Context& ctx, const MfaArgs& a) {
  Status s = NeedUser(a, "enroll");
  if (!s.ok()) return Fail(s);
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  EnrollResult r;
  s = MfaEnroll(store, a.user, a.issuer.empty() ? DefaultIssuer() : a.issuer, Now(), &r);
  if (!s.ok()) return Fail(s);
  return PrintEnrolled(a.user, r.base32.view(), r.uri, a.json,
                       "apppass mfa confirm " + TerminalSafe(a.user));
}

// As a user, when the policy allows it: MFA_ENROLL (the daemon chooses the issuer).
int SelfEnroll(const Context& ctx, const MfaArgs& a) {
  std::string self;
  Status s = CheckSelfUser(a.user, &self);
  if (!s.ok()) return Fail(s);
  if (!a.issuer.empty())
    return Fail(Status::InvalidArgument("--issuer is for root; the apppass service sets it"));
  broker::Request req{.kind = broker::RequestKind::kMfaEnroll, .id = 1, .fields = {}};
  broker::CallResult res;
  if (!(s = CallBroker(ctx, req, &res)).ok()) return Fail(s);
  const SecretBuffer* secret = res.final.fields.GetSecret("secret");
  const SecretBuffer* uri = res.final.fields.GetSecret("uri");
  if (secret == nullptr || uri == nullptr)
    return Fail(Status::Internal("the apppass service's answer has no secret or URI"));
  return PrintEnrolled(self, secret->view(), uri->view(), a.json, "apppass mfa confirm");
}

// What `confirm` says when it swapped in a new authenticator app.
std::string ReplacedMessage(const std::string& user) {
  return "New authenticator app of " + TerminalSafe(user) +
         " confirmed; the old one's codes are no longer accepted (app passwords and recovery "
         "codes kept).";
}

// Root's confirm of a pending replacement (SelfMfaReplaceConfirm) with a code of the new app.
int ConfirmReplacement(const Store& store, const MfaArgs& a) {
  SecretBuffer code(a.code.size());
  if (!code.valid() || !code.assign(a.code)) return Fail(Status::Internal("out of secure memory"));
  if (Status s = SelfMfaReplaceConfirm(store, a.user, code, Now()); !s.ok()) return Fail(s);
  return PrintConfirmed(a.user, ReplacedMessage(a.user), {}, a.json, RecoveryCodesHint(a.user));
}

// A confirmed enrollment with a new secret waiting beside it (mfa_replace.h).
bool ReplacementPending(const UserRecord& u) {
  return u.mfa == MfaState::kConfirmed && !u.pending_secret.empty();
}

int Confirm(const Context& ctx, MfaArgs a) {
  Status s = NeedUser(a, "confirm");
  if (!s.ok()) return Fail(s);
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  // A confirmed user with a replacement pending confirms the new app (the code is one of
  // its codes); else the pending enrollment, or a re-check of the confirmed one.
  UserRecord u;
  s = MfaGet(store, a.user, &u);
  if (!s.ok() && !s.IsNotFound()) return Fail(s);
  const bool replacing = s.ok() && ReplacementPending(u);
  if (a.code.empty() && !ReadCode(&a.code, replacing ? kNewAppPrompt : kCodePrompt))
    return Fail(Status::InvalidArgument("no code given (argument or stdin)"));
  if (replacing) return ConfirmReplacement(store, a);
  std::vector<SecretBuffer> codes;
  if (!(s = MfaConfirm(store, a.user, a.code, Now(), &codes)).ok()) return Fail(s);
  return PrintConfirmed(a.user, "MFA enrollment of " + TerminalSafe(a.user) + " confirmed.",
                        Views(codes), a.json, RecoveryCodesHint(a.user));
}

// Six to eight digits: what a TOTP code looks like.
bool LooksLikeCode(const std::string& s) {
  return s.size() >= 6 && s.size() <= 8 && s.find_first_not_of("0123456789") == std::string::npos;
}

// A user's command that takes a code: refused when one came on the command line (as CODE,
// or as a USER that looks like one), else the caller's name in *self (CheckSelfUser).
Status CheckSelfCodeCommand(const MfaArgs& a, const char* command, std::string* self) {
  Status s = SelfName(self);
  if (!s.ok()) return s;
  if (!a.code.empty() || (a.user != *self && LooksLikeCode(a.user)))
    return Status::InvalidArgument(
        fmt::format("as a user, the code is not taken from the command line (others could read "
                    "it there): run 'apppass mfa {}' and type it at the prompt, or give it on "
                    "stdin",
                    command));
  return CheckSelfUser(a.user, self);
}

// Sends a request of `kind` with a code read at `prompt` (terminal or stdin).
Status CallWithCode(const Context& ctx, broker::RequestKind kind, std::string_view prompt,
                    broker::CallResult* res) {
  SecretBuffer code;
  Status s = ReadVerificationCode(&code, prompt);
  if (!s.ok()) return s;
  broker::Request req{.kind = kind, .id = 1, .fields = {}};
  if (!(s = req.fields.Add("code", code.view())).ok()) return s;
  code.clear();
  return CallBroker(ctx, req, res);
}

// As a user: MFA_CONFIRM with a code from the terminal or stdin, never from argv; or, when
// MFA_STATUS says a new authenticator app is pending, MFA_REPLACE_CONFIRM with its code.
int SelfConfirm(const Context& ctx, const MfaArgs& a) {
  std::string self;
  Status s = CheckSelfCodeCommand(a, "confirm", &self);
  if (!s.ok()) return Fail(s);
  broker::Request status{.kind = broker::RequestKind::kMfaStatus, .id = 1, .fields = {}};
  broker::CallResult state;
  if (!(s = CallBroker(ctx, status, &state)).ok()) return Fail(s);
  broker::CallResult res;
  if (OptionalField(state.final, "replacement_pending")) {
    if (!(s = CallWithCode(ctx, broker::RequestKind::kMfaReplaceConfirm, kNewAppPrompt, &res)).ok())
      return Fail(s);
    return PrintConfirmed(self, ReplacedMessage(self), {}, a.json, kSelfRecoveryCodesHint);
  }
  if (!(s = CallWithCode(ctx, broker::RequestKind::kMfaConfirm, kVerificationPrompt, &res)).ok())
    return Fail(s);
  // Confirming a pending enrollment made the recovery codes: shown now, once.
  std::vector<std::string_view> codes;
  if (!(s = RecoveryCodesOf(res, &codes)).ok()) return Fail(s);
  return PrintConfirmed(self, "MFA enrollment of " + TerminalSafe(self) + " confirmed.", codes,
                        a.json, kSelfRecoveryCodesHint);
}

// Root: a new authenticator app for USER's confirmed enrollment, with a current code of
// the old one (SelfMfaReplace); the new secret is shown once, as enroll shows one.
int Replace(const Context& ctx, const MfaArgs& a) {
  Status s = NeedUser(a, "replace");
  if (!s.ok()) return Fail(s);
  SecretBuffer code;
  if (a.code.empty()) {
    if (!(s = ReadVerificationCode(&code, kCurrentAppPrompt)).ok()) return Fail(s);
  } else if (code = SecretBuffer(a.code.size()); !code.valid() || !code.assign(a.code)) {
    return Fail(Status::Internal("out of secure memory"));
  }
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  EnrollResult r;
  s = SelfMfaReplace(store, a.user, code, a.issuer.empty() ? DefaultIssuer() : a.issuer, Now(), &r);
  if (!s.ok()) return Fail(s);
  const int rc = PrintEnrolled(a.user, r.base32.view(), r.uri, a.json,
                               "apppass mfa confirm " + TerminalSafe(a.user), true);
  WipeString(r.uri);
  return rc;
}

// As a user: MFA_REPLACE with a current code (terminal or stdin, never argv); the daemon
// chooses the issuer.
int SelfReplace(const Context& ctx, const MfaArgs& a) {
  std::string self;
  Status s = CheckSelfCodeCommand(a, "replace", &self);
  if (!s.ok()) return Fail(s);
  if (!a.issuer.empty())
    return Fail(Status::InvalidArgument("--issuer is for root; the apppass service sets it"));
  broker::CallResult res;
  if (!(s = CallWithCode(ctx, broker::RequestKind::kMfaReplace, kCurrentAppPrompt, &res)).ok())
    return Fail(s);
  const SecretBuffer* secret = res.final.fields.GetSecret("secret");
  const SecretBuffer* uri = res.final.fields.GetSecret("uri");
  if (secret == nullptr || uri == nullptr)
    return Fail(Status::Internal("the apppass service's answer has no secret or URI"));
  return PrintEnrolled(self, secret->view(), uri->view(), a.json, "apppass mfa confirm", true);
}

int Import(const Context& ctx, MfaArgs a) {
  if (Status s = NeedUser(a, "import"); !s.ok()) return Fail(s);
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
  std::vector<SecretBuffer> codes;
  if (!(s = MfaImport(store, a.user, existing, a.code, Now(), &codes)).ok()) return Fail(s);
  return PrintConfirmed(a.user,
                        fmt::format("MFA enrollment of {} imported from {} ({}) and confirmed.",
                                    TerminalSafe(a.user), LogText(path), existing.source),
                        Views(codes), a.json, RecoveryCodesHint(a.user));
}

std::optional<std::string> OptIso(bool present, std::int64_t t) {
  return present ? std::optional<std::string>(Iso(t)) : std::nullopt;
}

int StatusCmd(const Context& ctx, const MfaArgs& a) {
  Status s = NeedUser(a, "status");
  if (!s.ok()) return Fail(s);
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  UserRecord u;
  s = MfaGet(store, a.user, &u);
  if (!s.ok() && !s.IsNotFound()) return Fail(s);
  const MfaState state = s.ok() ? u.mfa : MfaState::kNone;
  const bool enrolled = state != MfaState::kNone;
  const bool confirmed = u.confirmed && state == MfaState::kConfirmed;
  const MfaStatusView v{
      .user = a.user,
      .state = std::string(MfaStateName(state)),
      .enrolled = OptIso(enrolled, u.enrolled),
      .confirmed = OptIso(confirmed, u.confirmed.value_or(0)),
      .source = enrolled ? std::optional<std::string>(u.source) : std::nullopt,
      .recovery_codes_left = state == MfaState::kConfirmed
                                 ? std::optional<int>(static_cast<int>(u.recovery.size()))
                                 : std::nullopt,
      .replacement_pending = OptIso(s.ok() && ReplacementPending(u), u.pending_since)};
  return PrintMfaStatus(v, a.json, "apppass mfa confirm " + TerminalSafe(a.user));
}

// As a user: MFA_STATUS (user, state, enrolled?, confirmed?, source?).
int SelfStatus(const Context& ctx, const MfaArgs& a) {
  std::string self;
  Status s = CheckSelfUser(a.user, &self);
  if (!s.ok()) return Fail(s);
  broker::Request req{.kind = broker::RequestKind::kMfaStatus, .id = 1, .fields = {}};
  broker::CallResult res;
  if (!(s = CallBroker(ctx, req, &res)).ok()) return Fail(s);
  const broker::Reply& r = res.final;
  const MfaStatusView v{.user = FieldText(r, "user").empty() ? self : FieldText(r, "user"),
                        .state = FieldText(r, "state"),
                        .enrolled = OptionalField(r, "enrolled"),
                        .confirmed = OptionalField(r, "confirmed"),
                        .source = OptionalField(r, "source"),
                        .recovery_codes_left = CountField(r, "recovery_codes_left"),
                        .replacement_pending = OptionalField(r, "replacement_pending")};
  return PrintMfaStatus(v, a.json, "apppass mfa confirm");
}

// Root: new recovery codes for USER, voiding the old (MfaRecoveryCodes).
int RecoveryCodes(const Context& ctx, const MfaArgs& a) {
  Status s = NeedUser(a, "recovery-codes");
  if (!s.ok()) return Fail(s);
  Store store;
  if (!(s = OpenAdmin(ctx, &store)).ok()) return Fail(s);
  std::vector<SecretBuffer> codes;
  s = MfaRecoveryCodes(store, a.user, Now(), &codes);
  if (s.code() == Status::Code::kPermissionDenied)
    s = Status::PermissionDenied(fmt::format(
        "{} has no confirmed MFA enrollment; recovery codes come with one ('apppass mfa enroll "
        "{}', then 'apppass mfa confirm {}')",
        a.user, a.user, a.user));
  if (!s.ok()) return Fail(s);
  return PrintRecoveryCodes(a.user, Views(codes), a.json, RecoveryCodesHint(a.user));
}

// As a user: MFA_RECOVERY with a current code (terminal or stdin, never argv), the new
// codes printed as root's are.
int SelfRecoveryCodes(const Context& ctx, const MfaArgs& a) {
  std::string self;
  Status s = CheckSelfCodeCommand(a, "recovery-codes", &self);
  if (!s.ok()) return Fail(s);
  broker::CallResult res;
  if (!(s = CallWithCode(ctx, broker::RequestKind::kMfaRecovery, kVerificationPrompt, &res)).ok())
    return Fail(s);
  std::vector<std::string_view> codes;
  if (!(s = RecoveryCodesOf(res, &codes)).ok()) return Fail(s);
  if (codes.empty())
    return Fail(Status::Internal("the apppass service's answer has no recovery codes"));
  return PrintRecoveryCodes(self, codes, a.json, kSelfRecoveryCodesHint);
}

int Reset(const Context& ctx, const MfaArgs& a) {
  if (Status s = NeedUser(a, "reset"); !s.ok()) return Fail(s);
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

int PrintEnrolled(const std::string& user, std::string_view secret, std::string_view uri, bool json,
                  const std::string& confirm_hint, bool replacing) {
  if (json) {
    nlohmann::json j = {{"user", user}, {"secret", std::string(secret)}, {"uri", std::string(uri)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  // The secret and URI come from the store or from apppassd: made safe for the terminal
  // like every other text (a valid one is base32 and a URI, unchanged by TerminalSafe).
  const std::string safe_uri = TerminalSafe(uri);
  if (replacing)
    std::printf(
        "New authenticator app for %s: the current one keeps working until this one is "
        "confirmed.\n\n",
        TerminalSafe(user).c_str());
  else std::printf("MFA enrollment started for %s.\n\n", TerminalSafe(user).c_str());
  if (isatty(STDOUT_FILENO)) std::printf("%s\n", RenderQr(uri).c_str());
  std::printf("Secret (for manual entry): %s\nURI: %s\n\n", TerminalSafe(secret).c_str(),
              safe_uri.c_str());
  std::printf("Add it to %s, then confirm with:\n  %s\n",
              replacing ? "the new authenticator app" : "an authenticator app",
              confirm_hint.c_str());
  return kExitOk;
}

int PrintRecoveryCodes(const std::string& user, const std::vector<std::string_view>& codes,
                       bool json, const std::string& again_hint) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (auto c : codes) list.push_back(std::string(c));
    const nlohmann::json j = {{"user", user}, {"recovery_codes", std::move(list)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  std::printf("Recovery codes for %s (each passes the verification code step once):\n\n",
              TerminalSafe(user).c_str());
  for (auto c : codes) std::printf("  %s\n", TerminalSafe(c).c_str());
  std::printf(
      "\nThey are shown only now. Store them safely, away from the authenticator (printed, or in "
      "a\npassword manager). Making new ones ('%s') voids these.\n",
      again_hint.c_str());
  return kExitOk;
}

int PrintConfirmed(const std::string& user, const std::string& message,
                   const std::vector<std::string_view>& codes, bool json,
                   const std::string& again_hint) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (auto c : codes) list.push_back(std::string(c));
    const nlohmann::json j = {
        {"user", user}, {"state", "confirmed"}, {"recovery_codes", std::move(list)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  std::printf("%s\n", message.c_str());
  if (codes.empty()) return kExitOk;
  std::printf("\n");
  return PrintRecoveryCodes(user, codes, false, again_hint);
}

int PrintMfaStatus(const MfaStatusView& v, bool json, const std::string& confirm_hint) {
  if (json) {
    nlohmann::json j = {{"user", v.user},
                        {"state", v.state},
                        {"enrolled", v.enrolled ? nlohmann::json(*v.enrolled) : nullptr},
                        {"confirmed", v.confirmed ? nlohmann::json(*v.confirmed) : nullptr},
                        {"source", v.source ? nlohmann::json(*v.source) : nullptr},
                        {"recovery_codes_left",
                         v.recovery_codes_left ? nlohmann::json(*v.recovery_codes_left) : nullptr},
                        {"replacement_pending",
                         v.replacement_pending ? nlohmann::json(*v.replacement_pending) : nullptr}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  const std::string user = TerminalSafe(v.user);
  const std::string enrolled = TerminalSafe(v.enrolled.value_or(""));
  if (v.state == MfaStateName(MfaState::kPending)) {
    std::printf("%s: pending since %s (confirm with '%s')\n", user.c_str(), enrolled.c_str(),
                confirm_hint.c_str());
  } else if (v.state == MfaStateName(MfaState::kConfirmed)) {
    const std::string source = v.source.value_or(std::string(kSourceApppass));
    std::printf(
        "%s: confirmed on %s%s\n", user.c_str(),
        TerminalSafe(v.confirmed.value_or(enrolled)).c_str(),
        source == kSourceApppass ? "" : (" (imported from " + TerminalSafe(source) + ")").c_str());
    if (v.recovery_codes_left) {
      const int left = *v.recovery_codes_left;
      if (left == 0)
        std::printf(
            "%s: no recovery codes left (make new ones with 'apppass mfa recovery-codes')\n",
            user.c_str());
      else std::printf("%s: %d recovery code%s left\n", user.c_str(), left, left == 1 ? "" : "s");
    }
    if (v.replacement_pending)
      std::printf(
          "%s: new authenticator app pending since %s; the current one works until it is "
          "confirmed ('%s')\n",
          user.c_str(), TerminalSafe(*v.replacement_pending).c_str(), confirm_hint.c_str());
  } else {
    std::printf("%s: not enrolled\n", user.c_str());
  }
  return kExitOk;
}

void AddMfaCommand(CLI::App& app, Context& ctx) {
  auto* mfa = app.add_subcommand(
      "mfa",
      "Enroll a user in TOTP MFA (or import an existing one), confirm, replace the authenticator "
      "app, show or reset it; make recovery codes");
  mfa->require_subcommand(1);
  auto a = std::make_shared<MfaArgs>();

  auto* enroll = mfa->add_subcommand(
      "enroll",
      "Create a TOTP secret for USER; print the otpauth:// URI (and a QR code on a terminal)");
  enroll->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
  enroll->add_option("--issuer", a->issuer,
                     "Issuer shown by the authenticator app (default apppass@HOSTNAME)");
  enroll->add_flag("--json", a->json, "Print {\"user\",\"secret\",\"uri\"} as JSON");
  enroll->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfEnroll(ctx, *a) : Enroll(ctx, *a); };
  });

  auto* confirm = mfa->add_subcommand(
      "confirm",
      "Confirm USER's enrollment with a current 6-digit code (read from stdin if not given); "
      "prints USER's 10 recovery codes, once. After 'mfa replace': a code of the new app "
      "confirms it");
  confirm->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
  confirm->add_option("CODE", a->code,
                      "Current code from the authenticator app (root only: a user types it at "
                      "the prompt or gives it on stdin)");
  confirm->add_flag("--json", a->json,
                    "Print {\"user\",\"state\",\"recovery_codes\"} as JSON (the codes made when a "
                    "pending enrollment is confirmed; [] on a re-check)");
  confirm->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfConfirm(ctx, *a) : Confirm(ctx, *a); };
  });

  auto* replace = mfa->add_subcommand(
      "replace",
      "Change USER's authenticator app (a new phone): with a current code of the confirmed one "
      "(read from stdin if not given), make a new secret and print its otpauth:// URI (and a QR "
      "code on a terminal); the old app works until 'apppass mfa confirm' takes a code of the "
      "new one. App passwords and recovery codes are kept");
  replace->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
  replace->add_option("CODE", a->code,
                      "Current code from the authenticator app in use (root only: a user types "
                      "it at the prompt or gives it on stdin)");
  replace->add_option("--issuer", a->issuer,
                      "Issuer shown by the new authenticator app (default apppass@HOSTNAME)");
  replace->add_flag("--json", a->json, "Print {\"user\",\"secret\",\"uri\"} as JSON");
  replace->callback([&ctx, a] {
    ctx.run = [&ctx, a] { return ctx.self_service ? SelfReplace(ctx, *a) : Replace(ctx, *a); };
  });

  auto* import = mfa->add_subcommand(
      "import",
      "Accept USER's existing pam_google_authenticator or pam_oath TOTP enrollment as "
      "confirmed MFA, once a current 6-digit code (read from stdin if not given) verifies; "
      "prints USER's 10 recovery codes, once");
  import->add_option("USER", a->user, "User name");
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
  import->add_flag("--json", a->json, "Print {\"user\",\"state\",\"recovery_codes\"} as JSON");
  import->callback([&ctx, a, ga, oath] {
    a->from_google_authenticator = ga->count() > 0;
  a->from_oath = oath->count() > 0;
  ctx.run = [&ctx, a] { return Import(ctx, *a); };
});

auto* status = mfa->add_subcommand(
    "status",
    "Show USER's enrollment: none, pending or confirmed (and recovery codes left, and a new "
    "authenticator app waiting for confirmation)");
status->add_option("USER", a->user, "User name (as a user: yours, or leave it out)");
status->add_flag("--json", a->json,
                 "Print {\"user\",\"state\",\"enrolled\",\"confirmed\",\"source\","
                 "\"recovery_codes_left\",\"replacement_pending\"} as JSON");
status->callback([&ctx, a] {
  ctx.run = [&ctx, a] { return ctx.self_service ? SelfStatus(ctx, *a) : StatusCmd(ctx, *a); };
});

auto* recovery = mfa->add_subcommand(
    "recovery-codes",
    "Make 10 new one-time recovery codes for USER (confirmed MFA), voiding the old; print them "
    "once");
recovery->add_option("USER", a->user,
                     "User name (as a user: yours, or leave it out; a current code from the "
                     "authenticator app is asked for)");
recovery->add_flag("--json", a->json, "Print {\"user\",\"recovery_codes\"} as JSON");
recovery->callback([&ctx, a] {
  // As a user: apppassd's MFA_RECOVERY, with a current code.
  ctx.run = [&ctx, a] {
    return ctx.self_service ? SelfRecoveryCodes(ctx, *a) : RecoveryCodes(ctx, *a);
  };
});

auto* reset = mfa->add_subcommand(
    "reset", "Remove USER's enrollment and recovery codes and revoke all their app passwords");
reset->add_option("USER", a->user, "User name");
reset->callback([&ctx, a] { ctx.run = [&ctx, a] { return Reset(ctx, *a); }; });
}  // namespace apppass::cli

}  // namespace apppass::cli
