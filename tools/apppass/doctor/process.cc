#include "doctor/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "child.h"

namespace apppass::doctor {

namespace {

constexpr std::chrono::milliseconds kChildTimeout{20000};
constexpr std::size_t kMaxReport = std::size_t{1} << 20;

}  // namespace

ProgramResult RunProgram(const std::vector<std::string>& argv) {
  ProgramResult r;
  const ChildResult child = RunInChild(
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
      kChildTimeout, kMaxReport);
  if (!child.ok()) {
    r.why = child.Describe();
    return r;
  }
  const std::string* out = &child.report;
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
