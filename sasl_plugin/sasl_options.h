// Options of the SASL plugin, read from the application's SASL config file (Postfix on
// Debian: /etc/postfix/sasl/smtpd.conf). Keys in that file are global to the application
// (libsasl ignores the plugin name), so ours carry the prefix "apppass_":
//
//   apppass_db: DIR                 the store (absolute path). Required, unless
//                                   apppass_broker is set (then /var/lib/apppass): an
//                                   application whose config names neither is left to
//                                   the stock plugins.
//   apppass_broker: PATH            apppassd's socket (default /run/apppass/apppassd.sock),
//                                   asked to verify when the process is not root at
//                                   plug_init (it cannot open the root-only store)
//   apppass_scope: NAME             check this scope instead of the SASL service name
//   apppass_allow_authzid: yes|no   let PLAIN carry an authorization identity other than
//                                   the user (default no; the application's proxy policy
//                                   still decides)
//   apppass_usage: yes|no           record last use (default yes)
//   apppass_usage_interval: SECONDS at most one last-use write per password per interval
//                                   (default 60, 0..86400)
//   apppass_debug: yes|no           log the effective configuration when the plugin loads
//   apppass_unenrolled: deny|pwcheck
//                                   a user without a confirmed MFA enrollment: refused
//                                   unless an app password of theirs matches (deny, the
//                                   default), or checked by libsasl's own password check,
//                                   the application's pwcheck_method (pwcheck: the
//                                   migration; see pwcheck.h). Enrolled users log in with
//                                   app passwords only, either way.
//   apppass_account: nss|none       after an accepted app password, whether the user's
//                                   system account is still usable (nss: common/account.h;
//                                   default none, for virtual mail users)
//
// Parsed strictly, with the validators the PAM module uses for the values they share
// (common/option_values.h): a bad value is a configuration error, and the mechanisms then
// refuse every login. Needs no libsasl (target apppass_sasl_options), so the tool reads an
// application's options with the plugin's own parser. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker_client.h"
#include "status.h"
#include "usage.h"

namespace apppass {

struct SaslOptions {
  std::string db;                                       // apppass_db (no default)
  std::string broker = broker::kDefaultSocket;          // apppass_broker
  std::string scope;                                    // apppass_scope: overrides the service
  bool allow_authzid = false;                           // apppass_allow_authzid
  bool usage = true;                                    // apppass_usage
  std::int64_t usage_interval = kDefaultUsageInterval;  // apppass_usage_interval
  bool debug = false;                                   // apppass_debug
  bool pwcheck = false;      // apppass_unenrolled: pwcheck (default deny)
  bool account_nss = false;  // apppass_account: nss (default none)
};

// Every key the plugin reads, in the order it reads them.
inline constexpr std::string_view kSaslOptionKeys[] = {
    "apppass_db",      "apppass_broker",         "apppass_scope", "apppass_allow_authzid",
    "apppass_usage",   "apppass_usage_interval", "apppass_debug", "apppass_unenrolled",
    "apppass_account",
};

// Returns the value of one option, or nullptr when it is not set.
using SaslOptionLookup = std::function<const char*(std::string_view key)>;

// Reads the options through `lookup` into `out`.
// NotFound when no apppass_* option is set at all (the plugin stays out of the way);
// InvalidArgument naming the option when a value is bad, or when other apppass_* options
// are set without apppass_db or apppass_broker (a misspelt apppass_db must not silently hand the
// application back to the stock plugins).
Status ParseSaslOptions(const SaslOptionLookup& lookup, SaslOptions* out);

// The mechanisms of a mech_list value that this plugin does not provide (PLAIN and LOGIN,
// case-insensitive), in order. They would be offered by other plugins, which know
// nothing of app passwords.
std::vector<std::string> ForeignMechanisms(std::string_view mech_list);

}  // namespace apppass
