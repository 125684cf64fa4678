#include "doctor/doctor.h"

#include <pwd.h>

#include <string>
#include <vector>

#include "doctor/pam_rules.h"
#include "doctor/store_probe.h"
#include "store.h"

#ifndef APPPASS_DOCTOR_SASL_DIR
#define APPPASS_DOCTOR_SASL_DIR "/usr/lib/x86_64-linux-gnu/sasl2"
#endif
#ifndef APPPASS_DOCTOR_PAM_MODULE_DIR
#define APPPASS_DOCTOR_PAM_MODULE_DIR "/lib/x86_64-linux-gnu/security"
#endif

namespace apppass::doctor {

Config DefaultConfig() {
  Config cfg;
  cfg.db = kDefaultStoreDir;
  cfg.sasl_dir = APPPASS_DOCTOR_SASL_DIR;
  // libpam's module directory; with Debian's merged /usr both spellings are the same.
  const std::string dir = APPPASS_DOCTOR_PAM_MODULE_DIR;
  cfg.pam_module_dirs.push_back(dir);
  if (dir.rfind("/usr/", 0) == 0) cfg.pam_module_dirs.push_back(dir.substr(4));
  else cfg.pam_module_dirs.push_back("/usr" + dir);
  return cfg;
}

std::vector<std::string> StoreLoginAccounts(const Config& cfg) {
  // Only a store whose files are safe to open (ProbeVerify) is read.
  std::vector<std::string> names;
  int schema = 0;
  if (!ProbeVerify(cfg.db, &schema).ok() || !ProbeUserNames(cfg.db, &names).ok()) return {};
  std::vector<StoreUser> users;
  std::vector<char> buf(16384);
  for (const std::string& name : names) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    StoreUser u{.name = name, .uid = std::nullopt};
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
      u.uid = pw.pw_uid;
    users.push_back(std::move(u));
  }
  return LoginAccounts(users);
}

std::vector<Finding> RunAll(const Config& cfg) {
  std::vector<Finding> out;
  auto add = [&out](std::vector<Finding> v) {
    for (auto& f : v) out.push_back(std::move(f));
  };
  add(CheckStore(cfg));
  add(CheckAccess(cfg));
  add(CheckPam(cfg));
  PostfixSasl postfix;
  add(CheckPostfix(cfg, &postfix));
  add(CheckSasl(cfg, postfix));
  add(CheckBroker(cfg));
  add(CheckWeb(cfg));
  return out;
}

}  // namespace apppass::doctor
