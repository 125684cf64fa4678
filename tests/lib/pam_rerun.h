// RerunUnderPamWrapper: the second step of the C++ PAM test programs (tests/pam,
// tests/faults, tests/process). Step 1 writes the service files into a temporary
// directory; this runs the same program again in a child, under pam_wrapper with those
// services, so that the parent can remove the directory whatever becomes of the child.
// RunStep2 runs step 2's checks.
#pragma once

#include <liboath/oath.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

#include "report.h"

namespace pamtest {

// Sets `step_env`=dir (the child's sign that it is step 2), PAM_WRAPPER=1 and
// PAM_WRAPPER_SERVICE_DIR=services (and PAM_WRAPPER_DEBUGLEVEL=4 unless set, with
// `trace`: pam_wrapper then copies pam_syslog lines to stderr), re-executes
// /proc/self/exe with `argv`, waits, and removes `dir`. Returns the child's exit status,
// 1 when a signal killed it, 2 when LD_PRELOAD lacks libpam_wrapper.so or fork failed.
inline int RerunUnderPamWrapper(char** argv, const char* step_env, const std::string& dir,
                                const std::string& services, const char* prog, bool trace) {
  std::error_code ec;
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr || std::strstr(preload, "pam_wrapper") == nullptr) {
    std::filesystem::remove_all(dir, ec);
    std::fprintf(stderr, "%s: libpam_wrapper.so must be in LD_PRELOAD\n", prog);
    return 2;
  }
  setenv(step_env, dir.c_str(), 1);
  setenv("PAM_WRAPPER", "1", 1);
  setenv("PAM_WRAPPER_SERVICE_DIR", services.c_str(), 1);
  if (trace) setenv("PAM_WRAPPER_DEBUGLEVEL", "4", 0);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    std::filesystem::remove_all(dir, ec);
    std::fprintf(stderr, "%s: fork failed: %s\n", prog, std::strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "%s: re-exec failed: %s\n", prog, std::strerror(errno));
    _exit(2);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  std::filesystem::remove_all(dir, ec);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  std::fprintf(stderr, "%s: killed by signal %d\n", prog, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return 1;
}

// Step 2 of a program that checks with TOTP codes: oath_init (dies if it fails), `checks`
// (its status), oath_done. An exception out of `checks` is reported on stderr as
// "PROG: what" and is status 2.
inline int RunStep2(const char* prog, const std::function<int()>& checks) {
  if (oath_init() != OATH_OK) testlib::Die("oath_init failed");
  int rc = 2;
  try {
    rc = checks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog, e.what());
  }
  oath_done();
  return rc;
}

}  // namespace pamtest
