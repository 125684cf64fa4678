// second_factor_check: one of the issue-12 checks through apppassd
// (common/second_factor_broker.h), for a test that runs it as another user
// (tests/verify_broker/test_second_factor_broker.sh): what a PAM module's totp mode or
// account=nss does when it is not root.
//
//   second_factor_check SOCKET code USER SERVICE RHOST < CODE
//   second_factor_check SOCKET enrolled USER
//   second_factor_check SOCKET account USER
//
// The code is the first line of stdin (never argv); RHOST may be "" (not sent). Prints
// key=value lines: code: outcome=, codes_left=, detail=, log= (the caller's decision line,
// FormatCodeDecision); enrolled: status= (ok or the code) and enrolled= (yes, no) or
// detail=; account: state= and detail=; then ms= (the call's milliseconds). Exit status
// 0 when the call ran (whatever it answered), 2 on bad usage.
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "decision_log.h"
#include "second_factor_broker.h"

namespace {

using Clock = std::chrono::steady_clock;

long long MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s SOCKET code USER SERVICE RHOST < CODE\n"
               "       %s SOCKET enrolled USER\n"
               "       %s SOCKET account USER\n",
               argv0, argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace apppass;
  if (argc < 4 || sodium_init() < 0) return Usage(argv[0]);
  const std::string socket = argv[1];
  const std::string what = argv[2];
  const std::string user = argv[3];
  const auto t0 = Clock::now();
  if (what == "code" && argc == 6) {
    std::string code;
    std::getline(std::cin, code);
    const CodeDecision d = CheckLoginCodeViaBroker(socket, user, code, argv[4], argv[5]);
    const long long ms = MsSince(t0);
    sodium_memzero(code.data(), code.size());
    std::printf("outcome=%s\ncodes_left=%d\ndetail=%s\nlog=%s\nms=%lld\n",
                std::string(CodeOutcomeName(d.outcome)).c_str(), d.recovery_codes_left,
                d.detail.c_str(), FormatCodeDecision({argv[4], user, argv[5]}, d).c_str(), ms);
    return 0;
  }
  if (what == "enrolled" && argc == 4) {
    bool enrolled = false;
    const Status s = EnrolledViaBroker(socket, user, &enrolled);
    const long long ms = MsSince(t0);
    if (s.ok()) std::printf("status=ok\nenrolled=%s\nms=%lld\n", enrolled ? "yes" : "no", ms);
    else
      std::printf("status=%s\nenrolled=%s\ndetail=%s\nms=%lld\n",
                  s.code() == Status::Code::kUnavailable ? "unavailable" : "other",
                  enrolled ? "yes" : "no", s.message().c_str(), ms);
    return 0;
  }
  if (what == "account" && argc == 4) {
    const AccountCheck a = CheckAccountViaBroker(socket, user);
    const long long ms = MsSince(t0);
    std::printf("state=%s\ndetail=%s\nms=%lld\n", std::string(AccountStateName(a.state)).c_str(),
                a.detail.c_str(), ms);
    return 0;
  }
  return Usage(argv[0]);
}
