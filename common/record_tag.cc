#include "record_tag.h"

#include <sodium.h>

#include <cstring>

namespace apppass {

namespace {

constexpr std::string_view kContext = "apppass credential record tag v1";
constexpr std::string_view kOpen = R"(,"tag":")";
constexpr std::string_view kClose = R"("})";

// The tag of `table_key` || `body` into `out`.
void Tag(SecretBytes tag_key, std::string_view table_key, std::string_view body,
         unsigned char out[kTagBytes]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, tag_key.data(), tag_key.size(), kTagBytes);
  // The key's length first, so that no split of key||body collides with another.
  const unsigned char len = static_cast<unsigned char>(table_key.size() & 0xff);
  crypto_generichash_update(&st, &len, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(table_key.data()),
                            table_key.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_generichash_final(&st, out, kTagBytes);
  sodium_memzero(&st, sizeof st);
}

}  // namespace

void DeriveTagKey(SecretBytes hash_key, std::span<unsigned char, kTagKeyBytes> out) {
  crypto_generichash(out.data(), out.size(),
                     reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size(),
                     hash_key.data(), hash_key.size());
}

Status DeriveTagKey(SecretBytes hash_key, SecretBuffer* out) {
  SecretBuffer key(kTagKeyBytes);
  if (!key.valid()) return Status::Internal("out of secure memory");
  if (hash_key.empty()) return Status::Internal("no hash key to derive the tag key from");
  DeriveTagKey(hash_key, std::span<unsigned char, kTagKeyBytes>(key.data(), kTagKeyBytes));
  key.resize(kTagKeyBytes);
  *out = std::move(key);
  return Status::Ok();
}

std::string SealRecord(SecretBytes tag_key, std::string_view table_key, std::string_view json) {
  // Everything but the closing brace is covered.
  const std::string_view body = json.substr(0, json.empty() ? 0 : json.size() - 1);
  unsigned char tag[kTagBytes];
  Tag(tag_key, table_key, body, tag);
  char hex[2 * kTagBytes + 1];
  sodium_bin2hex(hex, sizeof hex, tag, sizeof tag);
  std::string out;
  out.reserve(body.size() + kTagSuffixBytes);
  out.append(body).append(kOpen).append(hex, 2 * kTagBytes).append(kClose);
  return out;
}

bool RecordSealed(SecretBytes tag_key, std::string_view table_key, std::string_view value) {
  // A value too short to hold the suffix is tagged whole (and cannot match), so every
  // call hashes about as many bytes as the record has.
  const bool long_enough = value.size() >= kTagSuffixBytes + 2;
  const std::size_t body_len = long_enough ? value.size() - kTagSuffixBytes : value.size();
  const std::string_view body = value.substr(0, body_len);
  const std::string_view suffix = long_enough ? value.substr(body_len) : std::string_view();
  unsigned char want[kTagBytes];
  Tag(tag_key, table_key, body, want);
  char hex[2 * kTagBytes + 1];
  sodium_bin2hex(hex, sizeof hex, want, sizeof want);
  // Compare the whole suffix in constant time against what it must be.
  char expect[kTagSuffixBytes];
  std::memcpy(expect, kOpen.data(), kOpen.size());
  std::memcpy(expect + kOpen.size(), hex, 2 * kTagBytes);
  std::memcpy(expect + kOpen.size() + 2 * kTagBytes, kClose.data(), kClose.size());
  char got[kTagSuffixBytes] = {};
  if (long_enough) std::memcpy(got, suffix.data(), kTagSuffixBytes);
  const bool same = sodium_memcmp(got, expect, kTagSuffixBytes) == 0;
  sodium_memzero(want, sizeof want);
  return same && long_enough;
}

}  // namespace apppass
