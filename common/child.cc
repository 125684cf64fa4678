#include "child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace apppass {

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

[[noreturn]] void Child(int out, const std::function<std::string()>& fn) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
  struct rlimit none {
    0, 0
  };
  ::setrlimit(RLIMIT_CORE, &none);
  int code = kChildThrew;
  try {
    code = WriteAll(out, fn()) ? 0 : kChildWriteFailed;
  } catch (...) {
  }
  ::_exit(code);
}

}  // namespace

std::string SignalName(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
  }
  return fmt::format("signal {}", sig);
}

std::string ChildResult::Describe() const {
  switch (end) {
    case End::kExited:
      return exit_status == 0 ? "it finished"
                              : fmt::format("it failed (exit status {})", exit_status);
    case End::kSignaled: return fmt::format("it was killed by {}", SignalName(signal));
    case End::kTimedOut: return "it did not finish in time";
    case End::kTooLarge: return "its report was too large";
    case End::kNotRun: return error;
  }
  return error;
}

ChildResult RunInChild(const std::function<std::string()>& fn, std::chrono::milliseconds timeout,
                       std::size_t max_report) {
  ChildResult r;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    r.error = fmt::format("pipe: {}", std::strerror(errno));
    return r;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    r.error = fmt::format("fork: {}", std::strerror(errno));
    ::close(p[0]);
    ::close(p[1]);
    return r;
  }
  if (pid == 0) {
    ::close(p[0]);
    Child(p[1], fn);
  }
  ::close(p[1]);
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      r.end = ChildResult::End::kTimedOut;
      killed = true;
      break;
    }
    struct pollfd pfd {
      p[0], POLLIN, 0
    };
    const int pr = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.report.append(buf, static_cast<std::size_t>(n));
    if (r.report.size() > max_report) {
      r.end = ChildResult::End::kTooLarge;
      killed = true;
      break;
    }
  }
  ::close(p[0]);
  if (killed) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) return r;
  if (WIFSIGNALED(status)) {
    r.end = ChildResult::End::kSignaled;
    r.signal = WTERMSIG(status);
  } else {
    r.end = ChildResult::End::kExited;
    r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return r;
}

}  // namespace apppass
