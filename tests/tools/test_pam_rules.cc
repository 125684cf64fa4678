// Unit tests of tools/apppass/doctor/pam_rules.h: what apppass doctor says about a
// pam_apppass line in its stack. Each finding has a stack that gives it and a control
// that does not: the documented safe forms give one ok finding and nothing else.

#include "doctor/pam_rules.h"

#include <string>
#include <utility>
#include <vector>

// cmocka.h needs these first, has no extern "C" of its own, and defines macros with
// common names: include it last.
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

namespace apppass::doctor {
namespace {

std::string Dump(const std::vector<Finding>& fs) {
  std::string out;
  for (const Finding& f : fs)
    out += std::string(LevelName(f.level)) + ": " + f.message + " | fix: " + f.fix + "\n";
  return out;
}

// The findings for the `nth` pam_apppass auth line of `text` (one service file `file`).
std::vector<Finding> Analyze(const std::string& text, int nth = 0,
                             const std::string& file = "imap") {
  const std::vector<PamEntry> stack = ParsePamFile(text, file);
  for (std::size_t i = 0; i < stack.size(); ++i)
    if (stack[i].type == "auth" && IsApppass(stack[i]) && nth-- == 0)
      return AnalyzeAuthEntry(stack, i, ReadApppassLine(stack[i].args));
  fail_msg("no pam_apppass auth line in:\n%s", text.c_str());
  return {};
}

// Exactly one finding, of `level`, whose message contains `what` and whose fix contains
// `fix`.
void ExpectOne(const std::vector<Finding>& fs, Level level, const std::string& what,
               const std::string& fix = "") {
  if (fs.size() != 1 || fs[0].level != level || fs[0].message.find(what) == std::string::npos ||
      fs[0].fix.find(fix) == std::string::npos)
    fail_msg("expected one %s with '%s' (fix '%s'), got:\n%s", LevelName(level), what.c_str(),
             fix.c_str(), Dump(fs).c_str());
}

constexpr const char* kSafe =
    "auth [success=done ignore=ignore default=die] pam_apppass.so unenrolled=ignore\n";
constexpr const char* kUnix = "auth required pam_unix.so\n";
constexpr const char* kUnixRequisite = "auth requisite pam_unix.so\n";
// Debian's common-auth after the module's lines.
constexpr const char* kDebianTail =
    "auth [success=1 default=ignore] pam_unix.so nullok try_first_pass\n"
    "auth requisite pam_deny.so\n"
    "auth required pam_permit.so\n"
    "auth optional pam_cap.so\n";
constexpr const char* kGuard =
    "auth [success=ignore default=1] pam_succeed_if.so quiet service in dovecot:imap:smtp\n";

void test_read_apppass_line(void**) {
  ApppassLine l = ReadApppassLine({"db=/x", "totp", "unenrolled=ignore", "account=nss"});
  assert_true(l.totp && l.unenrolled_ignore && l.account_nss);
  // The last of each wins; other words are ignored.
  l = ReadApppassLine(
      {"unenrolled=ignore", "unenrolled=deny", "account=nss", "account=none", "debug"});
  assert_false(l.totp || l.unenrolled_ignore || l.account_nss);
  l = ReadApppassLine({"unenrolled=maybe", "totp=yes", "account=ldap"});
  assert_false(l.totp || l.unenrolled_ignore || l.account_nss);
  assert_true(IsApppass(ParsePamFile("auth required /lib/security/pam_apppass.so\n", "f")[0]));
  assert_false(IsApppass(ParsePamFile("auth required pam_unix.so\n", "f")[0]));
  assert_true(ChecksRealPassword(ParsePamFile("auth required pam_sss.so\n", "f")[0]));
  for (const char* m : {"pam_deny.so", "pam_apppass.so", "pam_permit.so", "pam_env.so"})
    assert_false(
        ChecksRealPassword(ParsePamFile(std::string("auth required ") + m + "\n", "f")[0]));
}

// The documented rollout stack: no finding but one ok line saying what happens.
void test_safe_rollout_form(void**) {
  auto fs = Analyze(std::string(kSafe) + kUnix);
  ExpectOne(fs, Level::kOk,
            "a user with a confirmed MFA enrollment logs in only with an app password; anyone "
            "else goes on to pam_unix.so (imap line 2)");
  // The same before Debian's common-auth.
  fs = Analyze("auth [success=4 ignore=ignore default=die] pam_apppass.so unenrolled=ignore\n" +
               std::string(kDebianTail));
  ExpectOne(fs, Level::kOk, "anyone else goes on to pam_unix.so (imap line 2)");
  // App passwords only.
  ExpectOne(Analyze("auth required pam_apppass.so\n"), Level::kOk,
            "only app passwords are accepted");
}

// pam_apppass with unenrolled=ignore whose refusal goes on to a password module: an
// enrolled user's real password passes.
void test_real_password_passes_with_ignore(void**) {
  for (const char* control : {"sufficient", "[success=done default=ignore]", "optional",
                              "[success=ok default=ignore]", "[default=ignore success=1]"}) {
    const std::string stack = std::string("auth ") + control +
                              " pam_apppass.so unenrolled=ignore\nauth required pam_env.so\n" +
                              kUnix + kUnix;
    ExpectOne(Analyze(stack), Level::kProblem,
              "with unenrolled=ignore: an enrolled user's real password still passes: "
              "pam_apppass refuses it, and the stack goes on to pam_unix.so (imap line 3), which "
              "accepts it",
              "auth [success=done ignore=ignore default=die] pam_apppass.so unenrolled=ignore");
  }
  // Debian's common-auth: default=ignore reaches pam_unix's success=1 past pam_deny.
  ExpectOne(Analyze("auth [success=4 default=ignore] pam_apppass.so unenrolled=ignore\n" +
                    std::string(kDebianTail)),
            Level::kProblem, "an enrolled user's real password still passes");
  // Control: a refusal that goes only to pam_deny lets no real password through.
  auto fs = Analyze(
      "auth [success=2 default=ignore] pam_apppass.so unenrolled=ignore\n"
      "auth requisite pam_deny.so\nauth required pam_permit.so\n");
  assert_int_equal(fs.size(), 1);
  assert_true(fs[0].message.find("real password") == std::string::npos);
  // Control: a TOTP step after the password module still stops the real password alone.
  fs = Analyze("auth [success=done default=ignore] pam_apppass.so unenrolled=ignore\n" +
               std::string(kUnix) + "auth required pam_apppass.so totp\n");
  assert_int_equal(fs.size(), 1);
  assert_int_equal(static_cast<int>(fs[0].level), static_cast<int>(Level::kOk));
}

// Without unenrolled=ignore the same fall-through lets every user's real password in,
// enrolled or not: a warning (the older migration stack), with the safe form as the fix.
void test_real_password_passes_without_ignore(void**) {
  ExpectOne(Analyze("auth [success=done default=ignore] pam_apppass.so\n" + std::string(kUnix)),
            Level::kWarning,
            "'auth [success=done default=ignore] pam_apppass.so': every refusal goes on to "
            "pam_unix.so (imap line 2), so a user's real password still passes, also once their "
            "MFA enrollment is confirmed",
            "use 'auth [success=done ignore=ignore default=die] pam_apppass.so "
            "unenrolled=ignore' followed by the password module (with pam-auth-update: "
            "'[success=end ignore=ignore default=die] pam_apppass.so unenrolled=ignore')");
  ExpectOne(Analyze("auth sufficient pam_apppass.so\n" + std::string(kUnix)), Level::kWarning,
            "the enrollment protects nothing here");
  // The profile of older packages, in common-auth: the fix is pam-auth-update.
  ExpectOne(Analyze(std::string(kGuard) + "auth [success=4 default=ignore] pam_apppass.so\n" +
                        kDebianTail,
                    0, "common-auth"),
            Level::kWarning, "every refusal goes on to pam_unix.so (common-auth line 3)",
            "the apppass pam-auth-update profile now writes '[success=end ignore=ignore "
            "default=die] pam_apppass.so unenrolled=ignore': run 'pam-auth-update --enable "
            "apppass'");
  // Control: the profile's new form.
  ExpectOne(Analyze(std::string(kGuard) +
                        "auth [success=4 ignore=ignore default=die] pam_apppass.so "
                        "unenrolled=ignore try_first_pass\n" +
                        kDebianTail,
                    0, "common-auth"),
            Level::kOk, "anyone else goes on to pam_unix.so (common-auth line 3)");
}

void test_anyone_gets_in(void**) {
  ExpectOne(Analyze("auth sufficient pam_apppass.so\nauth required pam_permit.so\n"),
            Level::kProblem,
            "pam_permit.so (imap line 2) can accept the login without asking for a password: "
            "anyone gets in");
  ExpectOne(Analyze("auth [success=done default=ok] pam_apppass.so\n"), Level::kProblem,
            "counts a refusal by pam_apppass as success");
}

// unenrolled=ignore: where PAM_IGNORE goes.
void test_unenrolled_ignore_paths(void**) {
  // A control that refuses PAM_IGNORE: nobody unenrolled logs in.
  for (const char* control : {"[success=done default=die]", "[success=done default=bad]"})
    ExpectOne(
        Analyze(std::string("auth ") + control + " pam_apppass.so unenrolled=ignore\n" + kUnix),
        Level::kWarning, "so users without a confirmed MFA enrollment cannot log in",
        "ignore=ignore");
  // PAM_IGNORE followed by a module that accepts without a password.
  ExpectOne(Analyze(std::string(kSafe) + "auth required pam_permit.so\n"), Level::kProblem,
            "it answers PAM_IGNORE, and then pam_permit.so (imap line 2) can accept the login "
            "without a password: anyone not enrolled gets in");
  // Nothing after it checks a password.
  ExpectOne(Analyze(kSafe), Level::kWarning, "no module after it checks a password");
  ExpectOne(Analyze("auth required pam_apppass.so unenrolled=ignore\n"), Level::kWarning,
            "no module after it checks a password");
  // Control: 'required' goes on after PAM_IGNORE (ignore=ignore) to pam_unix.
  ExpectOne(Analyze("auth requisite pam_apppass.so unenrolled=ignore\n" + std::string(kUnix)),
            Level::kOk, "anyone else goes on to pam_unix.so");
}

// The TOTP step (totp mode).
void test_totp_safe(void**) {
  ExpectOne(Analyze(std::string(kUnixRequisite) + "auth required pam_apppass.so totp\n"),
            Level::kOk,
            "the verification code is asked after pam_unix.so (imap line 1); a wrong one "
            "refuses the login; users without a confirmed MFA enrollment are refused "
            "(unenrolled=deny)");
  ExpectOne(Analyze(std::string(kUnixRequisite) +
                    "auth requisite pam_apppass.so totp unenrolled=ignore\n"),
            Level::kOk, "skip it (unenrolled=ignore)");
  // After Debian's common-auth (as in /etc/pam.d/sshd: @include common-auth, then it).
  ExpectOne(Analyze(std::string(kDebianTail) + "auth required pam_apppass.so totp\n"), Level::kOk,
            "after pam_unix.so (imap line 1)");
  // A failure that jumps to pam_deny stops the login.
  ExpectOne(Analyze(std::string(kUnixRequisite) +
                    "auth [success=1 default=ignore] pam_apppass.so totp\n"
                    "auth requisite pam_deny.so\nauth required pam_permit.so\n"),
            Level::kOk, "a wrong one refuses the login");
}

void test_totp_skippable(void**) {
  for (const char* control :
       {"sufficient", "optional", "[success=ok default=ignore]", "[success=done default=ignore]"})
    ExpectOne(Analyze(std::string(kUnix) + "auth " + control + " pam_apppass.so totp\n"),
              Level::kProblem, "the second factor can be skipped",
              "put 'auth required pam_apppass.so totp' after the password module");
  ExpectOne(Analyze(std::string(kUnix) + "auth [success=ok default=ok] pam_apppass.so totp\n"),
            Level::kProblem, "counts a wrong verification code as success");
  // A store that cannot be used must refuse too.
  ExpectOne(Analyze(std::string(kUnix) +
                    "auth [success=ok auth_err=die default=ignore] pam_apppass.so totp\n"),
            Level::kProblem, "the second factor can be skipped");
  // A failure that goes on to the password module again.
  ExpectOne(Analyze("auth optional pam_apppass.so totp\n" + std::string(kUnix)), Level::kProblem,
            "pam_unix.so (imap line 2) can accept the password again");
  // A failure followed by a module that grants.
  ExpectOne(Analyze(std::string(kUnix) +
                    "auth sufficient pam_apppass.so totp\nauth sufficient pam_permit.so\n"),
            Level::kProblem, "pam_permit.so (imap line 3) can accept the login");
  // A password module that ends the stack on success, or jumps over the step.
  ExpectOne(Analyze("auth sufficient pam_unix.so\nauth required pam_apppass.so totp\n"),
            Level::kProblem, "the verification code is never asked");
  ExpectOne(Analyze("auth [success=2 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n"
                    "auth required pam_apppass.so totp\nauth required pam_permit.so\n"),
            Level::kProblem, "skips 'auth required pam_apppass.so totp'");
  // A jump over the step with nothing after it: a jump counts no success in libpam, so the
  // right password is refused, and the wrong one, ignored, reaches the step: the code alone
  // logs in (not "skips": that would send the admin after the wrong login).
  ExpectOne(Analyze("auth [success=1 default=ignore] pam_unix.so\n"
                    "auth required pam_apppass.so totp\n"),
            Level::kProblem,
            "a wrong password is ignored: 'auth [success=1 default=ignore] pam_unix.so' (imap "
            "line 1) refuses it, but that does not fail the login, and nothing after the "
            "verification code fails it either: the verification code alone logs in");
}

void test_totp_placement(void**) {
  ExpectOne(Analyze("auth required pam_apppass.so totp\n" + std::string(kUnix)), Level::kWarning,
            "comes before the password module pam_unix.so (imap line 2): the code is asked, and "
            "used up, before the password is checked");
  ExpectOne(Analyze("auth [success=done default=die] pam_apppass.so totp\n" + std::string(kUnix)),
            Level::kProblem, "a right verification code alone logs in");
  ExpectOne(Analyze("auth required pam_apppass.so totp\n"), Level::kProblem,
            "no module before or after it checks a password: the verification code alone logs "
            "in");
  ExpectOne(Analyze("auth required pam_apppass.so totp\nauth requisite pam_deny.so\n"),
            Level::kProblem, "the verification code alone logs in");
  // An app password (pam_apppass in password mode) counts as the first factor.
  ExpectOne(Analyze("auth requisite pam_apppass.so\nauth required pam_apppass.so totp\n", 1),
            Level::kOk, "after pam_apppass.so (imap line 1)");
}

// Debian 12's /etc/pam.d/common-auth as installed (with libpam-cap), comments and all.
constexpr const char* kDebianCommonAuth =
    "#\n# /etc/pam.d/common-auth - authentication settings common to all services\n#\n"
    "# As of pam 1.0.1-6, this file is managed by pam-auth-update by default.\n\n"
    "# here are the per-package modules (the \"Primary\" block)\n"
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
    "# here's the fallback if no module succeeds\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "# prime the stack with a positive return value if there isn't one already;\n"
    "auth\trequired\t\t\tpam_permit.so\n"
    "# and here are more per-package modules (the \"Additional\" block)\n"
    "auth\toptional\t\t\tpam_cap.so \n"
    "# end of pam-auth-update config\n";

// The findings for the TOTP line of service `sshd` (`sshd_text`), include files resolved
// from `files` as libpam does.
std::vector<Finding> AnalyzeSshd(const std::string& sshd_text,
                                 const std::vector<std::pair<std::string, std::string>>& files) {
  const PamLoader load = [&](const std::string& name) {
    if (name == "sshd") return ParsePamFile(sshd_text, name);
    for (const auto& [n, text] : files)
      if (n == name) return ParsePamFile(text, name);
    return std::vector<PamEntry>{};
  };
  const std::vector<PamEntry> stack = ExpandAuth("sshd", load);
  for (std::size_t i = 0; i < stack.size(); ++i)
    if (IsApppass(stack[i]) && ReadApppassLine(stack[i].args).totp)
      return AnalyzeAuthEntry(stack, i, ReadApppassLine(stack[i].args));
  fail_msg("no TOTP line in sshd:\n%s", sshd_text.c_str());
  return {};
}

// A wrong password that does not end the stack: the code is still asked and counted (the
// throttle's numbers, code_throttle.h), a warning in place of the ok line.
void test_totp_after_wrong_password(void**) {
  const char* kWarn =
      "'auth required pam_unix.so' (imap line 1) refuses a wrong password, but the stack goes "
      "on, so the verification code is still asked, checked and counted before the login "
      "fails: anyone who knows a user name can use up that user's 5 code tries and lock their "
      "codes for 10 minutes";
  const char* kFix = "make the password module 'requisite' ('auth requisite pam_unix.so'";
  ExpectOne(Analyze(std::string(kUnix) + "auth required pam_apppass.so totp\n"), Level::kWarning,
            std::string("imap line 2: 'auth required pam_apppass.so totp': ") + kWarn, kFix);
  // tests/integration/sshd_totp.sh's stack.
  ExpectOne(Analyze("auth required pam_unix.so nodelay\n"
                    "auth required pam_apppass.so totp unenrolled=ignore\n"),
            Level::kWarning, "refuses a wrong password, but the stack goes on", kFix);
  ExpectOne(Analyze("auth [default=bad] pam_unix.so\nauth required pam_apppass.so totp\n"),
            Level::kWarning,
            "'auth [default=bad] pam_unix.so' (imap line 1) refuses a wrong password, but the "
            "stack goes on",
            kFix);
  // Through a no-op, and through an ignored refusal followed by 'required pam_deny'.
  ExpectOne(Analyze(std::string(kUnix) + "auth required pam_env.so\n" +
                    "auth required pam_apppass.so totp\n"),
            Level::kWarning, "refuses a wrong password, but the stack goes on", kFix);
  ExpectOne(Analyze("auth [success=1 default=ignore] pam_unix.so\nauth required pam_deny.so\n"
                    "auth required pam_apppass.so totp\n"),
            Level::kWarning, "(imap line 1) refuses a wrong password, but the stack goes on");
  // A wrong app password (pam_apppass in password mode as the first factor) too.
  ExpectOne(Analyze("auth required pam_apppass.so\nauth required pam_apppass.so totp\n", 1),
            Level::kWarning, "'auth required pam_apppass.so' (imap line 1) refuses a wrong");

  // Controls: a wrong password ends the stack before the code.
  ExpectOne(Analyze(std::string(kUnixRequisite) + "auth required pam_apppass.so totp\n"),
            Level::kOk, "the verification code is asked after pam_unix.so (imap line 1)");
  ExpectOne(Analyze("auth [success=ok default=die] pam_unix.so\n"
                    "auth required pam_apppass.so totp\n"),
            Level::kOk, "asked after pam_unix.so");
  ExpectOne(Analyze("auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n"
                    "auth required pam_apppass.so totp\n"),
            Level::kOk, "asked after pam_unix.so (imap line 1)");
  // Debian 12's common-auth, included as /etc/pam.d/sshd does.
  ExpectOne(AnalyzeSshd("@include common-auth\nauth required pam_apppass.so totp\n",
                        {{"common-auth", kDebianCommonAuth}}),
            Level::kOk, "asked after pam_unix.so (common-auth line 7)");
  // The same with the migration stack the pam-auth-update profile writes into it:
  // success=end jumps over pam_unix and pam_deny to pam_permit, die stops a wrong app
  // password, ignore=ignore hands users not enrolled on to pam_unix.
  std::string migrated = kDebianCommonAuth;
  migrated.replace(migrated.find("auth\t[success=1"), 0,
                   "auth [success=ignore default=1] pam_succeed_if.so quiet service in "
                   "dovecot:imap:sshd\n"
                   "auth [success=2 ignore=ignore default=die] pam_apppass.so unenrolled=ignore\n");
  ExpectOne(AnalyzeSshd("@include common-auth\nauth required pam_apppass.so totp\n",
                        {{"common-auth", migrated}}),
            Level::kOk, "asked after pam_apppass.so (common-auth line 8)");
  // Control of the controls: with 'required pam_deny.so' there, it warns.
  std::string plain = kDebianCommonAuth;
  plain.replace(plain.find("requisite"), 9, "required");
  ExpectOne(AnalyzeSshd("@include common-auth\nauth required pam_apppass.so totp\n",
                        {{"common-auth", plain}}),
            Level::kWarning, "(common-auth line 7) refuses a wrong password");
}

// A wrong password whose refusal is ignored, and nothing after the step fails the login:
// a right verification code alone logs in, a problem in place of the ok line.
void test_totp_wrong_password_ignored(void**) {
  const char* kFix =
      "make the password module 'requisite' ('auth requisite pam_unix.so'; 'required' also "
      "fails the login, but only after the code), or follow '[success=1 default=ignore] "
      "pam_unix.so' with 'auth requisite pam_deny.so' as Debian's common-auth does";
  constexpr const char* kStep = "auth required pam_apppass.so totp\n";
  constexpr const char* kOptional = "auth optional pam_unix.so\n";
  const char* kIgnored =
      "a wrong password is ignored: 'auth optional pam_unix.so' (imap line 1) refuses it";
  const char* kAsked =
      "'auth optional pam_unix.so' (imap line 1) refuses a wrong password, but the stack goes "
      "on, so the verification code is still asked";
  struct Case {
    std::string stack;
    Level level;
    std::string what;
  };
  const std::vector<Case> cases = {
      {std::string(kOptional) + kStep, Level::kProblem,
       "imap line 2: 'auth required pam_apppass.so totp': a wrong password is ignored: 'auth "
       "optional pam_unix.so' (imap line 1) refuses it, but that does not fail the login, and "
       "nothing after the verification code fails it either: the verification code alone "
       "logs in"},
      {"auth [success=ok default=ignore] pam_unix.so\n"
       "auth requisite pam_apppass.so totp unenrolled=ignore\n",
       Level::kProblem, "a wrong password is ignored: 'auth [success=ok default=ignore]"},
      // What follows the step can let it through too (pam_succeed_if answers either way).
      {std::string(kOptional) + kStep + "auth required pam_succeed_if.so uid >= 1000\n",
       Level::kProblem, kIgnored},
      // 'reset' forgets the refusal of 'required pam_unix.so'.
      {std::string(kUnix) + "auth [default=reset] pam_env.so\n" + kStep, Level::kProblem,
       "a wrong password is ignored: 'auth required pam_unix.so' (imap line 1) refuses it"},
      // Controls. After the step a wrong password still fails the login: the code is
      // asked first, the warning of test_totp_after_wrong_password.
      {std::string(kOptional) + kStep + kUnixRequisite, Level::kWarning, kAsked},
      {std::string(kOptional) + kStep + kDebianTail, Level::kWarning, kAsked},
      {std::string(kOptional) + kStep + "auth required pam_deny.so\n", Level::kWarning, kAsked},
      // Not ignored: 'required' warns, 'requisite' is ok (test_totp_after_wrong_password).
      {std::string(kUnix) + kStep, Level::kWarning,
       "'auth required pam_unix.so' (imap line 1) refuses a wrong password"},
  };
  for (const Case& c : cases)
    ExpectOne(Analyze(c.stack), c.level, c.what, c.level == Level::kProblem ? kFix : "");
  // Debian's common-auth with its 'requisite pam_deny.so' line taken out: a wrong
  // password goes on to pam_permit.
  std::string no_deny = kDebianCommonAuth;
  no_deny.erase(no_deny.find("auth\trequisite"),
                std::string("auth\trequisite\t\t\tpam_deny.so\n").size());
  ExpectOne(AnalyzeSshd(std::string("@include common-auth\n") + kStep, {{"common-auth", no_deny}}),
            Level::kProblem,
            "'auth [success=1 default=ignore] pam_unix.so' (common-auth line 7) refuses it, but "
            "that does not fail the login",
            kFix);
  // An app password as the first factor with unenrolled=ignore, then common-auth for
  // everyone else: a wrong password ends the stack either way.
  for (const char* first : {"auth requisite pam_apppass.so unenrolled=ignore\n",
                            "auth [success=2 ignore=ignore default=die] pam_apppass.so "
                            "unenrolled=ignore\n"})
    ExpectOne(AnalyzeSshd(std::string(first) + "@include common-auth\n" + kStep,
                          {{"common-auth", kDebianCommonAuth}}),
              Level::kOk, "asked after pam_apppass.so (sshd line 1)");
}

void test_login_accounts(void**) {
  const std::vector<StoreUser> users = {{"alice", 1000},           {"daemon", 1}, {"nobody", 65534},
                                        {"virtual", std::nullopt}, {"bob", 1001}, {"sys", 999}};
  const auto names = LoginAccounts(users);
  assert_int_equal(names.size(), 2);
  assert_string_equal(names[0].c_str(), "alice");
  assert_string_equal(names[1].c_str(), "bob");
  assert_true(LoginAccounts({{"virtual", std::nullopt}, {"svc", 120}}).empty());
}

void test_suggest_account_nss(void**) {
  const std::vector<std::string> people = {"alice", "bob", "carol", "dave"};
  const auto plain = ParsePamFile("account required pam_unix.so\n", "imap");
  auto f = SuggestAccountNss("imap", plain, people, false);
  assert_true(f.has_value());
  assert_int_equal(static_cast<int>(f->level), static_cast<int>(Level::kWarning));
  if (f->message.find("imap: 4 users of the store are system accounts (uid 1000 and up: alice, "
                      "bob, carol, ...)") == std::string::npos ||
      f->fix.find("add 'account required pam_apppass.so account=nss' to the account lines of "
                  "imap") == std::string::npos)
    fail_msg("%s", Dump({*f}).c_str());
  f = SuggestAccountNss("common-auth", {}, {"alice"}, true);
  assert_true(f.has_value());
  if (f->message.find("1 user of the store is a system account (uid 1000 and up: alice)") ==
          std::string::npos ||
      f->fix.find("each mail service that includes common-auth") == std::string::npos)
    fail_msg("%s", Dump({*f}).c_str());
  // Controls: account=nss set (the last word wins), or no system accounts.
  assert_false(SuggestAccountNss(
                   "imap", ParsePamFile("account required pam_apppass.so account=nss\n", "imap"),
                   people, false)
                   .has_value());
  assert_true(
      SuggestAccountNss(
          "imap",
          ParsePamFile("account required pam_apppass.so account=nss account=none\n", "imap"),
          people, false)
          .has_value());
  assert_true(SuggestAccountNss("imap",
                                ParsePamFile("auth required pam_apppass.so account=nss\n", "imap"),
                                people, false)
                  .has_value() == true);
  assert_false(SuggestAccountNss("imap", plain, {}, false).has_value());

  f = SuggestSaslAccountNss("/etc/postfix/sasl/smtpd.conf", std::nullopt, {"alice"});
  assert_true(f.has_value());
  assert_string_equal(f->check.c_str(), "postfix");
  if (f->fix != "add 'apppass_account: nss' to /etc/postfix/sasl/smtpd.conf, then postfix reload")
    fail_msg("%s", Dump({*f}).c_str());
  assert_true(SuggestSaslAccountNss("c", std::string("none"), {"alice"}).has_value());
  assert_false(SuggestSaslAccountNss("c", std::string("nss"), {"alice"}).has_value());
  assert_false(SuggestSaslAccountNss("c", std::nullopt, {}).has_value());
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_read_apppass_line),
      cmocka_unit_test(test_safe_rollout_form),
      cmocka_unit_test(test_real_password_passes_with_ignore),
      cmocka_unit_test(test_real_password_passes_without_ignore),
      cmocka_unit_test(test_anyone_gets_in),
      cmocka_unit_test(test_unenrolled_ignore_paths),
      cmocka_unit_test(test_totp_safe),
      cmocka_unit_test(test_totp_skippable),
      cmocka_unit_test(test_totp_placement),
      cmocka_unit_test(test_totp_after_wrong_password),
      cmocka_unit_test(test_totp_wrong_password_ignored),
      cmocka_unit_test(test_login_accounts),
      cmocka_unit_test(test_suggest_account_nss),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
