#include "doctor/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace apppass::doctor {

namespace {

constexpr int kChildTimeoutMs = 20000;

}  // namespace

std::optional<std::string> InChild(const std::function<std::string()>& body, std::string* why) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    *why = fmt::format("pipe: {}", std::strerror(errno));
    return std::nullopt;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why = fmt::format("fork: {}", std::strerror(errno));
    ::close(p[0]);
    ::close(p[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::close(p[0]);
    std::string out;
    try {
      out = body();
    } catch (...) {
      ::_exit(3);
    }
    const char* d = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      const ssize_t w = ::write(p[1], d, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ::_exit(2);
      d += w;
      left -= static_cast<std::size_t>(w);
    }
    ::_exit(0);  // no atexit handlers, no flushing of the parent's buffers
  }
  ::close(p[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kChildTimeoutMs);
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{p[0], POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  ::close(p[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    *why = "it did not finish in time";
    return std::nullopt;
  }
  if (WIFSIGNALED(status)) {
    *why = fmt::format("it was killed by signal {}", WTERMSIG(status));
    return std::nullopt;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *why = fmt::format("it failed (exit status {})", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return std::nullopt;
  }
  return out;
}

ProgramResult RunProgram(const std::vector<std::string>& argv) {
  ProgramResult r;
  std::string why;
  auto out = InChild(
      [&argv]() -> std::string {
        int p[2];
        if (::pipe(p) != 0) return "E pipe failed";
        const pid_t pid = ::fork();
        if (pid < 0) return "E fork failed";
        if (pid == 0) {
          ::dup2(p[1], 1);
          const int devnull = ::open("/dev/null", O_RDWR);
          if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 2);
          }
          std::vector<char*> args;
          for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
          args.push_back(nullptr);
          ::execv(args[0], args.data());
          ::_exit(127);
        }
        ::close(p[1]);
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
          if (n > 0 && text.size() < (1u << 16)) text.append(buf, static_cast<std::size_t>(n));
        ::close(p[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        return fmt::format("{} ", code) + text;
      },
      &why);
  if (!out) {
    r.why = why;
    return r;
  }
  if (out->rfind("E ", 0) == 0) {
    r.why = out->substr(2);
    return r;
  }
  const auto sp = out->find(' ');
  r.ran = true;
  r.status = std::atoi(out->substr(0, sp).c_str());
  r.out = out->substr(sp + 1);
  if (r.status == 127) {
    r.ran = false;
    r.why = "it could not be run";
  }
  return r;
}

// Finds a program on PATH (and in the sbin directories).
std::string FindProgram(const std::string& name) {
  std::string path = "/usr/sbin:/usr/bin:/sbin:/bin";
  if (const char* env = std::getenv("PATH")) path = std::string(env) + ":" + path;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

}  // namespace apppass::doctor
