// The new app passwords waiting to be shown (POST /passwords/new -> 303 ->
// GET /passwords/created: post/redirect/get). Each is kept in memory only, in a
// SecretBuffer, bound to the hash of the session token that created it, for one pickup
// within kCreatedLife; at most kMaxCreated at once (the oldest is dropped). A reload
// finds nothing: the page then says "already shown".
// Thread-safe (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "portal_broker.h"

namespace apppass::web {

inline constexpr std::chrono::seconds kCreatedLife{120};
inline constexpr std::size_t kMaxCreated = 4096;

class CreatedStore {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CreatedStore(std::size_t max_entries = kMaxCreated,
                        std::chrono::seconds life = kCreatedLife);
  // Keeps `created` for `session_token` (replacing one kept for it before).
  void Put(std::string_view session_token, CreatedPassword created, Clock::time_point now);
  // Takes out what is kept for `session_token`: true once, within the life.
  bool Take(std::string_view session_token, Clock::time_point now, CreatedPassword* out);
  std::size_t size() const;

 private:
  struct Entry {
    CreatedPassword created;
    Clock::time_point until;
  };
  void DropExpired(Clock::time_point now);
  const std::size_t max_entries_;
  const std::chrono::seconds life_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by hex(BLAKE2b-256(token))
};

}  // namespace apppass::web
