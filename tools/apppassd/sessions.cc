#include "sessions.h"

#include <sodium.h>

#include <algorithm>

namespace apppass::daemon {

std::string_view SigninNextName(SigninNext n) { return n == SigninNext::kCode ? "code" : "enroll"; }

bool Sessions::KeyOf(std::string_view token, Key* key) {
  if (token.size() != kTokenHexLength) return false;
  for (char c : token)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  unsigned char hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  key->assign(reinterpret_cast<const char*>(hash), sizeof hash);
  return true;
}

Status Sessions::NewToken(SecretBuffer* token, Key* key) {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  SecretBuffer hex(kTokenHexLength + 1);
  if (!hex.valid()) {
    sodium_memzero(raw, sizeof raw);
    return Status::Internal("out of memory");
  }
  sodium_bin2hex(reinterpret_cast<char*>(hex.data()), hex.capacity(), raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  hex.resize(kTokenHexLength);
  if (!KeyOf(hex.view(), key)) return Status::Internal("token");
  *token = std::move(hex);
  return Status::Ok();
}

bool Sessions::Alive(const Session& s, std::int64_t now) const {
  return now - s.last_used < limits_.idle && now - s.created < limits_.absolute &&
         now >= s.created - 60;  // a clock set far back ends it too
}

void Sessions::EraseLocked(const Key& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  auto u = by_user_.find(it->second.user);
  if (u != by_user_.end()) {
    std::erase(u->second, key);
    if (u->second.empty()) by_user_.erase(u);
  }
  sessions_.erase(it);
}

void Sessions::PruneSessionsLocked(std::int64_t now) {
  std::vector<Key> dead;
  for (const auto& [key, s] : sessions_)
    if (!Alive(s, now)) dead.push_back(key);
  for (const Key& key : dead) EraseLocked(key);
}

void Sessions::PruneSigninsLocked(std::int64_t now) {
  std::erase_if(signins_, [now](const auto& kv) { return kv.second.p.expires <= now; });
}

Status Sessions::StartSignin(const std::string& user, const std::string& client, SigninNext next,
                             std::int64_t now, SecretBuffer* token) {
  Key key;
  if (Status s = NewToken(token, &key); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (signins_.size() >= limits_.max_signins) PruneSigninsLocked(now);
  if (signins_.size() >= limits_.max_signins && !signins_.empty()) {
    auto oldest = std::min_element(
        signins_.begin(), signins_.end(),
        [](const auto& a, const auto& b) { return a.second.p.expires < b.second.p.expires; });
    signins_.erase(oldest);
  }
  signins_[key] = Signin{
      .p = {.user = user, .client = client, .next = next, .expires = now + limits_.signin_life},
      .wrong = 0};
  return Status::Ok();
}

Status Sessions::FindSignin(std::string_view token, const std::string* client, std::int64_t now,
                            PendingSignin* out) {
  Key key;
  if (!KeyOf(token, &key)) return Status::NotFound("sign in again");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = signins_.find(key);
  if (it == signins_.end()) return Status::NotFound("sign in again");
  if (it->second.p.expires <= now || it->second.p.expires - now > limits_.signin_life) {
    signins_.erase(it);
    return Status::NotFound("sign in again");
  }
  if (client != nullptr && *client != it->second.p.client) return Status::NotFound("sign in again");
  *out = it->second.p;
  return Status::Ok();
}

bool Sessions::SigninWrongCode(std::string_view token) {
  Key key;
  if (!KeyOf(token, &key)) return true;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = signins_.find(key);
  if (it == signins_.end()) return true;
  if (++it->second.wrong < limits_.signin_wrong_codes) return false;
  signins_.erase(it);
  return true;
}

void Sessions::EndSignin(std::string_view token) {
  Key key;
  if (!KeyOf(token, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  signins_.erase(key);
}

Status Sessions::Open(const std::string& user, const std::string& stamp, std::int64_t now,
                      SecretBuffer* token) {
  Key key;
  if (Status s = NewToken(token, &key); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= limits_.max_sessions) PruneSessionsLocked(now);
  std::vector<Key>& mine = by_user_[user];
  while (!mine.empty() && mine.size() >= limits_.per_user) {
    const Key oldest = mine.front();  // EraseLocked changes `mine`
    EraseLocked(oldest);
    if (by_user_.find(user) == by_user_.end()) break;
  }
  if (sessions_.size() >= limits_.max_sessions) {
    if (by_user_[user].empty()) by_user_.erase(user);
    token->clear();
    return Status::Unavailable("too many sessions; try again later");
  }
  sessions_[key] = Session{.user = user, .stamp = stamp, .created = now, .last_used = now};
  by_user_[user].push_back(key);
  return Status::Ok();
}

Status Sessions::Use(std::string_view token, std::int64_t now, SessionInfo* out) {
  Key key;
  if (!KeyOf(token, &key)) return Status::NotFound("session expired; sign in again");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return Status::NotFound("session expired; sign in again");
  if (!Alive(it->second, now)) {
    EraseLocked(key);
    return Status::NotFound("session expired; sign in again");
  }
  Session& s = it->second;
  s.last_used = std::max(s.last_used, now);
  out->user = s.user;
  out->stamp = s.stamp;
  out->expires_in = s.created + limits_.absolute - now;
  out->idle_left = std::min(limits_.idle, out->expires_in);
  return Status::Ok();
}

void Sessions::SetStamp(std::string_view token, const std::string& stamp) {
  Key key;
  if (!KeyOf(token, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) it->second.stamp = stamp;
}

void Sessions::End(std::string_view token) {
  Key key;
  if (!KeyOf(token, &key)) return;
  std::lock_guard<std::mutex> lock(mu_);
  EraseLocked(key);
}

std::size_t Sessions::EndUser(const std::string& user, std::string_view keep) {
  Key keep_key;
  const bool have_keep = KeyOf(keep, &keep_key);
  std::lock_guard<std::mutex> lock(mu_);
  auto u = by_user_.find(user);
  if (u == by_user_.end()) return 0;
  const std::vector<Key> keys = u->second;
  std::size_t n = 0;
  for (const Key& key : keys)
    if (!have_keep || key != keep_key) {
      EraseLocked(key);
      ++n;
    }
  return n;
}

std::size_t Sessions::session_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

std::size_t Sessions::signin_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signins_.size();
}

}  // namespace apppass::daemon
