#include "created_store.h"

#include <sodium.h>

namespace apppass::web {

namespace {

std::string TokenKey(std::string_view token) {
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[2 * sizeof hash + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return std::string(hex, 2 * sizeof hash);
}

}  // namespace

CreatedStore::CreatedStore(std::size_t max_entries, std::chrono::seconds life)
    : max_entries_(max_entries == 0 ? 1 : max_entries), life_(life) {}

void CreatedStore::DropExpired(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->second.until <= now ? entries_.erase(it) : std::next(it);
}

void CreatedStore::Put(std::string_view session_token, CreatedPassword created,
                       Clock::time_point now) {
  const std::string key = TokenKey(session_token);
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
  if (entries_.size() >= max_entries_) DropExpired(now);
  while (entries_.size() >= max_entries_) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->second.until < oldest->second.until) oldest = it;
    entries_.erase(oldest);
  }
  entries_.emplace(key, Entry{std::move(created), now + life_});
}

bool CreatedStore::Take(std::string_view session_token, Clock::time_point now,
                        CreatedPassword* out) {
  const std::string key = TokenKey(session_token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const bool fresh = it->second.until > now;
  if (fresh) *out = std::move(it->second.created);
  entries_.erase(it);
  return fresh;
}

std::size_t CreatedStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace apppass::web
