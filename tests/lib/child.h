// Work done in a forked child process for the C++ test programs (report.h style): a value
// computed where this process's state cannot change it, or cannot be changed by it.
// Header-only; call from one thread.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
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

}  // namespace testlib
