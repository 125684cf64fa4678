// Programs the doctor runs (doveconf): without a shell, from a child (RunInChild,
// child.h) with a time limit. Functions the doctor runs in a child (what libsasl2 loads,
// another user's identity) use RunInChild directly. Not thread-safe (fork).
#pragma once

#include <string>
#include <vector>

namespace apppass::doctor {

// A program's exit status and standard output.
struct ProgramResult {
  bool ran = false;
  int status = -1;
  std::string out;  // at most 64 KiB
  std::string why;  // when !ran
};

// Runs a program (argv[0] a path, no shell; stdin and stderr /dev/null) in a child; gives
// up after 20 s.
ProgramResult RunProgram(const std::vector<std::string>& argv);

// Finds a program on PATH (and in the sbin directories); "" when there is none.
std::string FindProgram(const std::string& name);

}  // namespace apppass::doctor
