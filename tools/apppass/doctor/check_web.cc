// The web check: when apppass-web is installed (its program, its unit or its config file
// exists), the portal user apppassd trusts (--portal-user in apppassd.service's
// effective ExecStart=, else apppass-web) exists, is not root, is no verifier and is the
// user apppass-web.service runs as; the PAM service apppass-web, read as libpam reads it
// for that service, needs a password; web.conf is valid (web_conf.h). Only reads.
#include <grp.h>
#include <pwd.h>

#include <fmt/format.h>
#include <algorithm>
#include <filesystem>
#include <map>

#include "doctor/doctor.h"
#include "doctor/read_files.h"
#include "doctor/web_conf.h"
#include "doctor/web_rules.h"
#include "doctor/words.h"

namespace apppass::doctor {

namespace {

namespace fs = std::filesystem;

// The texts of unit `name` as systemd reads them: the first file found in `dirs` (in
// order of precedence), then its drop-ins NAME.d/*.conf, one per file name (the first
// directory wins), sorted by file name.
std::vector<std::string> UnitTexts(const std::vector<std::string>& dirs, const std::string& name,
                                   bool* found) {
  std::vector<std::string> texts;
  *found = false;
  for (const std::string& d : dirs) {
    std::string text, err;
    if (ReadText(d + "/" + name, &text, &err)) {
      texts.push_back(std::move(text));
      *found = true;
      break;
    }
  }
  std::map<std::string, std::string> dropins;  // file name -> path
  for (const std::string& d : dirs) {
    std::error_code ec;
    const fs::path dir = fs::path(d) / (name + ".d");
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& de : fs::directory_iterator(dir, ec)) {
      const std::string file = de.path().filename().string();
      if (de.path().extension() == ".conf" && !dropins.count(file))
        dropins.emplace(file, de.path().string());
    }
  }
  for (const auto& [file, path] : dropins) {
    std::string text, err;
    if (ReadText(path, &text, &err)) texts.push_back(std::move(text));
  }
  return texts;
}

bool InGroup(const std::string& user, gid_t primary, const std::string& group) {
  struct group gr {};
  struct group* found = nullptr;
  std::vector<char> buf(65536);
  if (::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return false;
  if (gr.gr_gid == primary) return true;
  for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m)
    if (user == *m) return true;
  return false;
}

}  // namespace

std::vector<Finding> CheckWeb(const Config& cfg) {
  std::vector<Finding> out;
  bool web_unit = false;
  const std::vector<std::string> web_texts =
      UnitTexts(cfg.systemd_dirs, "apppass-web.service", &web_unit);
  const bool conf_exists = FileExists(cfg.web_conf);
  if (!FileExists(cfg.web_binary) && !web_unit && !conf_exists) {
    out.push_back(Make("web", Level::kOk,
                       fmt::format("apppass-web is not installed (no {})", Clean(cfg.web_binary))));
    return out;
  }

  // The portal user: apppassd's, and apppass-web.service's.
  bool broker_unit = false;
  const std::vector<std::string> broker_texts =
      UnitTexts(cfg.systemd_dirs, "apppassd.service", &broker_unit);
  PortalUserFacts facts;
  facts.name = kDefaultPortalUser;
  if (const auto exec = EffectiveExecStart(broker_texts))
    facts.name = PortalUserOfCommand(SplitCommand(*exec)).value_or(kDefaultPortalUser);
  if (web_unit) facts.unit_user = LastUnitValue(web_texts, "User");
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(facts.name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 &&
      found != nullptr) {
    facts.uid = pw.pw_uid;
    facts.group = cfg.group;
    facts.in_verifier_group = InGroup(facts.name, pw.pw_gid, cfg.group);
  }
  for (Finding& f : JudgePortalUser(facts)) out.push_back(std::move(f));

  // The PAM service apppassd runs for a sign-in on the page.
  const std::string service = kPortalPamService;
  const std::string where = cfg.pam_dir + "/" + service;
  if (!FileExists(where)) {
    out.push_back(Make("web", Level::kProblem,
                       fmt::format("no {}: libpam uses the 'other' service for a sign-in on "
                                   "the page",
                                   Clean(where)),
                       fmt::format("apt-get install --reinstall apppass-web, or write {} "
                                   "('@include common-auth', '@include common-account')",
                                   Clean(where))));
  } else {
    std::map<std::string, std::vector<PamEntry>> cache;
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
    for (Finding& f : JudgePortalStack(ExpandAuth(service, load),
                                       ExpandType(service, "account", load), service, where))
      out.push_back(std::move(f));
  }

  // web.conf.
  std::string text, err;
  if (!conf_exists) {
    out.push_back(Make("web", Level::kWarning,
                       fmt::format("no {}: apppass-web runs on its defaults", Clean(cfg.web_conf)),
                       "apt-get install --reinstall apppass-web (it ships the file)"));
  } else if (!ReadText(cfg.web_conf, &text, &err)) {
    out.push_back(Make("web", Level::kWarning,
                       fmt::format("cannot read {}: {}", Clean(cfg.web_conf), Clean(err)),
                       "run 'apppass doctor' as root"));
  } else {
    for (Finding& f : JudgeWebConf(ParseWebConf(text), cfg.web_conf)) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace apppass::doctor
