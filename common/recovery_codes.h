// Recovery codes (issue 12 item 4): kMaxRecoveryCodes one-time codes that pass the TOTP
// step of a login (second_factor.h) once each, for a user who lost their authenticator.
//
// Form: 12 characters of the app password alphabet (password.h: no 0/o, 1/l/i), shown in
// groups of four ("abcd-efgh-jkmn"): about 59 bits each; with the wrong-code throttle
// (5 tries per 10 minutes) guessing one is out of reach. Typed case-insensitively, with or
// without the dashes and spaces (NormalizeRecoveryCode).
// Stored only as keyed hashes (Store::HashRecoveryCode, bound to the user), hex, in the
// user's enrollment record (UserRecord::recovery). Making new codes voids the old ones;
// `mfa reset` removes them with the enrollment. Shown once: never stored or logged in
// clear.
// Thread-safety: the pure functions are; MfaRecoveryCodes as admin.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "records.h"
#include "secret.h"
#include "status.h"
#include "store.h"

namespace apppass {

inline constexpr std::size_t kRecoveryCodeChars = 12;

// `input` without spaces and dashes, lower-cased, into `out` (capacity >= kMaxCodeInput).
// InvalidArgument unless exactly kRecoveryCodeChars characters of the alphabet remain.
Status NormalizeRecoveryCode(std::string_view input, SecretBuffer& out);

// kMaxRecoveryCodes new codes, each "xxxx-xxxx-xxxx", in `codes` (SecretBuffers), and
// their hashes in `*hashes` (hex, for UserRecord::recovery). Internal when secure memory
// runs out.
Status NewRecoveryCodes(const Store& store, std::string_view user, std::vector<SecretBuffer>* codes,
                        std::vector<std::string>* hashes);

// Admin: replaces `user`'s recovery codes with new ones (returned once in `codes`).
// REQUIRES kAdmin. PermissionDenied unless the user's enrollment is confirmed
// ("MFA is not set up for this user").
Status MfaRecoveryCodes(const Store& store, const std::string& user, std::int64_t now,
                        std::vector<SecretBuffer>* codes);

}  // namespace apppass
