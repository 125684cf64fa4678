#include "doctor/pam_stack.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "doctor/words.h"

namespace apppass::doctor {

namespace {

// Modules that never ask for a password in auth and answer "ignore" (no effect).
const std::set<std::string> kNoOps = {
    "pam_env.so",       "pam_faildelay.so", "pam_group.so",     "pam_keyinit.so",
    "pam_loginuid.so",  "pam_mail.so",      "pam_motd.so",      "pam_limits.so",
    "pam_umask.so",     "pam_systemd.so",   "pam_warn.so",      "pam_xauth.so",
    "pam_mkhomedir.so", "pam_selinux.so",   "pam_namespace.so", "pam_gnome_keyring.so",
    "pam_kwallet5.so",  "pam_issue.so",     "pam_tty_audit.so"};

void ExpandInto(const std::string& name, const std::string& type, const PamLoader& load, int depth,
                std::set<std::string>* seen, std::vector<PamEntry>* out) {
  if (depth > 8 || name.find('/') != std::string::npos || !seen->insert(name).second) return;
  const std::vector<PamEntry> entries = load(name);
  for (const PamEntry& e : entries) {
    if (e.include) {
      ExpandInto(e.module, type, load, depth + 1, seen, out);
    } else if (e.type == type && (e.control == "include" || e.control == "substack")) {
      ExpandInto(e.module, type, load, depth + 1, seen, out);
    } else if (e.type == type) {
      out->push_back(e);
    }
  }
  seen->erase(name);
}

}  // namespace

std::vector<PamEntry> ParsePamFile(std::string_view text, const std::string& file) {
  std::vector<PamEntry> out;
  // Logical lines: a backslash before the newline continues the line.
  std::vector<std::pair<int, std::string>> lines;
  {
    std::string cur;
    int start = 1, n = 0;
    std::size_t i = 0;
    while (i <= text.size()) {
      const std::size_t e = std::min(text.find('\n', i), text.size());
      std::string_view l = text.substr(i, e - i);
      ++n;
      if (cur.empty()) start = n;
      if (!l.empty() && l.back() == '\\') {
        cur.append(l.substr(0, l.size() - 1));
        cur.push_back(' ');
      } else {
        cur.append(l);
        lines.emplace_back(start, std::move(cur));
        cur.clear();
      }
      if (e >= text.size()) break;
      i = e + 1;
    }
    if (!cur.empty()) lines.emplace_back(start, std::move(cur));
  }
  for (auto& [lineno, raw] : lines) {
    std::string line = raw.substr(0, raw.find('#'));
    // Tokens; "[" starts a bracketed token that runs to the matching "]" ("\]" escapes).
    std::vector<std::string> tok;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i >= line.size()) break;
      std::string t;
      if (line[i] == '[') {
        while (i < line.size()) {
          if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == ']') {
            t += ']';
            i += 2;
            continue;
          }
          t += line[i];
          if (line[i++] == ']') break;
        }
      } else {
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])))
          t += line[i++];
      }
      tok.push_back(std::move(t));
    }
    if (tok.empty()) continue;
    PamEntry e;
    e.file = file;
    e.line = lineno;
    if (tok[0] == "@include") {
      if (tok.size() < 2) continue;
      e.include = true;
      e.module = tok[1];
      out.push_back(std::move(e));
      continue;
    }
    if (tok.size() < 3) continue;
    std::string type = Lower(tok[0]);
    if (!type.empty() && type[0] == '-') {
      e.dash = true;
      type.erase(0, 1);
    }
    if (type != "auth" && type != "account" && type != "password" && type != "session") continue;
    e.type = type;
    e.control = tok[1][0] == '[' ? tok[1] : Lower(tok[1]);
    e.module = tok[2];
    for (std::size_t k = 3; k < tok.size(); ++k) {
      std::string a = tok[k];
      if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
      e.args.push_back(std::move(a));
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string ControlAction(std::string_view control, std::string_view value) {
  // libpam: required is [success=ok new_authtok_reqd=ok ignore=ignore default=bad],
  // requisite the same with default=die.
  if (control == "required" || control == "requisite") {
    if (value == "success" || value == "new_authtok_reqd") return "ok";
    if (value == "ignore") return "ignore";
    return control == "required" ? "bad" : "die";
  }
  if (control == "sufficient")
    return value == "success" || value == "new_authtok_reqd" ? "done" : "ignore";
  if (control == "optional")
    return value == "success" || value == "new_authtok_reqd" ? "ok" : "ignore";
  if (control.empty() || control.front() != '[') return "ignore";
  std::string_view body = control.substr(1, control.size() >= 2 ? control.size() - 2 : 0);
  std::map<std::string, std::string> m;
  std::size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    std::size_t j = i;
    while (j < body.size() && !std::isspace(static_cast<unsigned char>(body[j]))) ++j;
    if (j > i) {
      const std::string_view kv = body.substr(i, j - i);
      const auto eq = kv.find('=');
      if (eq != std::string_view::npos) m[Lower(kv.substr(0, eq))] = Lower(kv.substr(eq + 1));
    }
    i = j;
  }
  if (auto it = m.find(std::string(value)); it != m.end()) return it->second;
  if (auto it = m.find("default"); it != m.end()) return it->second;
  return "bad";  // libpam: a value not named and no default= is "bad"
}

