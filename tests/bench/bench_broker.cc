// bench_broker: what a verification through apppassd costs a service that is not root:
// one broker::Call (connect, handshake, VERIFY, reply: what the PAM module and the SASL
// plugin do per login when they do not run as root), against the real daemon on a socket
// in a temp directory, with a store of a few hundred users. Prints the median and the 99th
// percentile round trip in microseconds, which include Verify's time floor (verifier.h).
// Asserts only that every outcome is the right one, never a time.
//
// Usage: bench_broker APPPASSD [ROUNDS]   (root: the daemon runs as root only; 77 otherwise)
#include <liboath/oath.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "admin.h"
#include "broker_client.h"
#include "store_internal.h"
#include "verifier.h"

using namespace apppass;

namespace {

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_broker: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

std::string CurrentCode(const EnrollResult& e, std::int64_t now) {
  char* raw = nullptr;
  size_t len = 0;
  const std::string b32(e.base32.view());
  if (oath_base32_decode(b32.data(), b32.size(), &raw, &len) != OATH_OK) std::exit(1);
  char otp[7] = {};
  oath_totp_generate(raw, len, now, 30, 0, 6, otp);
  std::free(raw);
  return otp;
}

// One VERIFY through the daemon; its outcome name ("" when the call failed).
std::string VerifyThrough(const std::string& socket, const std::string& user,
                          const std::string& password, std::uint64_t id) {
  broker::Request req{.kind = broker::RequestKind::kVerify, .id = id, .fields = {}};
  if (!req.fields.Add("user", user).ok() || !req.fields.Add("password", password).ok() ||
      !req.fields.Add("service", "imap").ok())
    return "";
  broker::CallResult r;
  if (!broker::Call(socket, req, broker::kVerifyTimeout, &r).ok()) return "";
  const std::string* outcome = r.final.fields.Get("outcome");
  return outcome != nullptr ? *outcome : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_broker APPPASSD [ROUNDS]\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::printf("# skipped: apppassd runs as root only\n");
    return 77;
  }
  const int rounds = argc > 2 ? std::max(10, std::atoi(argv[2])) : 2000;
  oath_init();
  char tmpl[] = "/tmp/apppass-bench-broker.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string db = dir + "/db", socket = dir + "/apppassd.sock";
  Status s = Store::Init(db);
  if (!s.ok()) Die("init", s);
  std::vector<std::string> users, passwords;
  {
    Store admin;
    if (!(s = Store::Open(db, Store::Mode::kAdmin, &admin)).ok()) Die("open", s);
    MDB_env* env = apppass::internal::StoreAccess::env(admin).get();
    mdb_env_set_flags(env, MDB_NOSYNC, 1);  // building only; synced below
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (int u = 0; u < 300; ++u) {
      const std::string user = "user" + std::to_string(u);
      EnrollResult e;
      if (!(s = MfaEnroll(admin, user, "bench", now, &e)).ok()) Die("enroll", s);
      if (!(s = MfaConfirm(admin, user, CurrentCode(e, now), now)).ok()) Die("confirm", s);
      Created c;
      if (!(s = CreatePassword(admin, {.user = user, .name = "phone", .scopes = {"imap"}}, now, &c))
               .ok())
        Die("create", s);
      users.push_back(user);
      passwords.emplace_back(c.password.view());
    }
    mdb_env_sync(env, 1);
  }

  const pid_t daemon = fork();
  if (daemon == 0) {
    // Its log (a line per verification) is not the figure.
    if (std::freopen("/dev/null", "w", stderr) == nullptr) _exit(127);
    execl(argv[1], argv[1], "--db", db.c_str(), "--socket", socket.c_str(), nullptr);
    _exit(127);
  }
  struct stat st {};
  for (int i = 0; i < 200 && stat(socket.c_str(), &st) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));

  std::vector<double> accepted, wrong;
  int bad = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::size_t k = static_cast<std::size_t>(i) % users.size();
    const bool right = i % 2 == 0;
    const std::string pw = right ? passwords[k] : "abcd-efgh-jkmn-pqrs-tuvw";
    const auto t0 = std::chrono::steady_clock::now();
    const std::string outcome =
        VerifyThrough(socket, users[k], pw, static_cast<std::uint64_t>(i + 1));
    const auto t1 = std::chrono::steady_clock::now();
    if (outcome != (right ? "accepted" : "wrong-password")) {
      if (++bad <= 3)
        std::fprintf(stderr, "bench_broker: round %d: outcome '%s'\n", i, outcome.c_str());
      continue;
    }
    (right ? accepted : wrong)
        .push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  kill(daemon, SIGTERM);
  int status = 0;
  waitpid(daemon, &status, 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  auto print = [](const char* what, std::vector<double>& us) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    std::printf(
        "verify through the broker (%s): median round trip %.0f us, p99 %.0f us (%zu calls)\n",
        what, us[us.size() / 2], us[us.size() * 99 / 100], us.size());
  };
  std::printf(
      "# one broker::Call each (connect, handshake, VERIFY, reply), including Verify's "
      "%lld us floor\n",
      static_cast<long long>(VerifyFloorNs() / 1000));
  print("accepted", accepted);
  print("wrong password", wrong);
  if (bad > 0) {
    std::fprintf(stderr, "bench_broker: %d wrong or missing answers\n", bad);
    return 1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_broker: apppassd did not exit 0 on SIGTERM\n");
    return 1;
  }
  return 0;
}
