// Reading a user's existing TOTP enrollment from another PAM module's files, so that
// 'apppass mfa import' can accept it as confirmed MFA (see MfaImport in admin.h).
//
// Two formats:
// - google-authenticator-libpam's state file (~USER/.google_authenticator): the first
//   line is the base32 secret, then option lines `" NAME [ARGS]` (TOTP_AUTH,
//   HOTP_COUNTER, STEP_SIZE, WINDOW_SIZE, RATE_LIMIT, DISALLOW_REUSE, TIME_SKEW,
//   RESETTING_TIME_SKEW) and 8-digit scratch codes.
// - pam_oath's usersfile (liboath's UsersFile, /etc/users.oath): one token a line,
//   `TYPE USER PIN HEXSECRET [COUNTER [LAST-OTP [TIME]]]`, '#' comments.
//
// Only what apppass verifies is accepted: time-based, HMAC-SHA1, 30-second steps,
// 6 digits ("HOTP/T30" or "HOTP/T30/6" in a usersfile; TOTP_AUTH without STEP_SIZE or
// with STEP_SIZE 30 in a google-authenticator file). Counter-based (HOTP) enrollments,
// other step sizes or digit counts, unknown options and malformed files are refused with
// a message naming the file and the reason; no message ever contains the secret, a PIN
// or a scratch code. Contents and secrets are held in SecretBuffers (wiped on release).
// Files are read with OpenChecked: no symlinks or FIFOs, owned by root or the user,
// not writable by group or others, not readable by others, at most 64 KiB.
//
// Codes: Ok; NotFound (no file, no entry for the user, no such system user);
// InvalidArgument (malformed); PermissionDenied (unsafe file, or an enrollment apppass
// cannot use). Thread-safe: no shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "secret.h"
#include "status.h"

namespace apppass {

inline constexpr std::string_view kSourceGoogleAuthenticator = "google-authenticator";
inline constexpr std::string_view kSourceOath = "oath";
inline constexpr std::string_view kDefaultOathUsersFile = "/etc/users.oath";
inline constexpr std::size_t kMaxOtpFileBytes = 64 * 1024;  // as pam_google_authenticator
inline constexpr std::size_t kMinImportSecretBytes = 10;    // 80 bits
inline constexpr std::size_t kMaxImportSecretBytes = 64;    // one HMAC-SHA1 block

// A TOTP enrollment found in another module's file.
struct ExistingTotp {
  SecretBuffer secret;                   // raw key bytes (SHA1, 30 s, 6 digits)
  std::string source;                    // kSourceGoogleAuthenticator or kSourceOath
  std::vector<std::int64_t> used_steps;  // time steps the file marks as used (DISALLOW_REUSE)
  std::string last_code;                 // the last code the file records as accepted (pam_oath)
};

// Parses the contents of a google-authenticator state file. `path` only names the file
// in messages.
Status ParseGoogleAuthenticator(std::string_view contents, std::string_view path,
                                ExistingTotp* out);

// Finds `user`'s time-based token in the contents of a pam_oath usersfile. Lines of
// other users are skipped unread. NotFound when `user` has no entry; PermissionDenied
// when the user's entries are all counter-based or of another step or length, or when
// there are several time-based ones (which one would be meant is unclear).
Status ParseOathUsersFile(std::string_view contents, std::string_view user, std::string_view path,
                          ExistingTotp* out);

// Reads and parses a google-authenticator state file. The file may be owned by root or
// by `user_uid` (the user whose enrollment it is; nullopt when there is no such account).
Status ReadGoogleAuthenticatorFile(const std::string& path, std::optional<uid_t> user_uid,
                                   ExistingTotp* out);

// Reads a pam_oath usersfile and finds `user`'s token in it; ownership as above.
Status ReadOathUsersFile(const std::string& path, const std::string& user,
                         std::optional<uid_t> user_uid, ExistingTotp* out);

// The system account of `user` (getpwnam_r): uid and home directory. NotFound when
// there is none.
Status LookupSystemUser(const std::string& user, uid_t* uid, std::string* home);

}  // namespace apppass
