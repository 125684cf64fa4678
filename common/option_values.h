// Validators of the option values the PAM module (pam_module/pam_options.h) and the SASL
// plugin (sasl_plugin/sasl_options.h) share, so both read a store directory, a broker
// socket, a scope, a last-use interval and a yes/no the same way. Each answers whether
// the value is valid and sets *out only when it is; each shim words its own error
// message. Defaults: kDefaultStoreDir (store.h), kDefaultUsageInterval (usage.h).
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace apppass {

// The longest interval between two last-use writes of one password: a day.
inline constexpr std::int64_t kMaxUsageInterval = 86400;

// A store directory: an absolute path ("/..."). Nothing else is checked here: the store
// checks its own directory when it is opened.
bool ParseStoreDir(std::string_view value, std::string* out);

// The UNIX socket of apppassd (broker=PATH, apppass_broker:): an absolute path that fits a
// sockaddr_un (at most 107 bytes), without control bytes. Default: broker::kDefaultSocket
// (broker_client.h).
bool ParseSocketPath(std::string_view value, std::string* out);

// A scope (service name): what ValidateScope (text.h) accepts.
bool ParseScope(std::string_view value, std::string* out);

// Seconds between last-use writes: a decimal number (std::from_chars), 0 to
// kMaxUsageInterval.
bool ParseUsageInterval(std::string_view value, std::int64_t* out);

// Cyrus SASL's boolean spellings (lib/config.c), lowercase only: yes true on 1, no false
// off 0.
bool ParseYesNo(std::string_view value, bool* out);

}  // namespace apppass
