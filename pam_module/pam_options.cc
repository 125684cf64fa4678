#include "pam_options.h"

#include <fmt/format.h>

#include "option_values.h"
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
      if (!has_value || !ParseStoreDir(value, &out->db))
        return bad(fmt::format("needs an absolute directory, e.g. db={}", kDefaultStoreDir));
    } else if (key == "broker") {
      if (!has_value || !ParseSocketPath(value, &out->broker))
        return bad(fmt::format("needs the absolute path of a UNIX socket, e.g. broker={}",
                               broker::kDefaultSocket));
    } else if (key == "scope") {
      if (!has_value || !ParseScope(value, &out->scope))
        return bad("needs a service name, e.g. scope=imap");
    } else if (key == "usage_interval") {
      if (!has_value || !ParseUsageInterval(value, &out->usage_interval))
        return bad(fmt::format("needs a number of seconds from 0 to {}", kMaxUsageInterval));
    } else if (key == "unenrolled") {
      if (value == "deny") out->unenrolled = UnenrolledPolicy::kDeny;
      else if (value == "ignore") out->unenrolled = UnenrolledPolicy::kIgnore;
      else return bad("needs deny or ignore, e.g. unenrolled=ignore");
    } else if (key == "account") {
      if (value == "none") out->account = AccountPolicy::kNone;
      else if (value == "nss") out->account = AccountPolicy::kNss;
      else return bad("needs nss or none, e.g. account=nss");
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
    } else if (key == "totp") {
      out->totp = true;
    } else {
      return bad("unknown option");
    }
  }
  return Status::Ok();
}

}  // namespace apppass
