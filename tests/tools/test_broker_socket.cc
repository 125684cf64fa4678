// Unit tests of tools/apppass/doctor/broker_socket.h: the doctor's judgement of apppassd's
// socket from its lstat and its directory's. A missing socket or something else in its
// place is a problem with the fix that starts the daemon (and no connection is tried); a
// socket another user owns, or a directory others may change, is a problem; a mode that
// keeps users out is a warning; root's 0666 socket in a root 0755 directory is ok.

#include "doctor/broker_socket.h"

#include <cerrno>
#include <cstring>
#include <string>

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

SocketFacts Good() {
  SocketFacts f;
  f.path = "/run/apppass/apppassd.sock";
  f.st.st_mode = S_IFSOCK | 0666;
  f.st.st_uid = 0;
  f.dir_known = true;
  f.dir.st_mode = S_IFDIR | 0755;
  f.dir.st_uid = 0;
  f.dir.st_gid = 0;
  return f;
}

void ExpectOne(const std::vector<Finding>& v, std::size_t i, Level level, const char* message,
               const char* fix) {
  if (i >= v.size()) fail_msg("finding %zu missing (%zu findings)", i, v.size());
  const Finding& f = v[i];
  if (f.check != "broker" || f.level != level || f.message != message || f.fix != fix)
    fail_msg("finding %zu: %s %d: '%s' fix '%s'", i, f.check.c_str(), static_cast<int>(f.level),
             f.message.c_str(), f.fix.c_str());
}

void test_healthy(void**) {
  bool ask = false;
  const auto v = JudgeBrokerSocket(Good(), &ask);
  assert_true(ask);
  assert_int_equal(v.size(), 1);
  ExpectOne(v, 0, Level::kOk, "/run/apppass/apppassd.sock is a socket owned by root, mode 0666",
            "");
}

void test_missing(void**) {
  SocketFacts f = Good();
  f.lstat_errno = ENOENT;
  bool ask = true;
  const auto v = JudgeBrokerSocket(f, &ask);
  assert_false(ask);
  assert_int_equal(v.size(), 1);
  ExpectOne(v, 0, Level::kProblem,
            "apppassd not reachable at /run/apppass/apppassd.sock: No such file or directory "
            "(verifiers that do not run as root and users' self-service fail)",
            "systemctl enable --now apppassd.socket");
}

void test_not_a_socket(void**) {
  SocketFacts f = Good();
  f.st.st_mode = S_IFREG | 0644;
  bool ask = true;
  const auto v = JudgeBrokerSocket(f, &ask);
  assert_false(ask);
  ExpectOne(v, 0, Level::kProblem,
            "apppassd not reachable at /run/apppass/apppassd.sock: it is a regular file, not a "
            "socket",
            "rm /run/apppass/apppassd.sock && systemctl restart apppassd.socket");
}

void test_foreign_owner(void**) {
  SocketFacts f = Good();
  f.st.st_uid = 4242424;  // no passwd entry: shown as a number
  bool ask = false;
  const auto v = JudgeBrokerSocket(f, &ask);
  assert_true(ask);
  ExpectOne(v, 0, Level::kProblem,
            "/run/apppass/apppassd.sock is owned by 4242424, not root: a process of that user, "
            "not apppassd, may be answering",
            "rm /run/apppass/apppassd.sock && systemctl restart apppassd.socket");
}

void test_mode_keeps_users_out(void**) {
  SocketFacts f = Good();
  f.st.st_mode = S_IFSOCK | 0660;
  bool ask = false;
  auto v = JudgeBrokerSocket(f, &ask);
  assert_true(ask);
  ExpectOne(v, 0, Level::kWarning,
            "/run/apppass/apppassd.sock is mode 0660: users other than root and its group "
            "cannot connect, so they cannot verify or manage their app passwords",
            "chmod 0666 /run/apppass/apppassd.sock (SocketMode=0666 in apppassd.socket)");
  f.st.st_mode = S_IFSOCK | 0777;  // more than needed, but everyone can connect
  v = JudgeBrokerSocket(f, &ask);
  assert_true(v[0].level == Level::kOk);
}

void test_directory_others_may_change(void**) {
  SocketFacts f = Good();
  f.dir.st_mode = S_IFDIR | 0777;
  bool ask = false;
  auto v = JudgeBrokerSocket(f, &ask);
  assert_int_equal(v.size(), 2);
  ExpectOne(v, 1, Level::kProblem,
            "/run/apppass (the socket's directory) is root:root 0777: others than root could "
            "put another socket in apppassd's place",
            "chown root:root /run/apppass && chmod 0755 /run/apppass");
  f = Good();
  f.dir.st_uid = 4242424;
  v = JudgeBrokerSocket(f, &ask);
  assert_int_equal(v.size(), 2);
  assert_true(v[1].level == Level::kProblem);
  assert_non_null(std::strstr(v[1].message.c_str(), "is 4242424:root 0755: its owner could"));
  f = Good();
  f.dir_known = false;  // cannot tell: no finding about it
  v = JudgeBrokerSocket(f, &ask);
  assert_int_equal(v.size(), 1);
}

void test_path_is_made_safe(void**) {
  SocketFacts f = Good();
  f.path = "/tmp/a\nproblem: forged";
  f.lstat_errno = ENOENT;
  bool ask = false;
  const auto v = JudgeBrokerSocket(f, &ask);
  assert_null(std::strchr(v[0].message.c_str(), '\n'));
}

}  // namespace
}  // namespace apppass::doctor

int main() {
  using namespace apppass::doctor;
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_healthy),
      cmocka_unit_test(test_missing),
      cmocka_unit_test(test_not_a_socket),
      cmocka_unit_test(test_foreign_owner),
      cmocka_unit_test(test_mode_keeps_users_out),
      cmocka_unit_test(test_directory_others_may_change),
      cmocka_unit_test(test_path_is_made_safe),
  };
  return cmocka_run_group_tests_name("broker_socket", tests, nullptr, nullptr);
}
