// Unit tests of account.h (account=nss, apppass_account: nss) against real system users:
// made with useradd by the test, changed with usermod/chage, removed with userdel. Needs
// root (useradd, and /etc/shadow is root's); skipped otherwise.

#include "account.h"

#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "run.h"
// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

std::string g_user;  // the test user, removed at the end

void Sh(const std::vector<std::string>& args) {
  const testlib::RunResult r = testlib::Run(args);
  if (r.status != 0) fail_msg("%s failed: %s", args[0].c_str(), r.out.c_str());
}

AccountState State(std::string_view user) { return CheckAccount(user, std::time(nullptr)).state; }

int Setup(void**) {
  if (geteuid() != 0) return 0;
  g_user = "apacct" + std::to_string(getpid() % 100000);
  (void)testlib::Run({"/usr/sbin/userdel", g_user});
  const testlib::RunResult r =
      testlib::Run({"/usr/sbin/useradd", "-M", "-s", "/bin/false", g_user});
  if (r.status != 0) return -1;
  return testlib::Run({"/usr/sbin/chpasswd"}, g_user + ":correct horse 9\n").status == 0 ? 0 : -1;
}

int Teardown(void**) {
  if (!g_user.empty()) (void)testlib::Run({"/usr/sbin/userdel", g_user});
  return 0;
}

void test_names(void**) {
  for (AccountState s : {AccountState::kOk, AccountState::kUnknown, AccountState::kLocked,
                         AccountState::kExpired, AccountState::kUnavailable})
    assert_true(AccountStateFromName(AccountStateName(s)) == s);
  assert_true(AccountStateFromName("OK") == AccountState::kUnavailable);
  assert_true(AccountStateFromName("") == AccountState::kUnavailable);
  assert_true(AccountCheck{}.state == AccountState::kUnavailable);  // fail closed
}

void test_lifecycle(void**) {
  if (geteuid() != 0) skip();
  assert_true(State(g_user) == AccountState::kOk);
  // passwd -l / usermod -L put '!' before the hash.
  Sh({"/usr/sbin/usermod", "-L", g_user});
  assert_true(State(g_user) == AccountState::kLocked);
  Sh({"/usr/sbin/usermod", "-U", g_user});
  assert_true(State(g_user) == AccountState::kOk);
  // An expiry date in the past (day 1 = 1970-01-02), then today, then none.
  Sh({"/usr/bin/chage", "-E", "1", g_user});
  assert_true(State(g_user) == AccountState::kExpired);
  const long today = static_cast<long>(std::time(nullptr) / 86400);
  Sh({"/usr/bin/chage", "-E", std::to_string(today), g_user});
  assert_true(State(g_user) == AccountState::kExpired);
  Sh({"/usr/bin/chage", "-E", std::to_string(today + 2), g_user});
  assert_true(State(g_user) == AccountState::kOk);
  Sh({"/usr/bin/chage", "-E", "-1", g_user});
  assert_true(State(g_user) == AccountState::kOk);
  // A '*' password field (no password login at all) is locked too.
  Sh({"/usr/sbin/usermod", "-p", "*", g_user});
  assert_true(State(g_user) == AccountState::kLocked);
  // userdel: unknown.
  Sh({"/usr/sbin/userdel", g_user});
  assert_true(State(g_user) == AccountState::kUnknown);
  g_user.clear();
}

void test_unknown_and_bad_names(void**) {
  assert_true(State("no-such-user-apppass-x") == AccountState::kUnknown);
  assert_true(State("") == AccountState::kUnknown);
  assert_true(State(std::string_view("root\0x", 6)) == AccountState::kUnknown);
}

// Not root: /etc/shadow cannot be read, so nothing is judged (fail closed), even for a
// user glibc would report as having no shadow entry.
void test_not_root_is_unavailable(void**) {
  if (geteuid() != 0) skip();
  const pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    const AccountCheck c = CheckAccount("root", std::time(nullptr));
    _exit(c.state == AccountState::kUnavailable && !c.detail.empty() ? 0 : 1);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_lifecycle),
      cmocka_unit_test(test_unknown_and_bad_names),
      cmocka_unit_test(test_not_root_is_unavailable),
  };
  return cmocka_run_group_tests_name("account", tests, Setup, Teardown);
}
