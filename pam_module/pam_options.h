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

// unenrolled=: what the module says about a user without a confirmed MFA enrollment.
enum class UnenrolledPolicy {
  kDeny,    // deny (default): decided like anyone else (password mode: refused unless an
            // app password; totp mode: prompted, then refused with reason=not-enrolled)
  kIgnore,  // ignore: PAM_IGNORE, so the next module (pam_unix) decides
};

// account=: what pam_sm_acct_mgmt checks.
enum class AccountPolicy {
  kNone,  // none (default): succeeds for the user this module authenticated, else PAM_IGNORE
  kNss,   // nss: every user, by NSS and shadow (account.h): unknown, locked, expired refused
};

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
  bool totp = false;  // totp: the TOTP step (asks "Verification code: ") instead of the
                      // app password check
  UnenrolledPolicy unenrolled = UnenrolledPolicy::kDeny;  // unenrolled=deny|ignore
  AccountPolicy account = AccountPolicy::kNone;           // account=nss|none
};

// Parses argv-style options into `out`. InvalidArgument names the offending option.
Status ParseModuleOptions(const std::vector<std::string_view>& args, ModuleOptions* out);

}  // namespace apppass
