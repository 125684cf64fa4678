// A minimal SASL server application for the file and valgrind tests: the real libsasl2
// loads only our plugin, from a directory of the test's own, with a config naming the
// store; then each USER PASSWORD pair is tried with PLAIN (or LOGIN with --login) in a
// new connection.
//
//   sasl_probe [--login] PLUGIN STORE USER PASSWORD [USER PASSWORD...]
//
// Prints one line per attempt, "USER SASL_CODE", and every line libsasl or the plugin
// logged as "log: LINE". Exits 0 when it ran (whatever the answers), 2 when it could not.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"

using namespace sasltest;
using namespace testlib;

// What the plugin logs to syslog while plug_init runs is captured too
// (tests/lib/sasl_syslog_capture.cc).

namespace {

int TryPlain(const std::string& user, const std::string& password) {
  ServerConn conn;
  std::string msg;
  msg.push_back('\0');
  msg += user;
  msg.push_back('\0');
  msg += password;
  return conn.Start("PLAIN", msg);
}

int TryLogin(const std::string& user, const std::string& password) {
  ServerConn conn;
  int rc = conn.Start("LOGIN", std::nullopt);
  if (rc == SASL_CONTINUE) rc = conn.Step(user);
  if (rc == SASL_CONTINUE) rc = conn.Step(password);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool login = false;
  if (!args.empty() && args[0] == "--login") {
    login = true;
    args.erase(args.begin());
  }
  if (args.size() < 4 || args.size() % 2 != 0) {
    std::fprintf(stderr,
                 "usage: sasl_probe [--login] PLUGIN STORE USER PASSWORD [USER PASSWORD...]\n");
    return 2;
  }
  const std::string dir = MakeTempDir("apppass-sasl-probe");
  const std::string plugins = dir + "/plugins";
  if (mkdir(plugins.c_str(), 0755) != 0 ||
      symlink(args[0].c_str(), (plugins + "/libapppass.so").c_str()) != 0)
    Die("cannot make the plugin directory");
  WriteFile(dir + "/probe.conf", "mech_list: PLAIN LOGIN\napppass_db: " + args[1] + "\n");
  g_harness.server_path = plugins;
  g_harness.conf_dir = dir;
  g_harness.appname = "probe";
  InitSasl(false);
  for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
    const int rc = login ? TryLogin(args[i], args[i + 1]) : TryPlain(args[i], args[i + 1]);
    std::printf("%s %s\n", args[i].c_str(), CodeName(rc).c_str());
  }
  DoneSasl(false);
  for (const std::string& line : g_log) std::printf("log: %s\n", line.c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
