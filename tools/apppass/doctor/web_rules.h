// The rest of what the doctor says about apppass-web, pure: the PAM service the broker runs
// for a sign-in on the page (can it succeed without a password?), the portal user the
// broker trusts (from apppassd.service's ExecStart=), and that user itself. check_web.cc
// reads the files and the user database and calls these. Thread-safe.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "doctor/findings.h"
#include "doctor/pam_stack.h"

namespace apppass::doctor {

// apppassd's defaults: --portal-user and --portal-pam-service.
inline constexpr const char* kDefaultPortalUser = "apppass-web";
inline constexpr const char* kPortalPamService = "apppass-web";

// The portal user of an apppassd command line (the words of ExecStart=, argv[0] first):
// the value of the last --portal-user NAME or --portal-user=NAME, else nullopt.
std::optional<std::string> PortalUserOfCommand(const std::vector<std::string>& argv);

// The ExecStart= value that takes effect for a service, given its unit file's text and
// then its drop-ins' texts in the order systemd reads them: the last assignment, where an
// empty "ExecStart=" clears those before it. Leading "-@:+!" prefixes are dropped.
// nullopt when there is none.
std::optional<std::string> EffectiveExecStart(const std::vector<std::string>& texts);
// The value of the last "KEY=" line of a unit's [Service] (or any) section in `texts`.
std::optional<std::string> LastUnitValue(const std::vector<std::string>& texts,
                                         const std::string& key);
// Whitespace-separated words (no quoting beyond plain words and "..." pairs).
std::vector<std::string> SplitCommand(const std::string& line);

// What the PAM service `service`'s expanded auth stack does for a sign-in on the page,
// with every module that checks something refusing: a problem when it can still
// succeed (pam_permit sufficient, a grant before any check) or when no module checks a
// password; a warning when pam_apppass (password mode) is reached, so an app password
// would sign in to the page. "pam_succeed_if service in a:b" guards are evaluated for
// `service`. One ok finding naming the password module(s) otherwise. `account_stack`
// empty: a warning (locked accounts are not refused).
std::vector<Finding> JudgePortalStack(const std::vector<PamEntry>& auth_stack,
                                      const std::vector<PamEntry>& account_stack,
                                      const std::string& service, const std::string& where);

// The portal user as the system knows it.
struct PortalUserFacts {
  std::string name;                      // the broker's --portal-user
  std::optional<uid_t> uid;              // nullopt: no such user
  bool in_verifier_group = false;        // a member of the verifiers' group (apppass)
  std::string group;                     // that group's name
  std::optional<std::string> unit_user;  // User= of apppass-web.service, when found
};
std::vector<Finding> JudgePortalUser(const PortalUserFacts& facts);

}  // namespace apppass::doctor
