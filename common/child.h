// RunInChild: runs a function in a forked child process with a time limit and returns
// what it reported, or how it ended instead. For work that may crash or hang on damaged
// input (reading LMDB pages, which LMDB 0.9 trusts) or that must not touch the caller's
// state (running another program).
//
// The one report format: the child's report is the string `fn` returns, written to a
// pipe; the parent gets a ChildResult saying how the child ended (exited with a status,
// killed by a signal, timed out, or could not be started) and what it wrote.
// Not thread-safe: it forks (call it from a single-threaded process, or be sure `fn` only
// uses what fork keeps usable).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace apppass {

struct ChildResult {
  enum class End {
    kExited,    // the child exited: exit_status (0: `fn` returned and its report was sent)
    kSignaled,  // killed by signal `signal` (a crash: SIGSEGV, SIGBUS, ...)
    kTimedOut,  // still running at the deadline: killed with SIGKILL
    kTooLarge,  // its report exceeded the limit: killed with SIGKILL
    kNotRun,    // pipe or fork failed: `error` says which and why
  };
  End end = End::kNotRun;
  int exit_status = -1;  // kExited
  int signal = 0;        // kSignaled
  std::string report;    // what the child wrote (complete when ok())
  std::string error;     // kNotRun: "fork: Resource temporarily unavailable"

  // The child ran `fn` to its end and sent all of its report.
  bool ok() const { return end == End::kExited && exit_status == 0; }
  // For people, when !ok(): "it did not finish in time", "it was killed by SIGBUS",
  // "it failed (exit status 3)", "fork: ...".
  std::string Describe() const;
};

// Exit statuses of the child besides 0.
inline constexpr int kChildThrew = 3;        // `fn` threw
inline constexpr int kChildWriteFailed = 2;  // the report could not be written

// Runs `fn` in a forked child and returns its report. In the child: stdout and stderr are
// flushed before the fork so no buffered output is written twice; crash signals (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL) take their default action and no core file is written, so a
// crash ends the child with its signal; the child leaves with _exit (no atexit handlers).
// A child still running after `timeout`, or whose report grows past `max_report` bytes,
// is killed. Never throws.
ChildResult RunInChild(const std::function<std::string()>& fn, std::chrono::milliseconds timeout,
                       std::size_t max_report = std::size_t{64} << 20);

// "SIGSEGV", "SIGBUS", ..., or "signal N".
std::string SignalName(int sig);

}  // namespace apppass
