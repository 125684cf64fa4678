#include "doctor/pam_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "code_throttle.h"
#include "doctor/words.h"

namespace apppass::doctor {

namespace {

constexpr const char* kModuleName = "pam_apppass.so";

// The stacks the fixes name (README, pam_apppass(8)).
constexpr const char* kSafeRollout =
    "auth [success=done ignore=ignore default=die] pam_apppass.so unenrolled=ignore";
constexpr const char* kSafeProfile = "[success=end ignore=ignore default=die]";

std::string Where(const PamEntry& e) { return fmt::format("{} line {}", Clean(e.file), e.line); }

// "auth required pam_apppass.so", with " totp" for the TOTP step.
std::string Describe(const PamEntry& e) {
  const bool totp = IsApppass(e) && ReadApppassLine(e.args).totp;
  return fmt::format("{}{} {} {}{}", e.dash ? "-" : "", e.type, Clean(e.control, 80),
                     Clean(e.module, 120), totp ? " totp" : "");
}

// "pam_unix.so (imap line 2)".
std::string Named(const PamEntry& e) {
  return fmt::format("{} ({})", Clean(Basename(e.module)), Where(e));
}

bool Stops(const std::string& action) { return action == "bad" || action == "die"; }

// Where the stack goes on after entry `index` answers `value` with an action that does
// not end it: the next entry, or the one a jump lands on.
std::size_t GoOn(const PamEntry& e, std::size_t index, const std::string& value) {
  std::size_t jump = 0;
  return IsJump(ControlAction(e.control, value), &jump) ? index + 1 + jump : index + 1;
}

// The first module of `reached` that checks the real password, or nullptr.
const PamEntry* FirstPasswordModule(const std::vector<const PamEntry*>& reached) {
  for (const PamEntry* e : reached)
    if (ChecksRealPassword(*e)) return e;
  return nullptr;
}

// A pam_apppass totp line after `from` whose wrong code ends the stack: a real password
// alone does not log in there.
bool TotpFollows(const std::vector<PamEntry>& stack, const PamEntry* from) {
  bool after = false;
  for (const PamEntry& e : stack) {
    if (&e == from) after = true;
    else if (after && IsApppass(e) && ReadApppassLine(e.args).totp &&
             Stops(ControlAction(e.control, "auth_err")))
      return true;
  }
  return false;
}

// A module that checks a password, or pam_apppass in password mode (an app password is a
// password too): what a TOTP step must come after.
bool IsFirstFactor(const PamEntry& e) {
  if (IsApppass(e)) return !ReadApppassLine(e.args).totp;
  return ChecksRealPassword(e);
}

// The return values `e` can give when the password typed is wrong everywhere: a module
// that checks it refuses it (pam_deny refuses anything); pam_apppass in password mode also
// answers PAM_IGNORE with unenrolled=ignore; a TOTP step and a module that needs no
// password can go either way.
std::vector<const char*> AnswersToWrongPassword(const PamEntry& e) {
  const std::string base = Basename(e.module);
  if (IsApppass(e)) {
    const ApppassLine l = ReadApppassLine(e.args);
    if (l.totp) return {"success", "auth_err"};
    if (l.unenrolled_ignore) return {"auth_err", "ignore"};
    return {"auth_err"};
  }
  if (e.include || IsNoOp(base)) return {"ignore"};
  if (GrantsWithoutPassword(base)) return {"success", "auth_err"};
  return {"auth_err"};
}

// One way through an auth stack when the password typed is wrong, as libpam keeps it.
struct Way {
  std::size_t at = 0;                 // the entry it runs next
  const PamEntry* refused = nullptr;  // the first factor that refused, or nullptr
  bool failed = false;   // 'bad', or 'ok'/'done' on a refusal: the login fails ('reset' forgets)
  bool granted = false;  // 'ok'/'done' on success: the login passes unless it failed
};

// Every way libpam can run the auth stack from `from` when the password typed is wrong
// everywhere (AnswersToWrongPassword; stack[code] answers only "success", a right
// verification code). 'die' ends a way, and so does a jump back or past `to`. Returns the
// ways that reach entry `to`; with to == stack.size(), the ways that end the stack (run
// out, jump past its end, or 'done'). At most 8 per entry: the state, not the history.
std::vector<Way> WrongPasswordWays(const std::vector<PamEntry>& stack, const Way& from,
                                   std::size_t to, std::size_t code) {
  const bool to_end = to == stack.size();
  std::vector<std::array<bool, 8>> seen(to + 1);
  std::vector<Way> todo = {from};
  std::vector<Way> out;
  while (!todo.empty()) {
    const Way w = todo.back();
    todo.pop_back();
    bool& s = seen[w.at][(w.refused != nullptr ? 4 : 0) + (w.failed ? 2 : 0) + (w.granted ? 1 : 0)];
    if (s) continue;
    s = true;
    if (w.at == to) {
      out.push_back(w);
      continue;
    }
    const PamEntry& e = stack[w.at];
    const std::vector<const char*> answers =
        w.at == code ? std::vector<const char*>{"success"} : AnswersToWrongPassword(e);
    for (const std::string value : answers) {
      const std::string a = ControlAction(e.control, value);
      const std::size_t next = GoOn(e, w.at, value);
      if (a == "die" || next <= w.at || (next > to && !to_end)) continue;
      const bool refusal = value == "auth_err" && IsFirstFactor(e);
      Way n = w;
      n.at = std::min(next, to);
      if (n.refused == nullptr && refusal) n.refused = &e;
      if (a == "reset") n.failed = n.granted = false;
      else if (a == "bad") n.failed = true;
      else if (a == "ok" || a == "done") (value == "success" ? n.granted : n.failed) = true;
      if (a != "done") todo.push_back(n);
      else if (to_end) out.push_back(n);
    }
  }
  return out;
}

// What a wrong password does at the TOTP step stack[index]: each the first factor that
// refused it on the first way found, nullptr when no way does.
struct WrongPassword {
  // The refusal did not fail the login, and after a right code nothing fails it: the code
  // alone logs in.
  const PamEntry* code_alone = nullptr;
  // The login fails, but only after the code is asked, checked and counted.
  const PamEntry* code_asked = nullptr;
};

WrongPassword WrongPasswordAtTotp(const std::vector<PamEntry>& stack, std::size_t index) {
  WrongPassword r;
  for (const Way& w : WrongPasswordWays(stack, Way{}, index, index)) {
    if (w.refused == nullptr) continue;
    if (!w.failed) {
      for (const Way& end : WrongPasswordWays(stack, w, stack.size(), index))
        if (end.granted && !end.failed && r.code_alone == nullptr) r.code_alone = w.refused;
    }
    if (r.code_asked == nullptr) r.code_asked = w.refused;
  }
  return r;
}

std::vector<Finding> AnalyzeTotpEntry(const std::vector<PamEntry>& stack, std::size_t index,
                                      const ApppassLine& line) {
  std::vector<Finding> out;
  const PamEntry& e = stack[index];
  const std::string where = Where(e);
  const char* kFix =
      "put 'auth required pam_apppass.so totp' after the password module (e.g. after 'auth "
      "required pam_unix.so' or '@include common-auth')";
  // A wrong code (or a store that cannot be used) must end the login.
  for (const char* value : {"auth_err", "authinfo_unavail"}) {
    const std::string a = ControlAction(e.control, value);
    if (Stops(a)) continue;
    std::string why;
    if (a == "ok" || a == "done") {
      why = fmt::format("'{}' counts a wrong verification code as success", Describe(e));
    } else {
      const WalkResult w = WalkAfterRefusal(stack, GoOn(e, index, value));
      const PamEntry* pw = FirstPasswordModule(w.reached);
      if (w.result == Walk::kSafe && pw == nullptr) continue;  // e.g. on to pam_deny
      why = fmt::format(
          "after '{}' refuses a wrong verification code, {}", Describe(e),
          w.result == Walk::kGrants ? fmt::format("{} can accept the login", Named(*w.by))
          : pw != nullptr           ? fmt::format("{} can accept the password again", Named(*pw))
                          : std::string("the stack goes on, and the modules before it decide"));
    }
    out.push_back(Make("pam", Level::kProblem,
                       fmt::format("{}: {}: the second factor can be skipped", where, why), kFix));
    return out;
  }
  // The password module first, and it must not end the stack on success.
  const PamEntry* before = nullptr;
  for (std::size_t i = 0; i < index; ++i) {
    const PamEntry& p = stack[i];
    if (!IsFirstFactor(p)) continue;
    if (before == nullptr) before = &p;
    const std::string s = ControlAction(p.control, "success");
    std::size_t jump = 0;
    // A jump over the step counts no success (libpam, unlike "ok"): unless something else
    // does, the right password is then refused, and what matters is the wrong one that
    // reaches the step (below: the code alone logs in).
    if (s != "done" && IsJump(s, &jump) && i + 1 + jump > index &&
        WrongPasswordAtTotp(stack, index).code_alone != nullptr)
      break;
    if (s == "done" || (IsJump(s, &jump) && i + 1 + jump > index)) {
      out.push_back(Make(
          "pam", Level::kProblem,
          fmt::format("{}: after a right password, '{}' ({}) {} '{}': the verification code is "
                      "never asked",
                      where, Describe(p), Where(p), s == "done" ? "ends the stack before" : "skips",
                      Describe(e)),
          fmt::format("make the password module 'required' (or 'requisite'); {}", kFix)));
      return out;
    }
  }
  if (before == nullptr) {
    const PamEntry* after = nullptr;
    for (std::size_t i = index + 1; i < stack.size() && after == nullptr; ++i)
      if (IsFirstFactor(stack[i])) after = &stack[i];
    if (after == nullptr) {
      out.push_back(
          Make("pam", Level::kProblem,
               fmt::format("{}: '{}': no module before or after it checks a password: the "
                           "verification code alone logs in",
                           where, Describe(e)),
               kFix));
    } else if (ControlAction(e.control, "success") == "done") {
      out.push_back(Make("pam", Level::kProblem,
                         fmt::format("{}: '{}' comes before the password module {} and ends the "
                                     "stack on success: a right verification code alone logs in",
                                     where, Describe(e), Named(*after)),
                         kFix));
    } else {
      out.push_back(Make(
          "pam", Level::kWarning,
          fmt::format("{}: '{}' comes before the password module {}: the code is asked, and "
                      "used up, before the password is checked, so anyone who knows a user name "
                      "can spend that user's codes and set off the throttle",
                      where, Describe(e), Named(*after)),
          kFix));
    }
    return out;
  }
  // A wrong password that does not end the stack. Said instead of the ok line, which
  // would read as "asked after the right password".
  const WrongPassword wrong = WrongPasswordAtTotp(stack, index);
  if (const PamEntry* p = wrong.code_alone; p != nullptr) {
    out.push_back(Make(
        "pam", Level::kProblem,
        fmt::format("{}: '{}': a wrong password is ignored: '{}' ({}) refuses it, but that does "
                    "not fail the login, and nothing after the verification code fails it "
                    "either: the verification code alone logs in",
                    where, Describe(e), Describe(*p), Where(*p)),
        fmt::format("make the password module 'requisite' ('auth requisite {}'; 'required' also "
                    "fails the login, but only after the code), or follow '[success=1 "
                    "default=ignore] {}' with 'auth requisite pam_deny.so' as Debian's "
                    "common-auth does",
                    Clean(Basename(p->module)), Clean(Basename(p->module)))));
    return out;
  }
  // The login fails, but only after the code (pam_apppass(8): 'required' hides which
  // factor failed).
  if (const PamEntry* p = wrong.code_asked; p != nullptr) {
    out.push_back(Make(
        "pam", Level::kWarning,
        fmt::format("{}: '{}': '{}' ({}) refuses a wrong password, but the stack goes on, so "
                    "the verification code is still asked, checked and counted before the login "
                    "fails: anyone who knows a user name can use up that user's {} code tries "
                    "and lock their codes for {} minutes",
                    where, Describe(e), Describe(*p), Where(*p), kMaxCodeFailures,
                    kCodeFailureWindow / 60),
        fmt::format("make the password module 'requisite' ('auth requisite {}', or default=die "
                    "in a bracketed control), or put the step after '@include common-auth', "
                    "whose 'requisite pam_deny.so' ends the stack after a wrong password; "
                    "'required' only hides from the client which factor failed",
                    Clean(Basename(p->module)))));
    return out;
  }
  out.push_back(
      Make("pam", Level::kOk,
           fmt::format("{}: '{}': the verification code is asked after {}; a wrong one refuses the "
                       "login; users without a confirmed MFA enrollment {}",
                       where, Describe(e), Named(*before),
                       line.unenrolled_ignore ? "skip it (unenrolled=ignore)"
                                              : "are refused (unenrolled=deny)")));
  return out;
}

}  // namespace

ApppassLine ReadApppassLine(const std::vector<std::string>& args) {
  ApppassLine l;
  for (const std::string& a : args) {
    if (a == "totp") l.totp = true;
    else if (a == "unenrolled=ignore") l.unenrolled_ignore = true;
    else if (a == "unenrolled=deny") l.unenrolled_ignore = false;
    else if (a == "account=nss") l.account_nss = true;
    else if (a == "account=none") l.account_nss = false;
  }
  return l;
}

bool IsApppass(const PamEntry& e) { return !e.include && Basename(e.module) == kModuleName; }

bool ChecksRealPassword(const PamEntry& e) {
  const std::string base = Basename(e.module);
  return !e.include && !IsNoOp(base) && !GrantsWithoutPassword(base) && base != "pam_deny.so" &&
         base != kModuleName;
}

std::vector<Finding> AnalyzeAuthEntry(const std::vector<PamEntry>& stack, std::size_t index,
                                      const ApppassLine& line) {
  if (line.totp) return AnalyzeTotpEntry(stack, index, line);
  std::vector<Finding> out;
  const PamEntry& e = stack[index];
  const std::string where = Where(e);
  const std::string fail = ControlAction(e.control, "auth_err");
  const std::string fail2 = ControlAction(e.control, "authinfo_unavail");
  const std::string succ = ControlAction(e.control, "success");
  const std::string kFix = fmt::format(
      "use 'auth required pam_apppass.so' (app passwords only), or during a rollout '{}' "
      "followed by 'auth required pam_unix.so' (enrolled users with app passwords only, "
      "everyone else with their real password)",
      kSafeRollout);
  for (const std::string& a : {fail, fail2}) {
    if (a == "ok" || a == "done") {
      out.push_back(
          Make("pam", Level::kProblem,
               fmt::format("{}: '{}' counts a refusal by pam_apppass as success: anyone gets in",
                           where, Describe(e)),
               kFix));
      return out;
    }
  }
  std::size_t jump = 0;
  const bool strict = Stops(fail);
  if (!strict) {
    const WalkResult w = WalkAfterRefusal(stack, GoOn(e, index, "auth_err"));
    if (w.result == Walk::kGrants) {
      out.push_back(
          Make("pam", Level::kProblem,
               fmt::format("{}: after '{}' refuses, {} can accept the login without asking "
                           "for a password: anyone gets in",
                           where, Describe(e), Named(*w.by)),
               kFix));
      return out;
    }
    // An enrolled user's real password: pam_apppass refuses it, and it goes on.
    const PamEntry* pw = FirstPasswordModule(w.reached);
    if (pw != nullptr && !TotpFollows(stack, pw)) {
      // The profile of older packages wrote this into common-auth (pam-auth-update).
      const bool profile = e.file == "common-auth" && GuardedServices(stack, index).has_value();
      const std::string fix =
          profile ? fmt::format(
                        "the apppass pam-auth-update profile now writes '{} "
                        "pam_apppass.so unenrolled=ignore': run 'pam-auth-update "
                        "--enable apppass'",
                        kSafeProfile)
                  : fmt::format(
                        "use '{}' followed by the password module (with pam-auth-update: "
                        "'{} pam_apppass.so unenrolled=ignore'); once everyone is "
                        "enrolled, 'auth required pam_apppass.so'",
                        kSafeRollout, kSafeProfile);
      if (line.unenrolled_ignore)
        out.push_back(Make(
            "pam", Level::kProblem,
            fmt::format("{}: '{}' with unenrolled=ignore: an enrolled user's real password still "
                        "passes: pam_apppass refuses it, and the stack goes on to {}, which "
                        "accepts it",
                        where, Describe(e), Named(*pw)),
            fix));
      else
        out.push_back(Make(
            "pam", Level::kWarning,
            fmt::format("{}: '{}': every refusal goes on to {}, so a user's real password still "
                        "passes, also once their MFA enrollment is confirmed: the enrollment "
                        "protects nothing here",
                        where, Describe(e), Named(*pw)),
            fix));
      return out;
    }
    if (e.control == "optional") {
      out.push_back(Make(
          "pam", Level::kWarning,
          fmt::format("{}: '{}': with 'optional' the app password counts only while no other "
                      "module decides{}",
                      where, Describe(e),
                      w.result == Walk::kSafe ? fmt::format(" ({} decides)", Named(*w.by)) : ""),
          kFix));
      return out;
    }
  }
  // unenrolled=ignore: users without a confirmed enrollment get PAM_IGNORE; what then?
  const PamEntry* ignored_to = nullptr;
  if (line.unenrolled_ignore) {
    const std::string ign = ControlAction(e.control, "ignore");
    if (Stops(ign) || ign == "done") {
      out.push_back(
          Make("pam", Level::kWarning,
               fmt::format("{}: '{}' with unenrolled=ignore: the control answers PAM_IGNORE with "
                           "'{}', so users without a confirmed MFA enrollment cannot log in",
                           where, Describe(e), Clean(ign)),
               fmt::format("use '{}'", kSafeRollout)));
      return out;
    }
    const WalkResult w = WalkAfterRefusal(stack, GoOn(e, index, "ignore"));
    if (w.result == Walk::kGrants) {
      out.push_back(
          Make("pam", Level::kProblem,
               fmt::format("{}: '{}' with unenrolled=ignore: for a user without a confirmed MFA "
                           "enrollment it answers PAM_IGNORE, and then {} can accept the login "
                           "without a password: anyone not enrolled gets in",
                           where, Describe(e), Named(*w.by)),
               fmt::format("follow '{}' with 'auth required pam_unix.so'", kSafeRollout)));
      return out;
    }
    ignored_to = FirstPasswordModule(w.reached);
    if (ignored_to == nullptr) {
      out.push_back(Make(
          "pam", Level::kWarning,
          fmt::format("{}: '{}' with unenrolled=ignore: no module after it checks a password, "
                      "so users without a confirmed MFA enrollment cannot log in",
                      where, Describe(e)),
          fmt::format("follow '{}' with 'auth required pam_unix.so', or drop unenrolled=ignore",
                      kSafeRollout)));
      return out;
    }
  }
  if (succ != "ok" && succ != "done" && !IsJump(succ, &jump)) {
    out.push_back(Make("pam", Level::kWarning,
                       fmt::format("{}: '{}': an accepted app password does not count (success={})",
                                   where, Describe(e), Clean(succ)),
                       kFix));
    return out;
  }
  std::string how;
  if (strict && ignored_to != nullptr) {
    how = fmt::format(
        "a user with a confirmed MFA enrollment logs in only with an app password; anyone else "
        "goes on to {}",
        Named(*ignored_to));
  } else if (strict) {
    how = "only app passwords are accepted";
  } else {
    const WalkResult w = WalkAfterRefusal(stack, GoOn(e, index, "auth_err"));
    if (w.result == Walk::kSafe && w.first == w.by)
      how = fmt::format("a refusal falls through to {}, which still decides", Named(*w.by));
    else if (w.result == Walk::kSafe)
      how = fmt::format("a refusal falls through to {}; {} refuses when nothing accepts",
                        Named(*w.first), Named(*w.by));
    else if (w.first != nullptr)
      how = fmt::format("a refusal falls through to {}; the stack fails when nothing accepts",
                        Named(*w.first));
    else how = "a refusal ends the stack with a refusal (nothing after it accepts)";
  }
  out.push_back(Make("pam", Level::kOk, fmt::format("{}: '{}': {}", where, Describe(e), how)));
  return out;
}

std::vector<std::string> LoginAccounts(const std::vector<StoreUser>& users) {
  std::vector<std::string> out;
  for (const StoreUser& u : users)
    if (u.uid && *u.uid >= kFirstLoginUid && *u.uid != 65534) out.push_back(u.name);
  return out;
}

namespace {

std::string Examples(const std::vector<std::string>& names) {
  std::vector<std::string> some(names.begin(),
                                names.begin() + std::min<std::size_t>(3, names.size()));
  for (auto& n : some) n = Clean(n, 64);
  return Join(some, ", ") + (names.size() > 3 ? ", ..." : "");
}

}  // namespace

std::optional<Finding> SuggestAccountNss(const std::string& service,
                                         const std::vector<PamEntry>& account_stack,
                                         const std::vector<std::string>& login_accounts,
                                         bool included) {
  if (login_accounts.empty()) return std::nullopt;
  for (const PamEntry& e : account_stack)
    if (e.type == "account" && IsApppass(e) && ReadApppassLine(e.args).account_nss)
      return std::nullopt;
  return Make(
      "pam", Level::kWarning,
      fmt::format("{}: {} user{} of the store {} system account{} (uid {} and up: {}), but no "
                  "account line of this service has 'pam_apppass.so account=nss': locking "
                  "(usermod -L, passwd -l), expiring or deleting such an account does not stop "
                  "its app passwords",
                  Clean(service), login_accounts.size(), login_accounts.size() == 1 ? "" : "s",
                  login_accounts.size() == 1 ? "is a" : "are",
                  login_accounts.size() == 1 ? "" : "s", kFirstLoginUid, Examples(login_accounts)),
      fmt::format("add 'account required pam_apppass.so account=nss' to the account lines of {} "
                  "(it refuses unknown, locked and expired accounts)",
                  included ? "each mail service that includes " + Clean(service) : Clean(service)));
}

std::optional<Finding> SuggestSaslAccountNss(const std::string& conf_path,
                                             const std::optional<std::string>& account,
                                             const std::vector<std::string>& login_accounts) {
  if (login_accounts.empty() || (account && Trim(*account) == "nss")) return std::nullopt;
  return Make(
      "postfix", Level::kWarning,
      fmt::format("{}: {} user{} of the store {} system account{} (uid {} and up: {}), but "
                  "apppass_account is not nss: locking, expiring or deleting such an account "
                  "does not stop its app passwords for SMTP",
                  Clean(conf_path), login_accounts.size(), login_accounts.size() == 1 ? "" : "s",
                  login_accounts.size() == 1 ? "is a" : "are",
                  login_accounts.size() == 1 ? "" : "s", kFirstLoginUid, Examples(login_accounts)),
      fmt::format("add 'apppass_account: nss' to {}, then postfix reload", Clean(conf_path)));
}

}  // namespace apppass::doctor
