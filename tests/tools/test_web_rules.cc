// Unit tests of tools/apppass/doctor/web_rules.h: the PAM service of a sign-in on the page
// (read as libpam runs it for the service apppass-web), the broker's portal user from
// apppassd.service's ExecStart=, and that user.

#include "doctor/web_rules.h"

#include <map>
#include <string>
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

// Debian 12's common-auth and common-account.
const char* kCommonAuth =
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\n";
const char* kCommonAccount =
    "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
    "account\trequisite\t\t\tpam_deny.so\n"
    "account\trequired\t\t\tpam_permit.so\n";
// common-auth with the pam-auth-update profile of libpam-apppass enabled.
const char* kCommonAuthProfile =
    "auth\t[success=ignore default=1]\tpam_succeed_if.so quiet service in "
    "dovecot:imap:pop3:smtp:submission:sieve:managesieve\n"
    "auth\t[success=2 ignore=ignore default=die]\tpam_apppass.so unenrolled=ignore\n"
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok try_first_pass\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\n";

std::vector<Finding> Judge(const std::string& service_text,
                           const std::string& common_auth = kCommonAuth) {
  std::map<std::string, std::string> files = {{"apppass-web", service_text},
                                              {"common-auth", common_auth},
                                              {"common-account", kCommonAccount}};
  const PamLoader load = [&files](const std::string& name) {
    auto it = files.find(name);
    return it == files.end() ? std::vector<PamEntry>{} : ParsePamFile(it->second, name);
  };
  return JudgePortalStack(ExpandAuth("apppass-web", load),
                          ExpandType("apppass-web", "account", load), "apppass-web",
                          "/etc/pam.d/apppass-web");
}

std::string All(const std::vector<Finding>& fs) {
  std::string all;
  for (const Finding& f : fs) all += std::string(LevelName(f.level)) + ": " + f.message + "\n";
  return all;
}

void Expect(const std::vector<Finding>& fs, Level level, const std::string& needle) {
  for (const Finding& f : fs)
    if (f.level == level && f.message.find(needle) != std::string::npos) return;
  fail_msg("no %s finding with '%s' in:\n%s", LevelName(level), needle.c_str(), All(fs).c_str());
}

const char* kPackaged = "@include common-auth\n@include common-account\n";

void test_packaged_stack(void**) {
  const std::vector<Finding> fs = Judge(kPackaged);
  assert_int_equal(fs.size(), 1);
  Expect(fs, Level::kOk, "needs the password (pam_unix.so)");
}

void test_profile_guard(void**) {
  // The profile's guard skips pam_apppass for apppass-web: pam_unix decides, no warning.
  const std::vector<Finding> fs = Judge(kPackaged, kCommonAuthProfile);
  assert_int_equal(fs.size(), 1);
  Expect(fs, Level::kOk, "pam_unix.so");
}

void test_anyone_in(void**) {
  Expect(Judge("auth sufficient pam_permit.so\n@include common-auth\n@include common-account\n"),
         Level::kProblem, "succeeds without a right password");
  Expect(Judge("auth required pam_permit.so\naccount required pam_permit.so\n"), Level::kProblem,
         "succeeds without a right password");
  // A password module whose failure is ignored, then pam_permit: anyone.
  Expect(Judge("auth optional pam_unix.so\nauth required pam_permit.so\n@include common-account\n"),
         Level::kProblem, "pam_permit.so");
  // A wrong password ends it: safe even with pam_permit after.
  assert_int_equal(
      Judge("auth requisite pam_unix.so\nauth required pam_permit.so\n@include common-account\n")
          .front()
          .level,
      Level::kOk);
}

void test_no_password(void**) {
  Expect(Judge(""), Level::kProblem, "has no auth lines");
  Expect(Judge("auth required pam_deny.so\n@include common-account\n"), Level::kProblem,
         "no module checks the user's password");
  // An unknown include is no stack at all.
  Expect(Judge("@include common-nothing\n"), Level::kProblem, "has no auth lines");
}

void test_apppass_reached(void**) {
  Expect(Judge("auth [success=done default=ignore] pam_apppass.so\n" + std::string(kPackaged)),
         Level::kWarning, "an app password would sign in to the page");
  // The TOTP step is no password check: not warned about here.
  const std::vector<Finding> fs =
      Judge(std::string(kPackaged) + "auth required pam_apppass.so totp\n");
  for (const Finding& f : fs) assert_int_equal(f.level, Level::kOk);
}

void test_no_account(void**) {
  Expect(Judge("@include common-auth\n"), Level::kWarning, "has no account lines");
}

void test_exec_start(void**) {
  assert_true(SplitCommand("/usr/sbin/apppassd  --portal-user\tweb \"a b\"") ==
              (std::vector<std::string>{"/usr/sbin/apppassd", "--portal-user", "web", "a b"}));
  assert_false(PortalUserOfCommand({"/usr/sbin/apppassd"}).has_value());
  assert_string_equal(PortalUserOfCommand({"apppassd", "--portal-user", "w1"})->c_str(), "w1");
  assert_string_equal(PortalUserOfCommand({"apppassd", "--portal-user=w2"})->c_str(), "w2");
  assert_string_equal(
      PortalUserOfCommand({"apppassd", "--portal-user=w1", "--portal-user", "w3"})->c_str(), "w3");
  const std::string unit = "[Service]\nExecStart=/usr/sbin/apppassd\n";
  assert_string_equal(EffectiveExecStart({unit})->c_str(), "/usr/sbin/apppassd");
  // A drop-in clears and replaces it; a prefix is dropped; comments are not lines.
  assert_string_equal(EffectiveExecStart({unit,
                                          "[Service]\nExecStart=\n# ExecStart=/x\n"
                                          "ExecStart=-/usr/sbin/apppassd --portal-user p\n"})
                          ->c_str(),
                      "/usr/sbin/apppassd --portal-user p");
  assert_false(EffectiveExecStart({unit, "[Service]\nExecStart=\n"}).has_value());
  assert_false(EffectiveExecStart({}).has_value());
  assert_string_equal(
      LastUnitValue({"[Service]\nUser=a\n", "[Service]\nUser = b\n"}, "User")->c_str(), "b");
  assert_false(LastUnitValue({"[Service]\nGroup=a\n"}, "User").has_value());
}

void test_portal_user(void**) {
  PortalUserFacts f;
  f.name = "apppass-web";
  Expect(JudgePortalUser(f), Level::kProblem, "no user apppass-web");
  f.uid = 0;
  Expect(JudgePortalUser(f), Level::kProblem, "is root");
  f.uid = 998;
  Expect(JudgePortalUser(f), Level::kOk, "apppass-web (uid 998) exists");
  f.unit_user = "www-data";
  Expect(JudgePortalUser(f), Level::kProblem, "runs as www-data, but apppassd trusts apppass-web");
  f.unit_user = "apppass-web";
  f.in_verifier_group = true;
  f.group = "apppass";
  Expect(JudgePortalUser(f), Level::kProblem, "is in group apppass");
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_packaged_stack),  cmocka_unit_test(test_profile_guard),
      cmocka_unit_test(test_anyone_in),       cmocka_unit_test(test_no_password),
      cmocka_unit_test(test_apppass_reached), cmocka_unit_test(test_no_account),
      cmocka_unit_test(test_exec_start),      cmocka_unit_test(test_portal_user),
  };
  return cmocka_run_group_tests_name("web_rules", tests, nullptr, nullptr);
}
