// Processes the doctor starts: a function run in a forked child (so that what it loads,
// the identity it takes or a crash stay there) and programs run without a shell.
// Not thread-safe (fork).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace apppass::doctor {

// Runs `body` in a forked child and returns what it wrote (its result), or nullopt when
// the child failed, crashed or took longer than 20 s (then `why` says so).
std::optional<std::string> InChild(const std::function<std::string()>& body, std::string* why);

// A program's exit status and standard output.
struct ProgramResult {
  bool ran = false;
  int status = -1;
  std::string out;  // at most 64 KiB
  std::string why;  // when !ran
};

// Runs a program (argv[0] a path, no shell; stdin and stderr /dev/null) in a child, with
// InChild's timeout.
ProgramResult RunProgram(const std::vector<std::string>& argv);

// Finds a program on PATH (and in the sbin directories); "" when there is none.
std::string FindProgram(const std::string& name);

}  // namespace apppass::doctor
