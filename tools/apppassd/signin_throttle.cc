#include "signin_throttle.h"

#include <algorithm>

namespace apppass::daemon {

bool SigninThrottle::Ended(const Count& c, std::int64_t now) const {
  // A clock set back before the window's start ends the window (code_throttle.h's rule).
  return now >= c.window_start + limits_.window || now < c.window_start;
}

bool SigninThrottle::AtLimit(const Table& t, const std::string& key, int limit,
                             std::int64_t now) const {
  auto it = t.find(key);
  return it != t.end() && !Ended(it->second, now) && it->second.failures >= limit;
}

bool SigninThrottle::Throttled(const std::string& user, const std::string& client,
                               std::int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return AtLimit(users_, user, limits_.user_failures, now) ||
         AtLimit(clients_, client, limits_.client_failures, now);
}

void SigninThrottle::Add(Table* t, const std::string& key, std::int64_t now) {
  auto it = t->find(key);
  if (it == t->end()) {
    if (t->size() >= limits_.max_entries)
      std::erase_if(*t, [&](const auto& kv) { return Ended(kv.second, now); });
    if (t->size() >= limits_.max_entries && !t->empty())
      t->erase(std::min_element(t->begin(), t->end(), [](const auto& a, const auto& b) {
        return a.second.window_start < b.second.window_start;
      }));
    it = t->emplace(key, Count{.failures = 0, .window_start = now}).first;
  }
  Count& c = it->second;
  if (Ended(c, now)) c = Count{.failures = 0, .window_start = now};
  ++c.failures;
}

void SigninThrottle::Failure(const std::string& user, const std::string& client, std::int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  Add(&users_, user, now);
  Add(&clients_, client, now);
}

void SigninThrottle::Success(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  users_.erase(user);
}

std::size_t SigninThrottle::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return users_.size() + clients_.size();
}

}  // namespace apppass::daemon
