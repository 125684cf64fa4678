// sasl_login: one SASL server exchange through the real libsasl2, for a test that runs it
// as another user (tests/verify_broker): the plugins come from PLUGIN_DIR only, the
// application's config is CONF_DIR/APPNAME.conf.
//
//   sasl_login PLUGIN_DIR CONF_DIR APPNAME MECH USER < PASSWORD
//
// MECH is PLAIN or LOGIN; the password is the first line of stdin (never argv). Prints
// "rc=<SASL code name> ms=<milliseconds of the exchange>", then every line the plugin
// logged through the application's callback ("apppass: ..."). Exit status 0 when the
// exchange ran (whatever its result), 2 when it could not be set up.
#include <sasl/sasl.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "../lib/sasl_harness.h"

int main(int argc, char** argv) {
  using sasltest::g_harness;
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PLUGIN_DIR CONF_DIR APPNAME MECH USER < PASSWORD\n", argv[0]);
    return 2;
  }
  g_harness.server_path = argv[1];
  g_harness.conf_dir = argv[2];
  g_harness.appname = argv[3];
  const std::string mech = argv[4];
  const std::string user = argv[5];
  std::string password;
  std::getline(std::cin, password);
  sasltest::InitSasl(false);
  int rc = SASL_FAIL;
  const auto start = std::chrono::steady_clock::now();
  {
    sasltest::ServerConn conn;  // service smtp, client 192.0.2.7
    if (mech == "PLAIN") {
      rc = conn.Start("PLAIN", std::string(1, '\0') + user + std::string(1, '\0') + password);
    } else {
      rc = conn.Start("LOGIN", std::nullopt);
      if (rc == SASL_CONTINUE) rc = conn.Step(user);
      if (rc == SASL_CONTINUE) rc = conn.Step(password);
    }
  }
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("rc=%s ms=%.0f\n", sasltest::CodeName(rc).c_str(), ms);
  for (const std::string& line : sasltest::g_log)
    if (line.rfind("apppass: ", 0) == 0) std::printf("%s\n", line.c_str());
  sasltest::DoneSasl(false);
  return 0;
}
