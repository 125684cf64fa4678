#include "doctor/doctor.h"

#include <string>

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
  return out;
}

}  // namespace apppass::doctor
