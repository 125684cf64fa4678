// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps) for MFA enrollment, on liboath.
// These are the parameters Google Authenticator, Aegis and FreeOTP read from an
// otpauth:// URI. Secrets live in SecretBuffers and are sealed (secretbox) with the
// admin-only key before they are stored. Time is always passed in, so tests control it.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "secret.h"
#include "status.h"

namespace apppass {

inline constexpr std::size_t kTotpSecretBytes = 20;  // 160 bits, as RFC 4226 recommends
inline constexpr unsigned kTotpDigits = 6;
inline constexpr unsigned kTotpStep = 30;
inline constexpr std::size_t kTotpWindow = 1;  // one step of clock drift either way

// A new random TOTP secret (raw bytes). !valid() on allocation failure.
SecretBuffer NewTotpSecret();

// RFC 4648 base32 of `secret`, without padding, as authenticator apps expect.
Status TotpBase32(const SecretBuffer& secret, SecretBuffer* out);

// otpauth://totp/ISSUER:USER?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
std::string TotpUri(std::string_view issuer, std::string_view user, std::string_view base32);

// Compares `code` with the code of every step within kTotpWindow of `now`'s step (all
// 2*kTotpWindow+1 computed and compared in constant time, sodium_memcmp, no early exit),
// WITHOUT the last-step rule: the caller tells a reused code from a new one. Ok with
// `*matched` and, when it matched, `*step` the latest step whose code it is. Input that
// is not 6 digits (or a negative `now`) matches nothing, after the same work. Internal
// when liboath fails.
Status TotpMatch(const SecretBuffer& secret, std::string_view code, std::int64_t now, bool* matched,
                 std::int64_t* step);

// Checks a 6-digit `code` at time `now`, allowing one step of drift (TotpMatch). A code
// whose step is not after `last_step` is refused, so no code is ever accepted twice. On
// success `*step` is the matched step. PermissionDenied for a wrong, reused or malformed
// code.
Status TotpCheck(const SecretBuffer& secret, std::string_view code, std::int64_t now,
                 std::int64_t last_step, std::int64_t* step);

// Seals `secret` with `key` (XSalsa20-Poly1305) into hex(nonce || box).
Status SealSecret(const SecretBuffer& key, const SecretBuffer& secret, std::string* sealed);
// Opens what SealSecret made. Unavailable when it does not authenticate.
Status UnsealSecret(const SecretBuffer& key, std::string_view sealed, SecretBuffer* secret);

}  // namespace apppass
