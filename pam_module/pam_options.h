// Options of the PAM module (pam_apppass.so arguments), over the shared value validators
// (common/option_values.h). Parsed strictly: an unknown or malformed option is a
// configuration error, and the module then refuses.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker_client.h"
#include "status.h"
#include "store.h"
#include "usage.h"

namespace apppass {

struct ModuleOptions {
  std::string db = kDefaultStoreDir;  // db=DIR
  // broker=PATH: apppassd's socket, asked to verify when the module does not run as root
  // (root opens the store `db` itself).
  std::string broker = broker::kDefaultSocket;
  std::string scope;            // scope=NAME: overrides PAM_SERVICE
  bool debug = false;           // debug: log the effective configuration (store, scope
                                // and its origin, last use) at each authentication,
                                // at LOG_DEBUG
  bool use_first_pass = false;  // handled by pam_get_authtok; accepted here
  bool try_first_pass = false;
  bool no_usage = false;                                // no_usage: do not record last use
  std::int64_t usage_interval = kDefaultUsageInterval;  // usage_interval=SECONDS between
                                                        // last-use writes
};

// Parses argv-style options into `out`. InvalidArgument names the offending option.
Status ParseModuleOptions(const std::vector<std::string_view>& args, ModuleOptions* out);

}  // namespace apppass
