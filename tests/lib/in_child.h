// Work done in a forked child process for the C++ test programs (report.h style): a value
// computed, or checks run, where this process's state cannot change it or be changed.
// Header-only; call from one thread.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <type_traits>

#include "report.h"

namespace testlib {

// Runs `compute` in a forked child and returns the value it computed (sent back through a
// pipe), or `failed` when none came back. Dies when it cannot fork.
template <class T>
T ValueFromChild(const std::function<T()>& compute, T failed) {
  static_assert(std::is_trivially_copyable_v<T>);
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    const T value = compute();
    _exit(write(fds[1], &value, sizeof value) == sizeof value ? 0 : 1);
  }
  close(fds[1]);
  T value = failed;
  if (read(fds[0], &value, sizeof value) != sizeof value) value = failed;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return value;
}

// Runs `checks` in a forked child process; its checks count towards ours through its exit
// status (the number that failed), reported here as "WHAT (its process exited cleanly)".
inline void ChecksInChild(const std::string& what, const std::function<void()>& checks) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    g_failures = 0;
    checks();
    std::fflush(stdout);
    std::exit(std::min(g_failures, 100));
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  Report(ok, what + " (its process exited cleanly)",
         WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                       : "killed by signal " + std::to_string(WTERMSIG(st)));
}

}  // namespace testlib
