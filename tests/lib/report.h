// Reporting for the C++ test programs: each check prints "ok - NAME" or
// "not ok - NAME: WHY" on stdout (flushed at once, so that output from children and
// sanitizers interleaves in order) and counts; the program ends with
// `return testlib::g_failures == 0 ? 0 : 1`. Die ends the program with status 2 when it
// cannot set itself up. Header-only; not thread-safe (report from one thread).
#pragma once

#include <errno.h>  // program_invocation_short_name

#include <cstdio>
#include <cstdlib>
#include <string>

namespace testlib {

inline int g_failures = 0;
inline int g_checks = 0;

inline void Report(bool ok, const std::string& name, const std::string& why = "") {
  ++g_checks;
  if (ok) {
    std::printf("ok - %s\n", name.c_str());
  } else {
    ++g_failures;
    std::printf("not ok - %s%s%s\n", name.c_str(), why.empty() ? "" : ": ", why.c_str());
  }
  std::fflush(stdout);
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(2);
}

}  // namespace testlib
