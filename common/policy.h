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
// Durations are what ParseDuration (text.h) reads ("90d", "12h"), or "never". When
// default_expiry is never and max_expiry is set, a user who names no expiry gets
// max_expiry. The record: meta "policy" -> {"version":1,"self_enroll":false,
// "self_service_scopes":["imap",...],"max_active":25,"default_expiry":null,
// "max_expiry":7776000} (durations in seconds, null for never).
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

// The policy record as stored, and back. DecodePolicy is Unavailable ("corrupt policy
// record: ...") for anything SetPolicy could not have written: not JSON, an unknown
// version, a missing field or a value out of range.
std::string EncodePolicy(const Policy& p);
Status DecodePolicy(std::string_view record, Policy* out);

// The policy in `txn` (the defaults when none is recorded). Unavailable when the record
// is there but unreadable (corrupt: never guess a looser rule).
Status ReadPolicy(const StoreTxn& txn, Policy* out);
// The same in its own read transaction.
Status ReadPolicy(const Store& store, Policy* out);
// Sets one key from its text form, in one write transaction. InvalidArgument for an
// unknown key or a bad value (the message says what is accepted), or when the result is
// inconsistent (default_expiry longer than max_expiry). REQUIRES: store opened kAdmin.
// A corrupt record is Unavailable here too (fix: ResetPolicy).
Status SetPolicy(const Store& store, std::string_view key, std::string_view value);
// Removes the policy record, so the defaults apply (`apppass policy reset`); the way out of
// a corrupt record. REQUIRES: store opened kAdmin.
Status ResetPolicy(const Store& store);

// Text form of one key's value as `policy show` prints it ("yes", "imap pop3", "25",
// "90d" or "never"); empty for an unknown key.
std::string PolicyValueText(const Policy& p, std::string_view key);

// A duration (seconds, > 0) in the largest unit that divides it: "90d", "12h", "30m",
// "45s"; what ParseDuration reads back to the same value.
std::string DurationText(std::int64_t seconds);

// The expiry a user gets when naming none: default_expiry, else max_expiry, else never.
inline std::optional<std::int64_t> EffectiveDefaultExpiry(const Policy& p) {
  return p.default_expiry ? p.default_expiry : p.max_expiry;
}

}  // namespace apppass