bool IsJump(const std::string& action, std::size_t* n) {
  if (action.empty() ||
      !std::all_of(action.begin(), action.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *n = static_cast<std::size_t>(std::strtoul(action.c_str(), nullptr, 10));
  return true;
}

std::string Basename(const std::string& module) {
  const auto slash = module.rfind('/');
  return slash == std::string::npos ? module : module.substr(slash + 1);
}

bool IsNoOp(const std::string& base) { return kNoOps.count(base) > 0; }

// Everything else (pam_permit, pam_rootok, pam_succeed_if, pam_cap, pam_localuser,
// pam_access, pam_shells, pam_faillock, pam_echo, ... ) can answer "success" in auth
// without asking for anything: with Linux-PAM 1.5, a failed `sufficient` module followed
// by `optional pam_cap.so` lets a login through.
bool GrantsWithoutPassword(const std::string& base) {
  static const std::set<std::string> kGrant = {
      "pam_permit.so",    "pam_rootok.so",   "pam_succeed_if.so", "pam_cap.so",
      "pam_localuser.so", "pam_access.so",   "pam_shells.so",     "pam_faillock.so",
      "pam_echo.so",      "pam_debug.so",    "pam_lastlog.so",    "pam_stress.so",
      "pam_listfile.so",  "pam_wheel.so",    "pam_time.so",       "pam_securetty.so",
      "pam_nologin.so",   "pam_usertype.so", "pam_timestamp.so",  "pam_exec.so"};
  return kGrant.count(base) > 0;
}

WalkResult WalkAfterRefusal(const std::vector<PamEntry>& stack, std::size_t start) {
  WalkResult r;
  const PamEntry* tentative = nullptr;
  std::size_t i = start;
  while (i < stack.size()) {
    const PamEntry& e = stack[i];
    const std::string base = Basename(e.module);
    std::size_t jump = 0;
    if (IsNoOp(base)) {
      ++i;
      continue;
    }
    if (GrantsWithoutPassword(base)) {
      const std::string a = ControlAction(e.control, "success");
      if (a == "done") {
        r.result = Walk::kGrants;
        r.by = &e;
        return r;
      }
      if (a == "ok" && tentative == nullptr) tentative = &e;
      if (IsJump(a, &jump)) {
        i += jump + 1;
        continue;
      }
      ++i;
      continue;
    }
    // A module that checks something: does its refusal end the stack?
    if (r.first == nullptr) r.first = &e;
    r.reached.push_back(&e);
    const std::string a = ControlAction(e.control, "auth_err");
    if (a == "bad" || a == "die") {
      r.result = Walk::kSafe;
      r.by = &e;
      return r;
    }
    if (IsJump(a, &jump)) {
      i += jump + 1;
      continue;
    }
    ++i;
  }
  if (tentative != nullptr) {
    r.result = Walk::kGrants;
    r.by = tentative;
  }
  return r;
}

std::vector<PamEntry> ExpandType(const std::string& name, const std::string& type,
                                 const PamLoader& load) {
  std::vector<PamEntry> out;
  std::set<std::string> seen;
  ExpandInto(name, type, load, 0, &seen, &out);
  return out;
}

std::vector<PamEntry> ExpandAuth(const std::string& name, const PamLoader& load) {
  return ExpandType(name, "auth", load);
}

std::optional<std::vector<std::string>> GuardedServices(const std::vector<PamEntry>& stack,
                                                        std::size_t index) {
  if (index == 0) return std::nullopt;
  const PamEntry& g = stack[index - 1];
  if (Basename(g.module) != "pam_succeed_if.so" || g.file != stack[index].file) return std::nullopt;
  std::size_t jump = 0;
  if (ControlAction(g.control, "success") != "ignore" ||
      !IsJump(ControlAction(g.control, "auth_err"), &jump) || jump < 1)
    return std::nullopt;
  for (std::size_t k = 0; k + 2 < g.args.size(); ++k) {
    if (g.args[k] == "service" && g.args[k + 1] == "in") {
      std::vector<std::string> services;
      std::stringstream ss(g.args[k + 2]);
      std::string s;
      while (std::getline(ss, s, ':'))
        if (!s.empty()) services.push_back(s);
      return services;
    }
  }
  return std::nullopt;
}

}  // namespace apppass::doctor
