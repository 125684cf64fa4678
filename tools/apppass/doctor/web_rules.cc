#include "doctor/web_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "doctor/pam_rules.h"
#include "doctor/words.h"

namespace apppass::doctor {

namespace {

constexpr const char* kCheck = "web";

std::string Describe(const PamEntry& e) {
  return fmt::format("{} line {}: {} {} {}", Clean(e.file), e.line, e.type, Clean(e.control, 80),
                     Clean(Basename(e.module), 80));
}

}  // namespace

std::vector<std::string> SplitCommand(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false, quoted = false;
  for (char c : line) {
    if (quoted) {
      if (c == '"') quoted = false;
      else cur += c;
      continue;
    }
    if (c == '"') {
      quoted = in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

std::optional<std::string> PortalUserOfCommand(const std::vector<std::string>& argv) {
  std::optional<std::string> user;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--portal-user" && i + 1 < argv.size()) {
      user = argv[++i];
    } else if (a.rfind("--portal-user=", 0) == 0) {
      user = a.substr(std::string("--portal-user=").size());
    }
  }
  return user;
}

std::optional<std::string> LastUnitValue(const std::vector<std::string>& texts,
                                         const std::string& key) {
  std::optional<std::string> v;
  for (const std::string& text : texts) {
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
      const std::string t = Trim(line);
      if (t.empty() || t[0] == '#' || t[0] == ';') continue;
      const auto eq = t.find('=');
      if (eq == std::string::npos || Trim(t.substr(0, eq)) != key) continue;
      v = Trim(t.substr(eq + 1));
    }
  }
  return v;
}

std::optional<std::string> EffectiveExecStart(const std::vector<std::string>& texts) {
  std::optional<std::string> v;
  for (const std::string& text : texts) {
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
      const std::string t = Trim(line);
      if (t.empty() || t[0] == '#' || t[0] == ';') continue;
      const auto eq = t.find('=');
      if (eq == std::string::npos || Trim(t.substr(0, eq)) != "ExecStart") continue;
      std::string val = Trim(t.substr(eq + 1));
      if (val.empty()) {
        v.reset();  // "ExecStart=" clears the list (a drop-in replacing the command)
        continue;
      }
      while (!val.empty() && std::string_view("-@:+!").find(val[0]) != std::string_view::npos)
        val.erase(0, 1);
      v = val;
    }
  }
  return v;
}

std::vector<Finding> JudgePortalStack(const std::vector<PamEntry>& auth_stack,
                                      const std::vector<PamEntry>& account_stack,
                                      const std::string& service, const std::string& where) {
  std::vector<Finding> out;
  const std::string fix = fmt::format(
      "make {} '@include common-auth' and '@include common-account' (the "
      "package's file), or another stack that checks the password",
      Clean(where));
  // The stack as libpam runs it for `service`: a "pam_succeed_if service in ..." guard
  // that does not name the service fails, skipping the entry it guards.
  std::vector<PamEntry> stack = auth_stack;
  for (std::size_t i = 1; i < stack.size(); ++i) {
    const auto services = GuardedServices(stack, i);
    if (!services) continue;
    if (std::find(services->begin(), services->end(), service) == services->end())
      stack[i - 1].control = "[success=1 default=1]";
  }
  if (stack.empty()) {
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("{} has no auth lines: libpam falls back to 'other', and a "
                                   "sign-in on the page may not check the password",
                                   Clean(where)),
                       fix));
    return out;
  }
  const WalkResult w = WalkAfterRefusal(stack, 0);
  if (w.result == Walk::kGrants) {
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("{}: the sign-in succeeds without a right password ({}): "
                                   "anyone with a user's second factor, or none enrolled yet "
                                   "with self_enroll yes, signs in as them",
                                   Clean(where), Describe(*w.by)),
                       fix));
    return out;
  }
  std::vector<std::string> password_modules;
  bool apppass_reached = false;
  for (const PamEntry* e : w.reached) {
    if (ChecksRealPassword(*e)) password_modules.push_back(Basename(e->module));
    if (IsApppass(*e) && !ReadApppassLine(e->args).totp) apppass_reached = true;
  }
  if (password_modules.empty()) {
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("{}: no module checks the user's password (the sign-in's "
                                   "first factor)",
                                   Clean(where)),
                       fix));
    return out;
  }
  if (apppass_reached)
    out.push_back(Make(kCheck, Level::kWarning,
                       fmt::format("{}: pam_apppass.so is in the sign-in's stack: an app "
                                   "password would sign in to the page that manages them",
                                   Clean(where)),
                       "keep pam_apppass.so out of the apppass-web service (guard it with "
                       "pam_succeed_if service in <mail services>, as the pam-auth-update "
                       "profile does)"));
  if (account_stack.empty())
    out.push_back(Make(kCheck, Level::kWarning,
                       fmt::format("{} has no account lines: locked or expired accounts can "
                                   "still sign in to the page",
                                   Clean(where)),
                       "add '@include common-account'"));
  std::sort(password_modules.begin(), password_modules.end());
  password_modules.erase(std::unique(password_modules.begin(), password_modules.end()),
                         password_modules.end());
  out.push_back(Make(kCheck, Level::kOk,
                     fmt::format("{}: a sign-in on the page needs the password ({})", Clean(where),
                                 Clean(Join(password_modules, ", ")))));
  return out;
}

std::vector<Finding> JudgePortalUser(const PortalUserFacts& f) {
  std::vector<Finding> out;
  const std::string name = Clean(f.name, 64);
  if (!f.uid) {
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("no user {} (apppassd's --portal-user): the broker refuses "
                                   "every request of the page",
                                   name),
                       fmt::format("adduser --system --group --no-create-home --home "
                                   "/nonexistent {} (the apppass-web package does), then "
                                   "systemctl restart apppassd",
                                   Sh(f.name))));
    return out;
  }
  if (*f.uid == 0) {
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("the portal user {} is root: the page would run with every "
                                   "privilege, and every root process could speak for it",
                                   name),
                       "run apppass-web as its own system user (apppassd --portal-user "
                       "apppass-web, User=apppass-web)"));
    return out;
  }
  bool bad = false;
  if (f.in_verifier_group) {
    bad = true;
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("the portal user {} is in group {}: it could ask apppassd "
                                   "to verify any user's app passwords",
                                   name, Clean(f.group, 64)),
                       fmt::format("gpasswd -d {} {}", Sh(f.name), Sh(f.group))));
  }
  if (f.unit_user && *f.unit_user != f.name) {
    bad = true;
    out.push_back(Make(kCheck, Level::kProblem,
                       fmt::format("apppass-web.service runs as {}, but apppassd trusts {} "
                                   "(--portal-user): the broker refuses the page",
                                   Clean(*f.unit_user, 64), name),
                       "make User= of apppass-web.service and apppassd's --portal-user the "
                       "same user (systemctl edit)"));
  }
  if (!bad)
    out.push_back(Make(kCheck, Level::kOk,
                       fmt::format("the portal user {} (uid {}) exists, is not root and is "
                                   "not a verifier",
                                   name, *f.uid)));
  return out;
}

}  // namespace apppass::doctor
