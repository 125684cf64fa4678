// The account state of a system user, for account=nss (PAM) and apppass_account: nss
// (SASL): whether NSS still knows the user and their shadow entry lets them in, so that
// `userdel`, `usermod -L` / `passwd -l` and an account expiry date (`chage -E`,
// `usermod -e`) cut off app passwords too (issue 12 item 6).
//
//   passwd entry (getpwnam_r)   none: kUnknown
//   shadow entry (getspnam_r)   password field starting with '!' or '*': kLocked
//                               sp_expire set (>= 0) and today (days since the epoch,
//                               UTC) >= sp_expire: kExpired
//   no shadow entry             judged by the passwd entry's password field alone
//                               (directory users served without shadow data)
//   any lookup error            kUnavailable (EACCES: not root; the broker asks as root)
//
// Reads NSS and /etc/shadow: root only for shadow, so a verifier that is not root asks
// apppassd. Thread-safe (the _r lookups).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace apppass {

enum class AccountState { kOk, kUnknown, kLocked, kExpired, kUnavailable };

// Stable names for logs and the broker: "ok", "unknown-account", "account-locked",
// "account-expired", "unavailable".
std::string_view AccountStateName(AccountState s);
// The state a name stands for; kUnavailable for anything else.
AccountState AccountStateFromName(std::string_view name);

struct AccountCheck {
  AccountState state = AccountState::kUnavailable;  // fail closed until checked
  std::string detail;                               // for kUnavailable: why
};

// Checks `user` at `now` (unix seconds).
AccountCheck CheckAccount(std::string_view user, std::int64_t now);

}  // namespace apppass
