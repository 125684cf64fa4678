// BrokerFixture: the cmocka fixture of a test against tests/lib/fake_broker.py (a temporary
// directory with the fake daemon's socket in it). Uses cmocka and test::TempDir: include
// fake_broker.h before test_util.h (cmocka.h breaks standard headers after it) and this
// after. Not thread-safe.
#pragma once

#include "fake_broker.h"

namespace testlib {

struct BrokerFixture {
  apppass::test::TempDir tmp;
  std::string socket = tmp.path() + "/apppassd.sock";
  FakeBroker broker;

  // Starts the fake in `mode` with reply `lines`; fails the test if it does not start.
  void Start(const std::vector<std::string>& lines, const char* mode = "reply") {
    const std::string why = broker.Start(socket, mode, lines);
    if (!why.empty()) fail_msg("%s", why.c_str());
  }

  // What the fake daemon was asked, a request a line (secret values replaced by "*").
  std::string Asked() const { return apppass::test::ReadFile(socket + ".log"); }

  // cmocka setup and teardown: *state is a fresh BrokerFixture.
  static int Setup(void** state) {
    *state = new BrokerFixture;
    return 0;
  }
  static int Teardown(void** state) {
    delete static_cast<BrokerFixture*>(*state);
    return 0;
  }
};

}  // namespace testlib
