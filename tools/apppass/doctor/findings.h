// A doctor finding (ok, warning or problem, with a one-line fix) and the two ways
// `apppass doctor` prints a list of them. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace apppass::doctor {

enum class Level { kOk, kWarning, kProblem };

// "ok", "warning" or "problem".
const char* LevelName(Level level);

struct Finding {
  std::string check;  // "store", "access", "pam", "postfix", "sasl", "broker" or "web"
  Level level = Level::kOk;
  std::string message;  // one line, printable ASCII
  std::string fix;      // one line; empty when there is nothing to do
};

// A finding of `check` (the checks' shorthand).
Finding Make(const char* check, Level level, std::string message, std::string fix = "");

bool HasProblem(const std::vector<Finding>& findings);
// "ok: ..." / "warning: ..." / "problem: ..." lines, each followed by "  fix: ..." when
// there is a fix, then a summary line.
std::string FormatText(const std::vector<Finding>& findings);
// [{"check","status","message","fix"}], fix null when there is none; one line.
std::string FormatJson(const std::vector<Finding>& findings);

}  // namespace apppass::doctor
