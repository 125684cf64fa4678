// Unit tests of child.h (RunInChild): the report of a child that finishes, and how a
// child that fails, throws, crashes, hangs or writes too much is reported.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "child.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using std::chrono::milliseconds;

void test_report(void**) {
  const ChildResult r =
      RunInChild([] { return std::string(200000, 'x') + "end"; }, milliseconds(10000));
  assert_true(r.ok());
  assert_int_equal(r.report.size(), 200003);
  assert_string_equal(r.report.substr(200000).c_str(), "end");
}

void test_exit_and_throw(void**) {
  ChildResult r = RunInChild([]() -> std::string { ::_exit(7); }, milliseconds(10000));
  assert_false(r.ok());
  assert_int_equal(static_cast<int>(r.end), static_cast<int>(ChildResult::End::kExited));
  assert_int_equal(r.exit_status, 7);
  assert_string_equal(r.Describe().c_str(), "it failed (exit status 7)");
  r = RunInChild([]() -> std::string { throw std::runtime_error("no"); }, milliseconds(10000));
  assert_int_equal(r.exit_status, kChildThrew);
}

void test_crash(void**) {
  const ChildResult r = RunInChild(
      []() -> std::string {
        ::raise(SIGBUS);
        return "not reached";
      },
      milliseconds(10000));
  assert_int_equal(static_cast<int>(r.end), static_cast<int>(ChildResult::End::kSignaled));
  assert_int_equal(r.signal, SIGBUS);
  assert_string_equal(r.Describe().c_str(), "it was killed by SIGBUS");
  assert_string_equal(SignalName(SIGSEGV).c_str(), "SIGSEGV");
  assert_string_equal(SignalName(SIGUSR1).c_str(), ("signal " + std::to_string(SIGUSR1)).c_str());
}

void test_timeout(void**) {
  const auto start = std::chrono::steady_clock::now();
  const ChildResult r = RunInChild(
      []() -> std::string {
        for (;;) ::pause();
      },
      milliseconds(200));
  assert_int_equal(static_cast<int>(r.end), static_cast<int>(ChildResult::End::kTimedOut));
  assert_string_equal(r.Describe().c_str(), "it did not finish in time");
  assert_true(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

void test_too_large(void**) {
  const ChildResult r =
      RunInChild([] { return std::string(1 << 20, 'x'); }, milliseconds(10000), 1000);
  assert_int_equal(static_cast<int>(r.end), static_cast<int>(ChildResult::End::kTooLarge));
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report),    cmocka_unit_test(test_exit_and_throw),
      cmocka_unit_test(test_crash),     cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_too_large),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
