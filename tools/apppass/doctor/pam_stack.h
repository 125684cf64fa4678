// PAM service files as libpam reads them, and what an auth stack does after pam_apppass
// refuses: the parser, the control actions, include expansion and the walk. Pure (the
// files are read by the caller's loader); thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apppass::doctor {

// One line of a PAM service file.
struct PamEntry {
  std::string file;      // service file name (the service)
  int line = 0;          // 1-based line number in that file
  bool include = false;  // "@include FILE": module holds FILE
  bool dash = false;     // "-auth": no error if the module is missing
  std::string type;      // auth, account, password, session (lowercase)
  std::string control;   // "required", ..., or "[...]" as written
  std::string module;    // module path, or the included file
  std::vector<std::string> args;
};

// Parses the text of a service file (comments, continuation lines, bracketed controls
// and arguments). Lines that are not entries are skipped.
std::vector<PamEntry> ParsePamFile(std::string_view text, const std::string& file);

// The action of a control for one return value: "ok", "done", "ignore", "bad", "die",
// "reset", or a jump "N". `value` is a PAM return name such as "success", "auth_err" or
// "ignore" (PAM_IGNORE).
std::string ControlAction(std::string_view control, std::string_view value);

// Whether `action` is a jump ("N"); its length in `n`.
bool IsJump(const std::string& action, std::size_t* n);
// The file name of a module path ("/lib/security/pam_unix.so" -> "pam_unix.so").
std::string Basename(const std::string& module);

// The entries of service file `name`; empty when it cannot be read.
using PamLoader = std::function<std::vector<PamEntry>(const std::string& name)>;
// The entries of `type` ("auth", "account", ...) of service file `name` in the order libpam
// runs them: "@include" lines and "TYPE include|substack" entries replaced by the entries
// of that type of the named file (at most 8 deep, no cycles, names with '/' not followed).
std::vector<PamEntry> ExpandType(const std::string& name, const std::string& type,
                                 const PamLoader& load);
// ExpandType(name, "auth", load).
std::vector<PamEntry> ExpandAuth(const std::string& name, const PamLoader& load);

// Modules fall in three kinds for what follows a refusal by pam_apppass:
//  - no-ops (IsNoOp): answer "ignore" in auth, no effect;
//  - modules that can answer "success" without asking for anything
//    (GrantsWithoutPassword);
//  - everything else (pam_unix, pam_sss, pam_ldap, pam_krb5, pam_deny, pam_oath, ...) is
//    taken to check something: a `required`/`requisite` one still protects the login.
bool IsNoOp(const std::string& base);
bool GrantsWithoutPassword(const std::string& base);

enum class Walk { kSafe, kGrants, kEnd };

struct WalkResult {
  Walk result = Walk::kEnd;
  const PamEntry* by = nullptr;     // the module that stops (kSafe) or grants (kGrants)
  const PamEntry* first = nullptr;  // the first module reached that checks something
  // Every module reached that checks something, in order (`first` first; with kSafe,
  // `by` last). A password module among them would accept the real password.
  std::vector<const PamEntry*> reached;
};

// What happens after pam_apppass refuses and the stack goes on at `start`: kSafe when a
// module that checks something ends it with a refusal (`by`), kGrants when a module can
// accept without a password (`by`), kEnd when the stack runs out. Pointers into `stack`.
WalkResult WalkAfterRefusal(const std::vector<PamEntry>& stack, std::size_t start);

// The services a "pam_succeed_if.so ... service in a:b:c" guard right before
// stack[index] (same file) lets through to it, when it skips that entry for all others.
std::optional<std::vector<std::string>> GuardedServices(const std::vector<PamEntry>& stack,
                                                        std::size_t index);

}  // namespace apppass::doctor
