// The records apppass keeps in its store, and their encoding.
//
// Every record is a small JSON object carrying "v", its format version. Decoders accept
// any version up to the one they know and ignore fields they do not know, so a later
// apppass can add fields without breaking stores or older verifiers; a record with a
// newer "v" than this build knows is refused (never half-read). Decoding never throws.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace apppass {

inline constexpr int kCredentialVersion = 1;
inline constexpr int kUserVersion = 1;
inline constexpr int kUsageVersion = 1;

// One app password, indexed by the keyed hash of the password.
struct Credential {
  int version = kCredentialVersion;
  std::string id;  // short random hex id, unique in the store
  std::string user;
  std::string name;                 // the label ("iPhone mail")
  std::vector<std::string> scopes;  // empty: every service the module is configured for
  // The admin chose every service on purpose (create --all-services; scopes is then
  // empty). Optional in the record (added within version 1, written only when true): an
  // older record with no scopes is "unscoped", which still works but `apppass check`
  // warns about; an older verifier reads either as every service.
  bool all_services = false;
  std::int64_t created = 0;  // unix seconds
  std::optional<std::int64_t> expires;
  std::optional<std::int64_t> revoked;  // kept as a tombstone so logs can say "revoked"
};

// Whether `c` is in force at `now` (unix seconds): not revoked and not expired.
bool IsActive(const Credential& c, std::int64_t now);

enum class MfaState { kNone, kPending, kConfirmed };
inline constexpr std::string_view kSourceApppass = "apppass";
std::string_view MfaStateName(MfaState s);

// A user's MFA enrollment. The TOTP secret is sealed with the admin-only key, so the
// services that may read the store cannot read it.
struct UserRecord {
  int version = kUserVersion;
  std::string user;
  MfaState mfa = MfaState::kNone;
  std::string sealed_secret;  // hex of nonce || secretbox(secret)
  std::int64_t enrolled = 0;
  std::optional<std::int64_t> confirmed;
  std::int64_t last_step = -1;  // the last TOTP time step accepted: never accepted again
  // Where the secret came from: kSourceApppass (made by 'mfa enroll') or the PAM module
  // whose enrollment 'mfa import' accepted ("google-authenticator", "oath"). Optional in
  // the record (version 1 without it means "apppass"): 1..32 of [a-z0-9-].
  std::string source{kSourceApppass};
  // The throttle on wrong codes (code_throttle.h): wrong codes counted in the window that
  // began at code_window_start (unix seconds). Optional in the record (added within
  // version 1; a record without them has none); written only while not both zero. Never
  // negative.
  int code_failures = 0;
  std::int64_t code_window_start = 0;
  // The user's unused recovery codes (recovery_codes.h): their keyed hashes (64 lowercase
  // hex digits each), never the codes. Optional in the record (added within version 1;
  // written only when not empty); at most kMaxRecoveryCodes.
  std::vector<std::string> recovery;
  // A replacement authenticator waiting for its first code (mfa_replace.h, issue 13):
  // the new secret, sealed like sealed_secret, and when it was made. Optional in the
  // record (added within version 1; written only when not empty, only beside a confirmed
  // enrollment). The confirmed secret keeps working until a code of this one swaps them.
  std::string pending_secret;
  std::int64_t pending_since = 0;
};
inline constexpr std::size_t kMaxRecoveryCodes = 10;

// The last use of one app password (kept in the separate usage database).
struct Usage {
  int version = kUsageVersion;
  std::int64_t time = 0;
  std::string service;
  std::string rhost;
};

std::string EncodeCredential(const Credential& c);
Status DecodeCredential(std::string_view data, Credential* out);
std::string EncodeUser(const UserRecord& u);
Status DecodeUser(std::string_view data, UserRecord* out);
std::string EncodeUsage(const Usage& u);
Status DecodeUsage(std::string_view data, Usage* out);

}  // namespace apppass
