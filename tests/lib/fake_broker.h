// FakeBroker: starts and stops tests/lib/fake_broker.py, a deliberately broken or scripted
// apppassd, from a C++ test (the path of the script comes from the compile definition
// APPPASS_FAKE_BROKER). The script runs without LD_PRELOAD (what a test preloads into
// itself, pam_wrapper or a fault injector, is not for python). Its socket is mode 0666,
// so a process that dropped privileges can connect if it can reach the directory.
// Header-only; not thread-safe; one broker per object (Start again restarts it).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace testlib {

class FakeBroker {
 public:
  FakeBroker() = default;
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;
  ~FakeBroker() { Stop(); }

  // Starts the script on `socket` in `mode` (see fake_broker.py) with reply `lines`, and
  // waits (up to 10 s) until the socket is there. "" on success, else why not.
  std::string Start(const std::string& socket, const std::string& mode,
                    const std::vector<std::string>& lines = {}) {
    Stop();
    socket_ = socket;
    std::vector<std::string> args = {"/usr/bin/env",      "-u",   "LD_PRELOAD", "python3",
                                     APPPASS_FAKE_BROKER, socket, mode};
    args.insert(args.end(), lines.begin(), lines.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return "cannot start " + std::string(APPPASS_FAKE_BROKER);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (access(socket.c_str(), F_OK) != 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "the fake broker exited at start";
      }
      if (std::chrono::steady_clock::now() > until) return "the fake broker did not start";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
  }

  // Stops the script (SIGTERM) and removes its socket and log.
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (!socket_.empty()) {
      unlink(socket_.c_str());
      unlink((socket_ + ".log").c_str());
    }
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string socket_;
};

}  // namespace testlib
