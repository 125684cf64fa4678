// What a PAM stack does with pam_apppass in it, as doctor findings: a refusal that lets
// anyone in, an enrolled user's real password that still reaches pam_unix, a TOTP step
// that can be skipped, comes before the password or is asked after a wrong one, and where
// account=nss (PAM) or apppass_account: nss (SASL) would cut off the app passwords of
// locked or deleted system accounts. Pure functions over parsed stacks (pam_stack.h);
// thread-safe. check_pam.cc and check_postfix.cc read the files and the store and call
// these.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "doctor/findings.h"
#include "doctor/pam_stack.h"

namespace apppass::doctor {

// The options of a pam_apppass line that decide what its stack does (pam_options.h).
struct ApppassLine {
  bool totp = false;               // totp: the TOTP step, not the app password check
  bool unenrolled_ignore = false;  // unenrolled=ignore: PAM_IGNORE for users not enrolled
  bool account_nss = false;        // account=nss: acct_mgmt checks NSS and shadow
};

// Those options of a line's arguments, as the module reads them (the last of each wins;
// every other argument is ignored here).
ApppassLine ReadApppassLine(const std::vector<std::string>& args);

// Whether `e` is pam_apppass.so (any path).
bool IsApppass(const PamEntry& e);
// Whether `e` checks a user's real password: a module that checks something
// (pam_stack.h) other than pam_deny.so and pam_apppass.so. It accepts the real password.
bool ChecksRealPassword(const PamEntry& e);

// The findings for the pam_apppass auth entry `index` of a service's expanded auth stack
// (include files resolved), whose options are `line`:
//   password mode: a refusal counted as success, or followed by a module that accepts
//     without a password (problems); a refusal that reaches a password module, so an
//     enrolled user's real password still passes (a problem with unenrolled=ignore, a
//     warning without it: the enrollment protects nothing); with unenrolled=ignore, a
//     control that refuses PAM_IGNORE (warning), or PAM_IGNORE followed by a module that
//     grants without a password (problem) or by nothing that checks one (warning);
//     'optional', or an accepted app password that does not count (warnings); else one
//     ok finding saying what happens.
//   totp mode: a wrong code that does not stop the login ('optional', 'sufficient',
//     default=ignore: problem), a password module before it that ends the stack on
//     success (problem), no password module at all (problem), the TOTP step before the
//     password module (warning; a problem when a right code alone ends the stack); a
//     wrong password that still reaches it with the login failed, as after 'required
//     pam_unix.so', so the code is asked and counted toward the throttle (warning); a
//     wrong password whose refusal is ignored, as after 'optional pam_unix.so', with
//     nothing after the step that fails the login: the code alone logs in (problem); else
//     one ok finding.
std::vector<Finding> AnalyzeAuthEntry(const std::vector<PamEntry>& auth_stack, std::size_t index,
                                      const ApppassLine& line);

// The users of the store as NSS knows them.
struct StoreUser {
  std::string name;
  std::optional<uid_t> uid;  // nullopt: NSS has no such user
};
// Accounts from this uid up are people's (login.defs UID_MIN on Debian); 65534 (nobody)
// is not one.
inline constexpr uid_t kFirstLoginUid = 1000;
// The names of `users` that are system accounts of people (uid >= kFirstLoginUid, not
// nobody), in the order given.
std::vector<std::string> LoginAccounts(const std::vector<StoreUser>& users);

// A warning when `login_accounts` (LoginAccounts of the store's users) is not empty and
// no entry of the service `service`'s expanded account stack is pam_apppass with
// account=nss: locking, expiring or deleting those accounts would not stop their app
// passwords. `included`: other service files include `service` (common-auth), so the fix
// names the services that include it.
std::optional<Finding> SuggestAccountNss(const std::string& service,
                                         const std::vector<PamEntry>& account_stack,
                                         const std::vector<std::string>& login_accounts,
                                         bool included);

// The same for a Cyrus SASL config `conf_path` (Postfix's) whose apppass_account is
// `account` (nullopt: not set).
std::optional<Finding> SuggestSaslAccountNss(const std::string& conf_path,
                                             const std::optional<std::string>& account,
                                             const std::vector<std::string>& login_accounts);

}  // namespace apppass::doctor
