// Record tags: a keyed BLAKE2b tag at the end of each credential record, so that a
// damaged record (a flipped bit in "revoked", a lost "expires", a record moved under
// another password's hash) reads as damaged, never as a more permissive credential.
//
// A sealed record is its JSON with one more field appended last:
//   {"created":...,"v":2,"tag":"<32 hex digits>"}
// The tag is BLAKE2b-128, keyed with a key derived from DIR/key, of the table key (the
// password's hash) followed by every byte before ,"tag": — so a sealed record is still
// JSON that mdb_dump shows and any decoder reads ("tag" is a field it ignores).
//
// What it protects against: damage (disks, bad RAM, a careless edit). It is not a
// signature: whoever may read DIR/key (root and the verifiers' group) can compute tags,
// and only root can write data.mdb anyway. Stores of schema 2 (store.h) seal every
// credential; schema 1 stores are upgraded by the admin tool when it opens them.
// Thread-safe: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "secret.h"
#include "status.h"

namespace apppass {

inline constexpr std::size_t kTagKeyBytes = 32;
inline constexpr std::size_t kTagBytes = 16;
// ,"tag":"  32 hex digits  "}
inline constexpr std::size_t kTagSuffixBytes = 8 + 2 * kTagBytes + 2;

// Derives the tag key from the store's hash key (DIR/key) into `out`, which Store keeps
// in the same guarded allocation as the hash key.
void DeriveTagKey(SecretBytes hash_key, std::span<unsigned char, kTagKeyBytes> out);
// The same into a buffer of its own (apppass check, tests).
Status DeriveTagKey(SecretBytes hash_key, SecretBuffer* out);

// REQUIRES: `json` is a JSON object ("{...}") without a "tag" field. Returns it sealed.
std::string SealRecord(SecretBytes tag_key, std::string_view table_key, std::string_view json);

// Whether `value` is a record sealed under `table_key` with this key. Does the same
// work whatever `value` holds (the verifier calls it on every record it lands on).
bool RecordSealed(SecretBytes tag_key, std::string_view table_key, std::string_view value);

}  // namespace apppass
