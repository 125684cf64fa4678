// bench_sasl: SASL PLAIN through our plugin against the stock PLAIN over a sasldb (part
// "sasl" of tests/bench/run-benchmarks).
//
//   bench_sasl --out FILE.json --stores DIR [--quick]
//
// Two long-lived libsasl2 server processes, as smtpd is (sasl_server_init once): one
// loads libapppass.so (apppass_db: the 1,000-password store bench_bulk_load made in DIR,
// one per user), the other the stock PLAIN with pwcheck_method auxprop over a sasldb made
// with saslpasswd2. Each authentication is what the server does per AUTH: sasl_server_new,
// the security properties, sasl_server_start("PLAIN", authzid NUL user NUL password),
// sasl_dispose; accepted and refused (a wrong password of a known user) alternate. The
// parent runs both in alternating blocks so that the machine's load falls on both alike.
// CPU per authentication: getrusage(RUSAGE_SELF) of the server process over its blocks.
// Target: apppass <= 1.5x the stock PLAIN. Asserts every result code.
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "../lib/run.h"
#include "../lib/sasl_harness.h"
#include "bench_common.h"
#include "verifier.h"

using bench::Die;

namespace {

struct Auth {
  std::string message;  // the PLAIN message
  bool good;
};

struct Server {
  pid_t pid = -1;
  int cmd = -1, back = -1;
};

// Reads exactly `n` bytes; false at EOF or error.
bool ReadAll(int fd, void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = read(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// The server process: for each block size read from `cmd` (0: exit), runs that many
// authentications from `auths` (continuing where the last block ended) and writes back
// the count, the times (us) and the CPU time of the block (us).
[[noreturn]] void ServeChild(const std::string& app, const std::string& plugin_path,
                             const std::string& conf_dir, const std::vector<Auth>& auths, int cmd,
                             int back) {
  sasltest::g_harness.server_path = plugin_path;
  sasltest::g_harness.conf_dir = conf_dir;
  sasltest::g_harness.appname = app;
  sasltest::InitSasl(false);
  std::size_t next = 0;
  int n = 0;
  while (ReadAll(cmd, &n, sizeof n) && n > 0) {
    std::vector<double> us;
    const double c0 = bench::CpuUs(RUSAGE_SELF);
    for (int k = 0; k < n; ++k) {
      const Auth& a = auths[next++ % auths.size()];
      const double t0 = bench::NowUs();
      sasl_conn_t* conn = nullptr;
      if (sasl_server_new("imap", "test.example", nullptr, "127.0.0.1;143", "192.0.2.7;4321",
                          nullptr, 0, &conn) != SASL_OK)
        _exit(3);
      sasl_security_properties_t props{};
      props.security_flags = SASL_SEC_NOANONYMOUS;
      sasl_setprop(conn, SASL_SEC_PROPS, &props);
      const char* out = nullptr;
      unsigned outlen = 0;
      const int rc = sasl_server_start(conn, "PLAIN", a.message.data(),
                                       static_cast<unsigned>(a.message.size()), &out, &outlen);
      sasl_dispose(&conn);
      us.push_back(bench::NowUs() - t0);
      if ((rc == SASL_OK) != a.good) {
        std::fprintf(stderr, "bench_sasl: %s: %s for a %s password\n", app.c_str(),
                     sasltest::CodeName(rc).c_str(), a.good ? "right" : "wrong");
        _exit(4);
      }
    }
    const double cpu = bench::CpuUs(RUSAGE_SELF) - c0;
    sasltest::g_log.clear();
    if (write(back, &n, sizeof n) != sizeof n ||
        write(back, us.data(), us.size() * sizeof(double)) !=
            static_cast<ssize_t>(us.size() * sizeof(double)) ||
        write(back, &cpu, sizeof cpu) != sizeof cpu)
      _exit(5);
  }
  sasltest::DoneSasl(false);
  _exit(0);
}

Server Start(const std::string& app, const std::string& plugin_path, const std::string& conf_dir,
             const std::vector<Auth>& auths) {
  int cmd[2], back[2];
  if (pipe(cmd) != 0 || pipe(back) != 0) Die("pipe");
  std::fflush(nullptr);
  Server s;
  s.pid = fork();
  if (s.pid < 0) Die("fork");
  if (s.pid == 0) {
    close(cmd[1]);
    close(back[0]);
    ServeChild(app, plugin_path, conf_dir, auths, cmd[0], back[1]);
  }
  close(cmd[0]);
  close(back[1]);
  s.cmd = cmd[1];
  s.back = back[0];
  return s;
}

// One block of `n` on `s`: appends the times (split by the auths' kind, which alternate)
// and adds the CPU time.
void Block(const Server& s, int n, std::vector<double>* good, std::vector<double>* bad, double* cpu,
           std::size_t* done) {
  if (write(s.cmd, &n, sizeof n) != sizeof n) Die("write to a server");
  int got = 0;
  std::vector<double> us(static_cast<std::size_t>(n));
  double c = 0;
  if (!ReadAll(s.back, &got, sizeof got) || got != n ||
      !ReadAll(s.back, us.data(), us.size() * sizeof(double)) || !ReadAll(s.back, &c, sizeof c))
    Die("a SASL server process failed (wrong answer?)");
  for (std::size_t k = 0; k < us.size(); ++k) ((*done + k) % 2 == 0 ? good : bad)->push_back(us[k]);
  *done += us.size();
  *cpu += c;
}

void Stop(const Server& s) {
  const int zero = 0;
  if (write(s.cmd, &zero, sizeof zero) != sizeof zero) Die("write");
  int st = 0;
  waitpid(s.pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("a SASL server process failed");
}

std::string Plain(const std::string& user, const std::string& password) {
  std::string m;
  m.push_back('\0');
  m += user;
  m.push_back('\0');
  m += password;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::ParseArgs(argc, argv);
  if (args.stores.empty()) Die("bench_sasl needs --stores DIR");
  const bench::LoadedStore* st = nullptr;
  const auto stores = bench::LoadedStores(args.stores);
  for (const auto& s : stores)
    if (s.per_user == 1 && (st == nullptr || s.count < st->count)) st = &s;
  if (st == nullptr) Die("no one-per-user store in " + args.stores);
  const int rounds = args.quick ? 400 : 10000, block = args.quick ? 100 : 500;
  const int sasldb_users = args.quick ? 10 : 100;

  char tmpl[] = "/tmp/apppass-bench-sasl.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
  const std::string dir = tmpl;
  const std::string ours = dir + "/plugins", conf = dir + "/conf", sasldb = dir + "/sasldb2";
  std::filesystem::create_directory(ours);
  std::filesystem::create_directory(conf);
  std::filesystem::create_symlink(APPPASS_BENCH_SASL_PLUGIN, ours + "/libapppass.so");
  // The same plugin built with the time floor at 0 (--nofloor-build): the work alone.
  const std::string nofloor_plugin =
      args.nofloor_build.empty() ? "" : args.nofloor_build + "/sasl_plugin/libapppass.so";
  const std::string ours0 = dir + "/plugins0";
  if (!nofloor_plugin.empty()) {
    if (!std::filesystem::exists(nofloor_plugin)) Die("no plugin " + nofloor_plugin);
    std::filesystem::create_directory(ours0);
    std::filesystem::create_symlink(nofloor_plugin, ours0 + "/libapppass.so");
  }
  testlib::WriteFile(conf + "/bench-apppass.conf",
                     "mech_list: PLAIN\napppass_db: " + st->dir + "\n");
  testlib::WriteFile(conf + "/bench-stock.conf",
                     "mech_list: PLAIN\npwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                     "sasldb_path: " +
                         sasldb + "\n");

  std::vector<Auth> ours_auths, stock_auths;
  std::mt19937_64 rng(3);
  // 50 users' passwords, cycled: the warm-up is every password's first use, which records
  // its last use (a committed write); the timed ones find it recent, as a user's next
  // logins within the interval do.
  for (int k = 0; k < 100; ++k) {
    const std::uint64_t i = rng() % st->count;
    const bool good = k % 2 == 0;
    ours_auths.push_back(
        {Plain(bench::UserName(i / st->per_user), bench::PasswordFor(i, good ? 0 : 2)), good});
  }
  for (int u = 0; u < sasldb_users; ++u) {
    const std::string user = "s" + std::to_string(u), pw = "Stock-Secret-" + std::to_string(u);
    const testlib::RunResult r = testlib::Run(
        {APPPASS_BENCH_SASLPASSWD2, "-p", "-c", "-f", sasldb, "-u", "test.example", user}, pw);
    if (r.status != 0) Die("saslpasswd2 failed");
  }
  for (int k = 0; k < 100; ++k) {
    const int u = static_cast<int>(rng() % static_cast<std::uint64_t>(sasldb_users));
    const bool good = k % 2 == 0;
    stock_auths.push_back(
        {Plain("s" + std::to_string(u), (good ? "Stock-Secret-" : "Wrong-") + std::to_string(u)),
         good});
  }

  const Server a = Start("bench-apppass", ours, conf, ours_auths);
  const Server b = Start("bench-stock", APPPASS_BENCH_SASL_STOCK_DIR, conf, stock_auths);
  const bool with_c = !nofloor_plugin.empty();
  Server c{};
  if (with_c) c = Start("bench-apppass", ours0, conf, ours_auths);
  std::vector<double> a_good, a_bad, b_good, b_bad, c_good, c_bad, ignore1, ignore2;
  double a_cpu = 0, b_cpu = 0, c_cpu = 0, warm_cpu = 0;
  std::size_t a_done = 0, b_done = 0, c_done = 0;
  Block(a, 200, &ignore1, &ignore2, &warm_cpu, &a_done);  // warm-up, not counted
  Block(b, 200, &ignore1, &ignore2, &warm_cpu, &b_done);
  if (with_c) Block(c, 200, &ignore1, &ignore2, &warm_cpu, &c_done);
  for (int done = 0; done < rounds; done += block) {
    Block(a, block, &a_good, &a_bad, &a_cpu, &a_done);
    Block(b, block, &b_good, &b_bad, &b_cpu, &b_done);
    if (with_c) Block(c, block, &c_good, &c_bad, &c_cpu, &c_done);
  }
  Stop(a);
  Stop(b);
  if (with_c) Stop(c);
  testlib::Run({"/bin/rm", "-rf", dir});

  nlohmann::json rows = nlohmann::json::array();
  rows.push_back(bench::Row("stock PLAIN over sasldb, accepted", b_good, b_cpu / rounds));
  rows.push_back(bench::Row("stock PLAIN over sasldb, refused", b_bad, b_cpu / rounds));
  rows.push_back(bench::Row("apppass PLAIN, accepted", a_good, a_cpu / rounds));
  rows.push_back(bench::Row("apppass PLAIN, refused", a_bad, a_cpu / rounds));
  if (with_c) {
    rows.push_back(bench::Row("apppass PLAIN, accepted, floor 0", c_good, c_cpu / rounds));
    rows.push_back(bench::Row("apppass PLAIN, refused, floor 0", c_bad, c_cpu / rounds));
  }
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& base = rows[k % 2];
    rows[k]["extra"]["ratio"] = rows[k]["p50_us"].get<double>() / base["p50_us"].get<double>();
    rows[k]["extra"]["ratio_to"] = base["name"];
  }
  nlohmann::json targets = nlohmann::json::array();
  // The time floor alone against the stock PLAIN: a lower bound of the ratio.
  const double floor_us = static_cast<double>(apppass::VerifyFloorNs()) / 1000;
  for (int k = 2; k < 4; ++k) {
    const double stock = rows[k % 2]["p50_us"].get<double>();
    char note[256];
    std::snprintf(note, sizeof note,
                  "apppass stores only keyed hashes; its Verify never returns before the %.0f us "
                  "floor, itself %.2fx the stock PLAIN's whole %.0f us",
                  floor_us, floor_us / stock, stock);
    targets.push_back(bench::Target(rows[k]["name"].get<std::string>() + " / stock (p50)",
                                    rows[k]["extra"]["ratio"].get<double>(), 1.5, "<=", note));
  }
  // The work alone (the floor-0 build) against the same limit: what the floor costs apart.
  for (std::size_t k = 4; k < rows.size(); ++k)
    targets.push_back(bench::Target(rows[k]["name"].get<std::string>() + " / stock (p50)",
                                    rows[k]["extra"]["ratio"].get<double>(), 1.5,
                                    "<=", "the same plugin built with APPPASS_VERIFY_FLOOR_US=0"));
  for (const auto& r : rows) std::printf("%s\n", r.dump().c_str());
  const nlohmann::json out = {
      {"part", "sasl"},
      {"title", "SASL PLAIN: apppass against the stock PLAIN over sasldb"},
      {"order", 30},
      {"config",
       {{"authentications_each", rounds},
        {"block", block},
        {"apppass_store", st->count},
        {"sasldb_users", sasldb_users},
        {"service", "imap"}}},
      {"rows", rows},
      {"targets", targets},
      {"notes",
       {"per authentication, server side only, as smtpd per AUTH: sasl_server_new, "
        "sasl_setprop, sasl_server_start(PLAIN, the whole message), sasl_dispose",
        "two long-lived server processes (sasl_server_init once each), run in alternating "
        "blocks; CPU is per authentication, accepted and refused together",
        "apppass: the plugin's defaults (last use recorded, at most once per interval): 50 "
        "users' passwords cycled, first used in the warm-up, so the timed logins are a user's "
        "next ones within the interval"}}};
  bench::WriteResult(args.out, out);
  return 0;
}
