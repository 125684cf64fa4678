// The pam check: every service file in the PAM directory that stacks pam_apppass.so, its
// options (with the module's own parser), the module file, and what its auth stack does
// (pam_rules.h: a refusal, an enrolled user's real password, the TOTP step); interactive
// services are warned about (password mode); account=nss is suggested where the store's
// users are system accounts.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "doctor/doctor.h"
#include "doctor/pam_rules.h"
#include "doctor/read_files.h"
#include "doctor/words.h"
#include "pam_options.h"

namespace apppass::doctor {

namespace {

namespace fs = std::filesystem;

std::string Where(const PamEntry& e) { return fmt::format("{} line {}", Clean(e.file), e.line); }

std::string Describe(const PamEntry& e) {
  return fmt::format("{}{} {} {}", e.dash ? "-" : "", e.type, Clean(e.control, 80),
                     Clean(e.module, 120));
}

}  // namespace

namespace {

// Services through which app passwords would open a shell or a desktop session.
const std::set<std::string> kInteractive = {
    "common-auth",  "login",    "su",        "su-l",         "sshd",          "sudo",    "sudo-i",
    "other",        "runuser",  "runuser-l", "gdm-password", "gdm-autologin", "lightdm", "sddm",
    "xscreensaver", "polkit-1", "cockpit",   "systemd-user", "chfn",          "chsh",    "passwd",
    "vlock",        "screen",   "kde",       "xrdp-sesman",  "remote",        "atd",     "cron"};

bool ModuleExists(const Config& cfg, const std::string& module, std::string* where) {
  if (!module.empty() && module[0] == '/') {
    *where = module;
    return FileExists(module);
  }
  for (const auto& d : cfg.pam_module_dirs) {
    if (FileExists(d + "/" + module)) {
      *where = d + "/" + module;
      return true;
    }
  }
  *where = cfg.pam_module_dirs.empty() ? module : cfg.pam_module_dirs.front() + "/" + module;
  return false;
}

}  // namespace

std::vector<Finding> CheckPam(const Config& cfg) {
  std::vector<Finding> out;
  std::error_code ec;
  if (!fs::is_directory(cfg.pam_dir, ec)) {
    out.push_back(Make("pam", Level::kOk,
                       fmt::format("no PAM configuration directory {}", Clean(cfg.pam_dir))));
    return out;
  }
  std::vector<std::string> names;
  for (const auto& de : fs::directory_iterator(cfg.pam_dir, ec)) {
    std::error_code e2;
    if (!de.is_regular_file(e2)) continue;
    names.push_back(de.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, std::vector<PamEntry>> cache;  // service files, parsed once
  const PamLoader load = [&cfg, &cache](const std::string& file) {
    auto it = cache.find(file);
    if (it == cache.end()) {
      std::string text, err;
      std::vector<PamEntry> entries;
      if (ReadText(cfg.pam_dir + "/" + file, &text, &err)) entries = ParsePamFile(text, file);
      it = cache.emplace(file, std::move(entries)).first;
    }
    return it->second;
  };
  const std::string store_key = SameDirKey(cfg.db);
  // Files other services include: their lines run under the including service's name.
  std::set<std::string> included;
  for (const std::string& name : names) {
    std::string text, err;
    if (!ReadText(cfg.pam_dir + "/" + name, &text, &err)) continue;
    for (const PamEntry& e : ParsePamFile(text, name))
      if (e.include || e.control == "include" || e.control == "substack") included.insert(e.module);
  }
  bool any = false;
  std::optional<std::vector<std::string>> login_accounts;  // read once, when needed
  for (const std::string& name : names) {
    std::string text, err;
    if (!ReadText(cfg.pam_dir + "/" + name, &text, &err)) {
      out.push_back(
          Make("pam", Level::kWarning,
               fmt::format("cannot read {}/{}: {}", Clean(cfg.pam_dir), Clean(name), Clean(err)),
               "run 'apppass doctor' as root"));
      continue;
    }
    const std::vector<PamEntry> entries = ParsePamFile(text, name);
    std::vector<const PamEntry*> ours;
    for (const PamEntry& e : entries)
      if (IsApppass(e)) ours.push_back(&e);
    if (ours.empty()) continue;
    any = true;
    const std::vector<PamEntry> auth_stack = ExpandAuth(name, load);
    bool warned_interactive = false;
    bool password_mode = false;  // an auth line checks app passwords (not the TOTP step)
    for (const PamEntry* e : ours) {
      const std::string where = Where(*e);
      std::vector<Finding> line_findings;
      const ApppassLine line = ReadApppassLine(e->args);
      // Options, exactly as the module parses them. Until pam_options.h knows the
      // options of issue 12 (totp, unenrolled=, account=: being added), their valid
      // values are left out here and read by ReadApppassLine.
      std::vector<std::string_view> args;
      for (const std::string& a : e->args)
        if (a != "totp" && a != "unenrolled=deny" && a != "unenrolled=ignore" &&
            a != "account=nss" && a != "account=none")
          args.push_back(a);
      ModuleOptions opts;
      Status s = ParseModuleOptions(args, &opts);
      if (!s.ok())
        line_findings.push_back(Make(
            "pam", Level::kProblem,
            fmt::format("{}: {}: pam_apppass refuses every login of this service (PAM_SERVICE_ERR)",
                        where, Clean(s.message(), 300)),
            "remove or correct it; the options are db=DIR scope=NAME broker=PATH use_first_pass "
            "try_first_pass no_usage usage_interval=SECONDS totp unenrolled=deny|ignore "
            "account=none|nss debug"));
      else if (SameDirKey(opts.db) != store_key)
        line_findings.push_back(Make(
            "pam", Level::kProblem,
            fmt::format("{}: the module reads the store {}, but this doctor checked {}", where,
                        Clean(opts.db), Clean(cfg.db)),
            fmt::format("set db={} in {}/{} (or check that store with 'apppass --db {} doctor')",
                        Sh(cfg.db), Clean(cfg.pam_dir), Clean(name), Sh(opts.db))));
      std::string path;
      const bool missing = !ModuleExists(cfg, e->module, &path);
      if (missing)
        line_findings.push_back(
            Make("pam", e->dash ? Level::kWarning : Level::kProblem,
                 fmt::format("{}: {} does not exist{}", where, Clean(path),
                             e->dash ? " (the line is skipped: '-' before the type)"
                                     : ": libpam fails this line"),
                 "install libpam-apppass, or give the module's full path"));
      if (e->type == "password" || e->type == "session")
        line_findings.push_back(Make(
            "pam", Level::kProblem,
            fmt::format(
                "{}: pam_apppass.so has no '{}' function: libpam reports an error for this line",
                where, e->type),
            fmt::format("remove the '{}' line; pam_apppass is an auth and account module",
                        e->type)));
      if (e->type == "auth" && line.account_nss)
        line_findings.push_back(
            Make("pam", Level::kWarning,
                 fmt::format("{}: account=nss on an auth line does nothing: only the account step "
                             "checks the account",
                             where),
                 "put it on the service's account line: 'account required pam_apppass.so "
                 "account=nss'"));
      if (e->type == "auth" && !line.totp) password_mode = true;
      if (e->type == "auth") {
        // Interactive services: app passwords would open shells and sessions (the TOTP
        // step is meant for them).
        std::size_t index = auth_stack.size();
        for (std::size_t k = 0; k < auth_stack.size(); ++k)
          if (auth_stack[k].file == e->file && auth_stack[k].line == e->line) index = k;
        const auto guard =
            index < auth_stack.size() ? GuardedServices(auth_stack, index) : std::nullopt;
        std::vector<std::string> exposed;
        if (guard) {
          for (const auto& svc : *guard)
            if (kInteractive.count(svc) > 0) exposed.push_back(svc);
        }
        if (!line.totp && !warned_interactive &&
            ((!guard && kInteractive.count(name) > 0) || !exposed.empty())) {
          warned_interactive = true;
          const std::string what =
              !exposed.empty()
                  ? fmt::format("lets {} use app passwords", Clean(Join(exposed, ", ")))
              : name == "common-auth" ? "stacks pam_apppass.so for every service that includes "
                                        "common-auth (sshd, login, su, "
                                        "sudo, ...)"
              : name == "other"
                  ? "stacks pam_apppass.so for every service without its own file"
                  : fmt::format("stacks pam_apppass.so for {}, an interactive login", Clean(name));
          line_findings.push_back(Make(
              "pam", Level::kWarning,
              fmt::format(
                  "{}: {}: app passwords are meant for mail clients, not for shells, su or sudo",
                  where, what),
              !exposed.empty()
                  ? fmt::format("take {} out of the 'service in' list of pam_succeed_if.so ({})",
                                Clean(Join(exposed, ", ")), Where(auth_stack[index - 1]))
              : name == "common-auth"
                  ? "take it out of common-auth (pam-auth-update --remove apppass, if its profile "
                    "put it "
                    "there) and stack it only in the mail services' files, e.g. /etc/pam.d/imap"
                  : "stack pam_apppass.so only in the mail services' files (e.g. "
                    "/etc/pam.d/imap)"));
        }
        if (index < auth_stack.size()) {
          for (auto& f : AnalyzeAuthEntry(auth_stack, index, line))
            line_findings.push_back(std::move(f));
        }
        if (guard)
          line_findings.push_back(
              Make("pam", Level::kOk,
                   fmt::format("{}: only services {} reach pam_apppass.so (pam_succeed_if)", where,
                               Clean(Join(*guard, ", ")))));
      } else if (e->type == "account") {
        line_findings.push_back(
            Make("pam", Level::kOk, fmt::format("{}: '{}'", where, Describe(*e))));
      }
      // A line that is broken or skipped does not do what its ok finding would say.
      if (missing || HasProblem(line_findings))
        line_findings.erase(std::remove_if(line_findings.begin(), line_findings.end(),
                                           [](const Finding& f) { return f.level == Level::kOk; }),
                            line_findings.end());
      // Say which scope app passwords need here, on the line's ok finding.
      for (auto& f : line_findings) {
        if (f.level == Level::kOk && e->type == "auth" && !line.totp &&
            f.message.find("reach") == std::string::npos)
          f.message += fmt::format(" (app passwords need scope {} or all services; store {})",
                                   !opts.scope.empty() ? Clean(opts.scope)
                                   : included.count(name) > 0
                                       ? "the name of the service that includes " + Clean(name)
                                       : Clean(name),
                                   Clean(opts.db));
        out.push_back(std::move(f));
      }
    }
    // Where the store's users are people's system accounts, locking one should stop its
    // app passwords too.
    if (password_mode) {
      if (!login_accounts) login_accounts = StoreLoginAccounts(cfg);
      if (auto f = SuggestAccountNss(name, ExpandType(name, "account", load), *login_accounts,
                                     included.count(name) > 0))
        out.push_back(std::move(*f));
    }
  }
  if (!any)
    out.push_back(Make("pam", Level::kOk,
                       fmt::format("no service in {} stacks pam_apppass.so", Clean(cfg.pam_dir))));
  return out;
}

}  // namespace apppass::doctor
