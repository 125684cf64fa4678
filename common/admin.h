// Admin operations on a store: MFA enrollment and the life of app passwords.
//
// Each operation is one LMDB write transaction: it happens whole or not at all.
// The admin tool calls these (a store opened in Store::Mode::kAdmin); self_service.h
// composes their steps (admin_internal.h) with a TOTP code check in one transaction. Time is
// passed in so tests can control it. Not thread-safe across one Store (LMDB serializes
// writers anyway).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mfa_import.h"
#include "policy.h"
#include "records.h"
#include "secret.h"
#include "store.h"

namespace apppass {

struct EnrollResult {
  SecretBuffer base32;  // the TOTP secret, to show the user once
  std::string uri;      // otpauth:// URI (contains the secret)
};

// Starts (or restarts, while still pending) an enrollment. PermissionDenied when the
// user's enrollment is already confirmed (reset it first).
Status MfaEnroll(const Store& store, const std::string& user, const std::string& issuer,
                 std::int64_t now, EnrollResult* out);

// Confirms a pending enrollment with a current code. Also accepts a code for a
// confirmed user (a re-check), never the same step twice.
// With `recovery_codes`, confirming a PENDING enrollment also makes the user's
// kMaxRecoveryCodes recovery codes (recovery_codes.h) in the same transaction and returns
// them there, to be shown once; a re-check makes none (and leaves `*recovery_codes`
// empty). Without it no codes are made.
Status MfaConfirm(const Store& store, const std::string& user, std::string_view code,
                  std::int64_t now, std::vector<SecretBuffer>* recovery_codes = nullptr);

// Accepts `existing` (another PAM module's TOTP enrollment, read by mfa_import.h) as
// `user`'s confirmed enrollment once `code` verifies against its secret at `now`. The
// secret is sealed as MfaEnroll seals its own, and the record keeps existing.source.
// Steps the other module recorded as used are never accepted (nor any before them).
// PermissionDenied for a wrong or used code, or when the user's enrollment is already
// confirmed (reset it first); a pending enrollment is replaced. InvalidArgument for a
// secret shorter than 80 bits or an unknown source.
// With `recovery_codes`, the import also makes the user's recovery codes, as MfaConfirm.
// MfaEnroll and MfaImport check `user` with ValidateNewUserName (text.h); the calls that
// look a user up accept any name ValidateUserName accepts, so older names stay reachable.
Status MfaImport(const Store& store, const std::string& user, const ExistingTotp& existing,
                 std::string_view code, std::int64_t now,
                 std::vector<SecretBuffer>* recovery_codes = nullptr);

// Ok with the record, or NotFound when the user has no enrollment.
Status MfaGet(const Store& store, const std::string& user, UserRecord* out);

// Removes the enrollment (its recovery codes with it) and revokes all of the user's app
// passwords. `*revoked` is
// how many were active. NotFound when there was nothing to reset.
Status MfaReset(const Store& store, const std::string& user, std::int64_t now, int* revoked);

struct CreateRequest {
  std::string user;
  std::string name;
  std::vector<std::string> scopes;
  std::optional<std::int64_t> expires;  // absolute unix time
  // Valid for every service, chosen on purpose (create --all-services); `scopes` must then
  // be empty. Without it, `scopes` must name at least one service.
  bool all_services = false;
};

// Why a create without scopes and without all_services is refused: no app password is
// valid everywhere by accident.
inline constexpr std::string_view kChooseServices =
    "choose the services this password is for with --scope (e.g. --scope imap --scope smtp), "
    "or --all-services";

struct Created {
  Credential cred;
  SecretBuffer password;  // display form; shown once, never stored
};

// Creates an app password. PermissionDenied without confirmed MFA or at the limit (the
// stored policy's max_active, policy.h, read in the same transaction; Unavailable when the
// policy record is corrupt);
// InvalidArgument for a bad user name or label (ValidateNewUserName, ValidateNewLabel),
// scope or expiry, for no scope without all_services (kChooseServices) and for scopes
// with all_services; AlreadyExists for a duplicate name.
Status CreatePassword(const Store& store, const CreateRequest& req, std::int64_t now, Created* out);

struct Listed {
  Credential cred;
  std::optional<Usage> last_use;
};

// App passwords of `user` (all users when empty), revoked ones only with
// `include_revoked`. Last use comes from the usage database when readable.
Status ListPasswords(const Store& store, const std::string& user, bool include_revoked,
                     std::vector<Listed>* out);

struct RevokeSelector {
  std::string id;  // one of these three
  std::string name;
  bool all = false;
};

// Revokes the selected active app passwords of `user`; `*ids` lists them.
// NotFound when nothing matched.
Status RevokePasswords(const Store& store, const std::string& user, const RevokeSelector& sel,
                       std::int64_t now, std::vector<std::string>* ids);

}  // namespace apppass
