// Unit tests of the SASL plugin's per-process state (sasl_plugin/sasl_state.h), without
// libsasl: the failed states, the reopen in a forked child (while the parent's snapshot
// stays usable to whoever holds it), and many threads verifying on snapshots at once.
// CMocka; the store is made in a throwaway directory.

#include "sasl_state.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin.h"
#include "authenticate.h"
#include "sasl_options.h"
#include "store.h"
#include "verifier.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::sasl {
namespace {

constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;  // destroyed last
  SaslOptions opts;
  std::string password;  // alice's app password (any service)
};

int Setup(void** state) {
  auto* f = new Fixture;
  f->opts.db = f->tmp.Join("store");
  Store admin;
  Status s = test::MakeStoreWithUser(f->opts.db, "alice", kNow, &admin);
  Created c;
  if (s.ok())
    s = CreatePassword(
        admin, {.user = "alice", .name = "phone", .expires = {}, .all_services = true}, kNow, &c);
  if (!s.ok()) {
    print_error("making the test store failed: %s\n", s.message().c_str());
    delete f;
    return -1;
  }
  f->password = std::string(c.password.view());
  *state = f;
  return 0;
}

int Teardown(void** state) {
  delete static_cast<Fixture*>(*state);
  return 0;
}

Fixture& Fx(void** state) { return *static_cast<Fixture*>(*state); }

Outcome VerifyWith(const ProcessState& st, std::string_view password) {
  if (st.fail_code != SASL_OK) return Outcome::kUnavailable;
  return Verify(st.store, "alice", password, "smtp", kNow).outcome;
}

void test_bad_option_fails_closed(void** state) {
  Fixture& f = Fx(state);
  StoreState ss;
  ss.Init(f.opts, Status::InvalidArgument("apppass_usage: 'Yes' is not yes or no"), nullptr);
  const auto st = ss.Current(f.opts, nullptr);
  assert_int_equal(st->fail_code, SASL_FAIL);
  assert_string_equal(st->fail_reason.c_str(), "bad-option");
  assert_string_equal(st->fail_detail.c_str(), "apppass_usage: 'Yes' is not yes or no");
  // A forked child stays failed: a bad option is not reopened.
  const pid_t pid = fork();
  if (pid == 0) {
    const auto child = ss.Current(f.opts, nullptr);
    _exit(child->fail_code == SASL_FAIL && child->fail_reason == "bad-option" ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void test_missing_store_is_unavailable(void** state) {
  Fixture& f = Fx(state);
  SaslOptions opts = f.opts;
  opts.db = f.tmp.Join("nowhere");
  StoreState ss;
  ss.Init(opts, Status::Ok(), nullptr);
  const auto st = ss.Current(opts, nullptr);
  assert_int_equal(st->fail_code, SASL_UNAVAIL);
  assert_string_equal(st->fail_reason.c_str(), "unavailable");
  assert_false(st->fail_detail.empty());
}

void test_not_initialized_fails_closed(void** state) {
  Fixture& f = Fx(state);
  StoreState ss;
  const auto st = ss.Current(f.opts, nullptr);
  assert_int_not_equal(st->fail_code, SASL_OK);
}

void test_open_and_same_snapshot(void** state) {
  Fixture& f = Fx(state);
  StoreState ss;
  ss.Init(f.opts, Status::Ok(), nullptr);
  const auto a = ss.Current(f.opts, nullptr);
  const auto b = ss.Current(f.opts, nullptr);
  assert_int_equal(a->fail_code, SASL_OK);
  assert_true(a->usage_open);
  assert_int_equal(a->pid, getpid());
  assert_ptr_equal(a.get(), b.get());  // no reopen within one process
  assert_int_equal(static_cast<int>(VerifyWith(*a, f.password)),
                   static_cast<int>(Outcome::kAccepted));
}

// A child reopens in its own name; the snapshot it inherited stays allocated for as long as
// someone holds it (it now refuses, as an inherited environment does), so a reopen never
// frees a store under a thread that verifies with it.
void test_fork_reopens_and_keeps_old_snapshot(void** state) {
  Fixture& f = Fx(state);
  StoreState ss;
  ss.Init(f.opts, Status::Ok(), nullptr);
  const auto before = ss.Current(f.opts, nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const auto after = ss.Current(f.opts, nullptr);
    const bool ok =
        after.get() != before.get() && after->pid == getpid() && after->fail_code == SASL_OK &&
        VerifyWith(*after, f.password) == Outcome::kAccepted && before.use_count() >= 1 &&
        VerifyWith(*before, f.password) == Outcome::kUnavailable &&
        ss.Current(f.opts, nullptr).get() == after.get();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The parent is untouched.
  assert_ptr_equal(ss.Current(f.opts, nullptr).get(), before.get());
  assert_int_equal(static_cast<int>(VerifyWith(*before, f.password)),
                   static_cast<int>(Outcome::kAccepted));
}

// Logins of many threads at once, each on its own snapshot, recording last use too.
void test_threads_verify_at_once(void** state) {
  Fixture& f = Fx(state);
  StoreState ss;
  ss.Init(f.opts, Status::Ok(), nullptr);
  std::atomic<int> right{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const auto st = ss.Current(f.opts, nullptr);
        const bool accept = (i + t) % 2 == 0;
        const std::string pw = accept ? f.password : "wrong-password";
        const RecordUse record = [&st](std::string_view id, const Usage& use) {
          return st->usage.Record(id, use, 0);
        };
        const AuthResult r = Authenticate({.store = &st->store,
                                           .ctx = {"smtp", "alice", "192.0.2.7"},
                                           .password = pw,
                                           .now = kNow + i},
                                          record);
        const bool ok = accept ? r.decision.outcome == Outcome::kAccepted && r.log.size() == 1
                               : r.decision.outcome == Outcome::kWrongPassword;
        ++(ok ? right : wrong);
      }
    });
  }
  for (auto& t : threads) t.join();
  assert_int_equal(wrong.load(), 0);
  assert_int_equal(right.load(), 8 * 40);
}

}  // namespace
}  // namespace apppass::sasl

int main() {
  using namespace apppass::sasl;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_option_fails_closed, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_missing_store_is_unavailable, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_not_initialized_fails_closed, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_open_and_same_snapshot, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_fork_reopens_and_keeps_old_snapshot, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_threads_verify_at_once, Setup, Teardown),
  };
  return cmocka_run_group_tests_name("sasl_state", tests, nullptr, nullptr);
}
