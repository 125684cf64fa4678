// App password format: generation and input normalization.
//
// A password is kPasswordChars characters from a 31-symbol alphabet without look-alikes
// (no 0/o, 1/l/i), about 4.95 bits each: 20 characters give 99 bits from libsodium's
// CSPRNG. It is shown in groups of four ("abcd-efgh-jkmn-pqrs-tuvw"). What a user types
// is normalized before hashing: ASCII case folded, spaces, tabs and dashes dropped.
// Thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "secret.h"
#include "status.h"

namespace apppass {

inline constexpr std::string_view kPasswordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
inline constexpr std::size_t kPasswordChars = 20;
inline constexpr std::size_t kPasswordGroup = 4;
// The longest input the verifier looks at. Longer input is refused whole, never
// truncated, so no prefix of a long string can match.
inline constexpr std::size_t kMaxPasswordInput = 512;

// A new random password in display form (with dashes), in locked memory.
// On failure (allocation) the returned buffer is !valid().
SecretBuffer GeneratePassword();

// Normalizes `input` into `out` (capacity >= kMaxPasswordInput). Returns
// InvalidArgument when the input is empty, longer than kMaxPasswordInput, or contains
// anything other than alphabet characters (any case), spaces, tabs and dashes, or when
// the normalized length is not kPasswordChars. `out` is cleared on failure.
Status NormalizePassword(std::string_view input, SecretBuffer& out);

}  // namespace apppass
