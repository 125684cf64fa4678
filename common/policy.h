// The self-service policy: what users may do for themselves through apppassd (issue 11),
// stored in the store (meta "policy", JSON) so every process sees the same rules and a
// change is one transaction. Root sets it with `apppass policy set KEY VALUE`; admin
// commands are bound only by max_active.
//
//   key                  value                                   default
//   self_enroll          yes/no: users may start their own MFA   no
//   self_service_scopes  services users may choose (space-sep.)  imap pop3 smtp sieve
//   max_active           active app passwords per user, 1..1000  25 (admin and users)
//   default_expiry       lifetime of a self-created password     never
//   max_expiry           the longest a user may choose           never
//
// Durations are what ParseDuration (text.h) reads ("90d", "12h", "never").
// Thread-safety: pure functions are thread-safe; the store calls follow store.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"
#include "store.h"

namespace apppass {

inline constexpr int kDefaultMaxActive = 25;
inline constexpr int kMaxMaxActive = 1000;

struct Policy {
  bool self_enroll = false;
  std::vector<std::string> self_service_scopes{"imap", "pop3", "smtp", "sieve"};
  int max_active = kDefaultMaxActive;
  std::optional<std::int64_t> default_expiry;  // seconds; nullopt: never
  std::optional<std::int64_t> max_expiry;      // seconds; nullopt: no limit
};

// The policy keys, in the order `policy show` prints them.
inline constexpr std::string_view kPolicyKeys[] = {"self_enroll", "self_service_scopes",
                                                   "max_active", "default_expiry", "max_expiry"};

// The policy in `txn` (the defaults when none is recorded). Unavailable when the record
// is there but unreadable (corrupt: never guess a looser rule).
Status ReadPolicy(const StoreTxn& txn, Policy* out);
// The same in its own read transaction.
Status ReadPolicy(const Store& store, Policy* out);
// Sets one key from its text form, in one write transaction. InvalidArgument for an
// unknown key or a bad value (the message says what is accepted), or when the result is
// inconsistent (default_expiry longer than max_expiry). REQUIRES: store opened kAdmin.
Status SetPolicy(const Store& store, std::string_view key, std::string_view value);

// Text form of one key's value as `policy show` prints it ("yes", "imap pop3", "25",
// "90d" or "never"); empty for an unknown key.
std::string PolicyValueText(const Policy& p, std::string_view key);

}  // namespace apppass
