// Unit tests of the thread-safety contract of store.h and verifier.h: Verify on a Store
// opened in kVerify mode may be called from many threads at once, also while another
// process grows the store beyond the verifiers' map (every reader then remaps, which
// needs no transaction active in the process).

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "admin.h"
#include "store.h"
#include "store_internal.h"
#include "verifier.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

constexpr std::int64_t kNow = 1700000025;
constexpr int kThreads = 4;

struct Fixture {
  test::TempDir tmp;
  std::string dir;
  std::string password;  // alice's app password, display form
};

int Setup(void** state) {
  auto* f = new Fixture;
  f->dir = f->tmp.Join("store");
  {
    Store admin;
    Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &admin);
    Created made;
    CreateRequest req{
        .user = "alice", .name = "phone", .scopes = {}, .expires = {}, .all_services = true};
    if (s.ok()) s = SetPolicy(admin, "max_active", "1000");  // the writer below makes 300
    if (s.ok()) s = CreatePassword(admin, req, kNow, &made);
    if (!s.ok()) {
      print_error("making the test store failed: %s\n", s.message().c_str());
      delete f;
      return -1;
    }
    f->password = std::string(made.password.view());
  }  // closes the admin environment: the verifiers below map only what is in use
  *state = f;
  return 0;
}

int Teardown(void** state) {
  delete static_cast<Fixture*>(*state);
  return 0;
}

// Verifies alice's password and a wrong one from kThreads threads, `rounds` times each;
// returns how many decisions were not the expected ones.
int VerifyConcurrently(const Store& store, const std::string& password, int rounds,
                       const std::atomic<bool>* keep_going = nullptr) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < rounds || (keep_going != nullptr && keep_going->load()); ++i) {
        if (Verify(store, "alice", password, "imap", kNow).outcome != Outcome::kAccepted) ++wrong;
        const Decision d = Verify(store, "alice", "aaaa-bbbb-cccc-dddd", "imap", kNow);
        if (d.outcome == Outcome::kAccepted) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  return wrong.load();
}

void test_many_threads(void** state) {
  Fixture& f = *static_cast<Fixture*>(*state);
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  assert_int_equal(VerifyConcurrently(v, f.password, 300), 0);
}

// Another process writes enough to grow data.mdb past the verifiers' map while the threads
// verify: each remap waits for the other threads' read transactions to end.
void test_threads_while_the_store_grows(void** state) {
  Fixture& f = *static_cast<Fixture*>(*state);
  int go[2];
  assert_int_equal(::pipe(go), 0);
  // Forked before any thread or environment exists in this process.
  const pid_t writer = ::fork();
  assert_true(writer >= 0);
  if (writer == 0) {
    ::close(go[1]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    Store admin;
    if (!Store::Open(f.dir, Store::Mode::kAdmin, &admin).ok()) ::_exit(3);
    for (int i = 0; i < 300; ++i) {
      Created made;
      CreateRequest req{
          .user = "alice", .name = "p" + std::to_string(i), .scopes = {"imap"}, .expires = {}};
      if (!CreatePassword(admin, req, kNow, &made).ok()) ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(go[0]);
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  MDB_envinfo before{};
  mdb_env_info(internal::StoreAccess::env(v).get(), &before);
  std::atomic<bool> writing{true};
  std::atomic<int> wrong{-1};
  std::thread verifiers([&] { wrong = VerifyConcurrently(v, f.password, 50, &writing); });
  assert_int_equal(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  int status = 0;
  while (::waitpid(writer, &status, 0) < 0) {
  }
  // Let the threads see the final size too.
  const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  writing.store(false);
  verifiers.join();
  assert_true(child_ok);
  assert_int_equal(wrong.load(), 0);
  // One more round after the growth: the new records are there to be found.
  assert_int_equal(VerifyConcurrently(v, f.password, 20), 0);
  MDB_envinfo after{};
  mdb_env_info(internal::StoreAccess::env(v).get(), &after);
  assert_true(after.me_mapsize > before.me_mapsize);
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_many_threads, Setup, Teardown),
      cmocka_unit_test_setup_teardown(test_threads_while_the_store_grows, Setup, Teardown),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
