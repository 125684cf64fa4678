// Postfix's main.cf and master.cf, as far as the doctor needs them (which services offer
// SMTP AUTH, and through which SASL config). Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apppass::doctor {

// main.cf: name = value, continued on lines that start with white space; the last
// setting of a name wins. Comments and blank lines are skipped.
std::map<std::string, std::string> ParseMainCf(std::string_view text);

// One smtpd service of master.cf and its "-o name=value" overrides ("{...}" values
// unwrapped).
struct SmtpdService {
  std::string name;
  std::map<std::string, std::string> overrides;
  // The chroot column: "y" (or "yes"); "-" is Postfix 3's default, no chroot.
  bool chroot = false;
};
// master.cf: the services whose command is smtpd, in file order.
std::vector<SmtpdService> ParseMasterCf(std::string_view text);

// Postfix's boolean: "yes", "true" (any case) or "1".
bool IsYes(const std::string& v);

}  // namespace apppass::doctor
