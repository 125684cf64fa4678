#include "options.h"

#include <charconv>

#include <fmt/format.h>

#include "text.h"

namespace apppass {

Status ParseModuleOptions(const std::vector<std::string_view>& args, ModuleOptions* out) {
  for (std::string_view arg : args) {
    const auto eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const bool has_value = eq != std::string_view::npos;
    const std::string_view value = has_value ? arg.substr(eq + 1) : std::string_view();
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(fmt::format("option '{}': {}", LogText(arg, 200), why));
    };
    if (key == "db") {
      if (!has_value || value.empty() || value.front() != '/')
        return bad("needs an absolute directory, e.g. db=/var/lib/apppass");
      out->db = std::string(value);
    } else if (key == "scope") {
      if (!has_value || !ValidateScope(value).ok()) return bad("needs a service name, e.g. scope=imap");
      out->scope = std::string(value);
    } else if (key == "usage_interval") {
      long n = -1;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (!has_value || ec != std::errc() || p != value.data() + value.size() || n < 0 || n > 86400)
        return bad("needs a number of seconds from 0 to 86400");
      out->usage_interval = n;
    } else if (has_value) {
      return bad("unknown option");
    } else if (key == "debug") {
      out->debug = true;
    } else if (key == "use_first_pass") {
      out->use_first_pass = true;
    } else if (key == "try_first_pass") {
      out->try_first_pass = true;
    } else if (key == "no_usage") {
      out->no_usage = true;
    } else {
      return bad("unknown option");
    }
  }
  return Status::Ok();
}

}  // namespace apppass
