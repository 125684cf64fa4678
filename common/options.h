// Options of the PAM module (pam_apppass.so arguments). Parsed strictly: an unknown or
// malformed option is a configuration error, and the module then refuses.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace apppass {

struct ModuleOptions {
  std::string db = "/var/lib/apppass";  // db=DIR
  std::string scope;                    // scope=NAME: overrides PAM_SERVICE
  bool debug = false;                   // debug: also log the reasons of refusals in detail
  bool use_first_pass = false;          // handled by pam_get_authtok; accepted here
  bool try_first_pass = false;
  bool no_usage = false;                // no_usage: do not record last use
  long usage_interval = 60;             // usage_interval=SECONDS between last-use writes
};

// Parses argv-style options into `out`. InvalidArgument names the offending option.
Status ParseModuleOptions(const std::vector<std::string_view>& args, ModuleOptions* out);

}  // namespace apppass
