#include "doctor/findings.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "text.h"

namespace apppass::doctor {

const char* LevelName(Level level) {
  switch (level) {
    case Level::kOk: return "ok";
    case Level::kWarning: return "warning";
    case Level::kProblem: return "problem";
  }
  return "problem";
}

Finding Make(const char* check, Level level, std::string message, std::string fix) {
  return Finding{check, level, std::move(message), std::move(fix)};
}

bool HasProblem(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.level == Level::kProblem; });
}

std::string FormatText(const std::vector<Finding>& findings) {
  std::string out;
  int n[3] = {0, 0, 0};
  for (const Finding& f : findings) {
    ++n[static_cast<int>(f.level)];
    out += fmt::format("{}: {}\n", LevelName(f.level), TerminalSafe(f.message));
    if (!f.fix.empty()) out += fmt::format("  fix: {}\n", TerminalSafe(f.fix));
  }
  out += fmt::format("summary: {} problem{}, {} warning{}, {} ok\n", n[2], n[2] == 1 ? "" : "s",
                     n[1], n[1] == 1 ? "" : "s", n[0]);
  return out;
}

std::string FormatJson(const std::vector<Finding>& findings) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Finding& f : findings)
    arr.push_back({{"check", f.check},
                   {"status", LevelName(f.level)},
                   {"message", f.message},
                   {"fix", f.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.fix)}});
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace apppass::doctor
