// Sessions: the web portal's signed-in sessions and pending sign-ins, in apppassd's
// memory only (protocol minor 2, issue 13; a restart ends them all).
//
// A token is 256 random bits (randombytes_buf) sent as 64 lower-case hex digits; only its
// BLAKE2b-256 hash is kept, so a memory dump of the daemon gives no usable token. A token
// in any other form is simply unknown.
//
//   pending sign-in   made by SIGNIN (right password), bound to its user, client address
//                     and next step (code or enroll); lives kSigninLife; dropped after
//                     kSigninWrongCodes wrong codes, and when it leads to a session
//   session           made by SIGNIN_CODE / SIGNIN_CONFIRM for a user; ends after
//                     kIdle without use, kAbsolute after it began, at SIGNOUT, and (the
//                     caller checks it on every use) when the user's enrollment is no longer
//                     the one it remembers (`stamp`: reset or replaced by an admin)
//
// Bounds: at most kPerUser sessions per user (a new one ends that user's oldest) and
// kMaxSessions in all (expired ones are pruned first; then a new one is refused); at most
// kMaxSignins pending sign-ins (expired pruned first, then the oldest dropped).
//
// Time is an argument (`now`, unix seconds) of every call, so the unit tests drive it.
// Thread-safe: every method takes the one mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "secret.h"
#include "status.h"

namespace apppass::daemon {

struct SessionLimits {
  std::int64_t idle = 15 * 60;          // seconds without use
  std::int64_t absolute = 8 * 60 * 60;  // seconds after it began
  std::size_t per_user = 16;
  std::size_t max_sessions = 100000;
  std::int64_t signin_life = 5 * 60;
  int signin_wrong_codes = 3;
  std::size_t max_signins = 100000;
};

// The length of a token on the wire (64 hex digits = 256 bits).
inline constexpr std::size_t kTokenHexLength = 64;

// What a pending sign-in leads to.
enum class SigninNext { kCode, kEnroll };
std::string_view SigninNextName(SigninNext n);  // "code", "enroll"

struct PendingSignin {
  std::string user;
  std::string client;
  SigninNext next = SigninNext::kCode;
  std::int64_t expires = 0;
};

struct SessionInfo {
  std::string user;
  std::string stamp;           // the enrollment it began with (EnrollmentStamp)
  std::int64_t idle_left = 0;  // seconds
  std::int64_t expires_in = 0;
};

class Sessions {
 public:
  explicit Sessions(SessionLimits limits = {}) : limits_(limits) {}
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  // --- pending sign-ins ---
  // A new pending sign-in; its token into `*token` (64 hex digits, a SecretBuffer).
  // Internal when memory runs out.
  Status StartSignin(const std::string& user, const std::string& client, SigninNext next,
                     std::int64_t now, SecretBuffer* token);
  // The pending sign-in of `token`, when it exists, has not expired and (when `client` is
  // given) was made for that client; else NotFound (and an expired one is dropped).
  Status FindSignin(std::string_view token, const std::string* client, std::int64_t now,
                    PendingSignin* out);
  // Counts a wrong code against `token`'s sign-in; drops it at the limit. Whether it was
  // dropped.
  bool SigninWrongCode(std::string_view token);
  void EndSignin(std::string_view token);

  // --- sessions ---
  // A new session of `user`, remembering `stamp`; its token into `*token`. Ends the
  // user's oldest when they have per_user already. Unavailable when max_sessions live
  // sessions exist after pruning; Internal when memory runs out.
  Status Open(const std::string& user, const std::string& stamp, std::int64_t now,
              SecretBuffer* token);
  // Uses `token`'s session: NotFound when unknown, idle too long or too old (then it is
  // ended); else touches it (idle counts again from `now`) and fills `*out`.
  Status Use(std::string_view token, std::int64_t now, SessionInfo* out);
  // Sets the stamp a live session remembers (after its own user replaced the authenticator).
  void SetStamp(std::string_view token, const std::string& stamp);
  // Ends `token`'s session (nothing when unknown).
  void End(std::string_view token);
  // Ends every session of `user` but `keep` (a token, or empty); how many were ended.
  std::size_t EndUser(const std::string& user, std::string_view keep = {});

  // Counts, for tests and the log.
  std::size_t session_count() const;
  std::size_t signin_count() const;

 private:
  struct Session {
    std::string user;
    std::string stamp;
    std::int64_t created = 0;
    std::int64_t last_used = 0;
  };
  using Key = std::string;  // BLAKE2b-256 of the token's 64 hex digits (raw bytes)

  // The key of a token in wire form; false for anything that is not 64 lower-case hex.
  static bool KeyOf(std::string_view token, Key* key);
  // A new random token and its key.
  static Status NewToken(SecretBuffer* token, Key* key);
  bool Alive(const Session& s, std::int64_t now) const;
  void EraseLocked(const Key& key);
  void PruneSessionsLocked(std::int64_t now);
  void PruneSigninsLocked(std::int64_t now);

  const SessionLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Session> sessions_;
  std::unordered_map<std::string, std::vector<Key>> by_user_;  // oldest first
  struct Signin {
    PendingSignin p;
    int wrong = 0;
  };
  std::unordered_map<Key, Signin> signins_;
};

}  // namespace apppass::daemon
