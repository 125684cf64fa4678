// bench_broker: what a verification through apppassd costs a service that is not root:
// one broker::Call (connect, handshake, VERIFY, reply: what the PAM module and the SASL
// plugin do per login when they do not run as root), against the real daemon on a socket
// in a temp directory, with a store of a few hundred users. Prints the median and the 99th
// percentile round trip in microseconds, which include Verify's time floor (verifier.h).
// With --self-users (real system users, made by tests/bench/bench_broker.sh), also a
// self-service CREATE through the daemon by each of them (a child process that becomes the
// user, so the daemon names it from SO_PEERCRED, and sends its current TOTP code: the code
// is spent with the change, so each user creates once). Asserts only that every outcome
// is the right one, never a time. With --out, writes the `broker` part's JSON of
// tests/bench/run-benchmarks.
//
// Usage: bench_broker APPPASSD [ROUNDS]
//        bench_broker --apppassd PATH --out FILE [--quick] [--rounds N] [--self-users A,B,..]
//        bench_broker --out FILE [--quick] --stores DIR   (as run-benchmarks calls a part's
//          program: runs tests/bench/bench_broker.sh instead, part_script.h)
// Root only (the daemon runs as root only): 77 otherwise.
#include <grp.h>
#include <liboath/oath.h>
#include <lmdb.h>
#include <pwd.h>
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
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "admin.h"
#include "broker_client.h"
#include "part_script.h"
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

struct Options {
  std::string apppassd, out;
  int rounds = 2000;
  bool quick = false;
  std::vector<std::string> self_users;
};

Options Parse(int argc, char** argv) {
  Options o;
  if (argc >= 2 && argv[1][0] != '-') {  // the old form: APPPASSD [ROUNDS]
    o.apppassd = argv[1];
    if (argc > 2) o.rounds = std::atoi(argv[2]);
  } else {
    o.rounds = 0;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
      if (a == "--quick") {
        o.quick = true;
        continue;
      }
      if (v == nullptr) break;
      ++i;
      if (a == "--apppassd") o.apppassd = v;
      else if (a == "--out") o.out = v;
      else if (a == "--rounds") o.rounds = std::atoi(v);
      else if (a == "--self-users") {
        std::istringstream in(v);
        for (std::string u; std::getline(in, u, ',');)
          if (!u.empty()) o.self_users.push_back(u);
      } else {
        o.apppassd.clear();
        break;
      }
    }
    if (o.rounds <= 0) o.rounds = o.quick ? 200 : 2000;
  }
  if (o.apppassd.empty()) {
    std::fprintf(stderr,
                 "usage: bench_broker APPPASSD [ROUNDS]\n"
                 "       bench_broker --apppassd PATH --out FILE [--quick] [--rounds N] "
                 "[--self-users A,B,...]\n");
    std::exit(2);
  }
  o.rounds = std::max(10, o.rounds);
  return o;
}

// One self-service CREATE through the daemon as `user` (a system user enrolled in the
// store with `e`): a child becomes the user and sends the current code. Returns the round
// trip in microseconds, or a negative value with *why set when the answer was not an OK
// with a password.
double SelfCreate(const std::string& socket, const std::string& user, const EnrollResult& e,
                  std::uint64_t id, std::string* why) {
  const passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) {
    *why = "no system user " + user;
    return -1;
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  int fds[2];
  if (pipe(fds) != 0) {
    *why = "pipe failed";
    return -1;
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    double us = -1;
    if (setgroups(0, nullptr) == 0 && setgid(gid) == 0 && setuid(uid) == 0) {
      const auto now = static_cast<std::int64_t>(std::time(nullptr));
      broker::Request req{.kind = broker::RequestKind::kCreate, .id = id, .fields = {}};
      if (req.fields.Add("name", "bench").ok() && req.fields.Add("scopes", "imap").ok() &&
          req.fields.Add("code", CurrentCode(e, now)).ok()) {
        broker::CallResult r;
        const auto t0 = std::chrono::steady_clock::now();
        const Status s = broker::Call(socket, req, broker::kRequestTimeout, &r);
        const auto t1 = std::chrono::steady_clock::now();
        if (s.ok() && r.final.type == broker::ReplyType::kOk &&
            r.final.fields.GetSecret("password") != nullptr)
          us = std::chrono::duration<double, std::micro>(t1 - t0).count();
        else if (s.ok())
          std::fprintf(stderr, "bench_broker: CREATE as %s: %s\n", user.c_str(),
                       r.final.message.c_str());
      }
    }
    if (write(fds[1], &us, sizeof us) != sizeof us) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  double us = -1;
  if (pid < 0 || read(fds[0], &us, sizeof us) != sizeof us) us = -1;
  close(fds[0]);
  if (pid > 0) waitpid(pid, nullptr, 0);
  if (us < 0) *why = "CREATE as " + user + " did not succeed";
  return us;
}

double At(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * q))];
}

}  // namespace

