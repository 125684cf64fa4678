// SigninThrottle: the portal's sign-in failures counted in apppassd's memory (protocol
// minor 2, issue 13), per user name and per client address:
//
//   per user name   kUserFailures (5) failures in kWindow (15 min), then refused
//   per client      kClientFailures (20) failures in kWindow, then refused
//
// A failure is a wrong password (an unknown name counts too, under the name typed, so the
// throttle says nothing about which names exist) or a wrong code at the sign-in's second
// step. The window is fixed, as code_throttle.h's: it starts at the first failure after the
// previous window ended and lasts kWindow whatever happens in it; while a key is at its
// limit every attempt is refused before the password is checked. A right password clears
// the user's count (not the client's).
//
// Bounded memory: at most `max_entries` keys per table. When a table is full, keys whose
// window has ended are pruned; when it is still full, the key whose window began first is
// dropped (its count forgotten: the per-client count still holds a sprayer back).
//
// Time is an argument (`now`, unix seconds) of every call. Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace apppass::daemon {

struct SigninThrottleLimits {
  int user_failures = 5;
  int client_failures = 20;
  std::int64_t window = 15 * 60;
  std::size_t max_entries = 100000;  // per table
};

class SigninThrottle {
 public:
  explicit SigninThrottle(SigninThrottleLimits limits = {}) : limits_(limits) {}

  // Whether an attempt for `user` from `client` is refused now.
  bool Throttled(const std::string& user, const std::string& client, std::int64_t now) const;
  // Counts one failure for both.
  void Failure(const std::string& user, const std::string& client, std::int64_t now);
  // A right password: forgets `user`'s failures.
  void Success(const std::string& user);

  std::size_t entries() const;  // both tables, for tests

 private:
  struct Count {
    int failures = 0;
    std::int64_t window_start = 0;
  };
  using Table = std::unordered_map<std::string, Count>;

  bool Ended(const Count& c, std::int64_t now) const;
  bool AtLimit(const Table& t, const std::string& key, int limit, std::int64_t now) const;
  void Add(Table* t, const std::string& key, std::int64_t now);

  const SigninThrottleLimits limits_;
  mutable std::mutex mu_;
  Table users_;
  Table clients_;
};

}  // namespace apppass::daemon