int main(int argc, char** argv) {
  benchpart::RunScriptIfCalledAsPart(argc, argv, "bench_broker.sh", false);
  const Options o = Parse(argc, argv);
  if (geteuid() != 0) {
    std::printf("# skipped: apppassd runs as root only\n");
    return 77;
  }
  const int rounds = o.rounds;
  oath_init();
  char tmpl[] = "/tmp/apppass-bench-broker.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  chmod(dir.c_str(), 0755);  // the self-service users reach the socket (the store stays 0700)
  const std::string db = dir + "/db", socket = dir + "/apppassd.sock";
  Status s = Store::Init(db);
  if (!s.ok()) Die("init", s);
  std::vector<std::string> users, passwords;
  std::vector<EnrollResult> self_enrolled;
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
    // The self-service users: confirmed with the previous step's code, so that the
    // current one is still unspent for their CREATE.
    for (const std::string& user : o.self_users) {
      EnrollResult e;
      if (!(s = MfaEnroll(admin, user, "bench", now, &e)).ok()) Die("enroll", s);
      if (!(s = MfaConfirm(admin, user, CurrentCode(e, now - 30), now)).ok())
        Die("confirm " + user, s);
      self_enrolled.push_back(std::move(e));
    }
    mdb_env_sync(env, 1);
  }

  const pid_t daemon = fork();
  if (daemon == 0) {
    // Its log (a line per verification) is not the figure.
    if (std::freopen("/dev/null", "w", stderr) == nullptr) _exit(127);
    const std::string hooks = dir + "/hooks";  // none: never the system's
    execl(o.apppassd.c_str(), o.apppassd.c_str(), "--db", db.c_str(), "--socket", socket.c_str(),
          "--hooks-dir", hooks.c_str(), nullptr);
    _exit(127);
  }
  // Ready when it answers (the socket file appears at bind, before listen, and the store
  // is opened at the first request): the figures start after one full round trip.
  bool ready = false;
  for (int i = 0; i < 400 && !ready; ++i) {
    ready = !VerifyThrough(socket, users[0], passwords[0], 1).empty();
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!ready) {
    kill(daemon, SIGTERM);
    std::fprintf(stderr, "bench_broker: apppassd did not answer within 10 s\n");
    return 1;
  }

  std::vector<double> accepted, wrong;
  int bad = 0, missing = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::size_t k = static_cast<std::size_t>(i) % users.size();
    const bool right = i % 2 == 0;
    const std::string pw = right ? passwords[k] : "abcd-efgh-jkmn-pqrs-tuvw";
    const auto t0 = std::chrono::steady_clock::now();
    const std::string outcome =
        VerifyThrough(socket, users[k], pw, static_cast<std::uint64_t>(i + 1));
    const auto t1 = std::chrono::steady_clock::now();
    if (outcome.empty()) {
      // No answer within the client's deadline: a figure (a loaded machine), not an error.
      ++missing;
      continue;
    }
    if (outcome != (right ? "accepted" : "wrong-password")) {
      if (++bad <= 3)
        std::fprintf(stderr, "bench_broker: round %d: outcome '%s'\n", i, outcome.c_str());
      continue;
    }
    (right ? accepted : wrong)
        .push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::vector<double> creates;
  for (std::size_t i = 0; i < o.self_users.size(); ++i) {
    std::string why;
    const double us = SelfCreate(socket, o.self_users[i], self_enrolled[i],
                                 static_cast<std::uint64_t>(rounds + 1 + i), &why);
    if (us < 0) {
      ++bad;
      std::fprintf(stderr, "bench_broker: %s\n", why.c_str());
    } else {
      creates.push_back(us);
    }
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
  if (!o.out.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    auto row = [&](const std::string& name, const std::vector<double>& us, const char* note) {
      if (us.empty()) return;
      rows.push_back({{"name", name},
                      {"n", us.size()},
                      {"p50_us", At(us, 0.5)},
                      {"p99_us", At(us, 0.99)},
                      {"extra", {{"note", note}}}});
    };
    row("verify through apppassd, accepted", accepted,
        "connect, handshake, VERIFY, reply; includes Verify's time floor");
    row("verify through apppassd, wrong password", wrong,
        "connect, handshake, VERIFY, reply; includes Verify's time floor");
    row("self-service CREATE through apppassd", creates,
        "as a real non-root user (SO_PEERCRED), with a current TOTP code; the change and the "
        "code's use committed to disk together");
    nlohmann::json notes = nlohmann::json::array();
    notes.push_back(
        "apppassd on a UNIX socket in a temp dir, a store of 300 users (+ the "
        "self-service users); one broker::Call per operation, the daemon's "
        "store opened at its first request (before the figures). Verify floor: " +
        std::to_string(VerifyFloorNs() / 1000) + " us.");
    notes.push_back(
        "A self-service CREATE needs a fresh TOTP code, spent with the change: "
        "each self-service user creates once (n = the number of users).");
    if (missing > 0)
      notes.push_back(std::to_string(missing) + " verify calls got no answer within " +
                      std::to_string(broker::kVerifyTimeout.count()) + " ms (not counted)");
    const nlohmann::json result = {
        {"part", "broker"},
        {"title", "Through the broker (apppassd)"},
        {"order", 60},
        {"config",
         {{"rounds", rounds}, {"self_service_users", o.self_users.size()}, {"quick", o.quick}}},
        {"rows", rows},
        {"targets", nlohmann::json::array()},
        {"notes", notes}};
    std::ofstream out(o.out, std::ios::trunc);
    out << result.dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "bench_broker: cannot write %s\n", o.out.c_str());
      return 1;
    }
  }
  print("accepted", accepted);
  print("wrong password", wrong);
  if (!creates.empty()) {
    std::sort(creates.begin(), creates.end());
    std::printf("self-service CREATE through the broker: median %.0f us, p99 %.0f us (%zu)\n",
                At(creates, 0.5), At(creates, 0.99), creates.size());
  }
  if (missing > 0)
    std::printf("no answer within %lld ms: %d of %d calls\n",
                static_cast<long long>(broker::kVerifyTimeout.count()), missing, rounds);
  if (bad > 0) {
    std::fprintf(stderr, "bench_broker: %d wrong answers\n", bad);
    return 1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_broker: apppassd did not exit 0 on SIGTERM\n");
    return 1;
  }
  return 0;
}
