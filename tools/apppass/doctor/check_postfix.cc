// The postfix check: which smtpd services offer SMTP AUTH and through what (Cyrus SASL
// or Dovecot), and whether each Cyrus SASL config names this store, passes the plugin's
// own option parser and offers only PLAIN and LOGIN; apppass_account: nss is suggested
// where the store's users are system accounts.
#include <fmt/format.h>

#include <map>
#include <optional>
#include <vector>

#include "doctor/doctor.h"
#include "doctor/pam_rules.h"
#include "doctor/postfix_conf.h"
#include "doctor/read_files.h"
#include "doctor/sasl_conf.h"
#include "doctor/words.h"
#include "sasl_options.h"

namespace apppass::doctor {

std::vector<Finding> CheckPostfix(const Config& cfg, PostfixSasl* sasl) {
  std::vector<Finding> out;
  const std::string maincf_path = cfg.postfix_dir + "/main.cf";
  std::string text, err;
  if (!FileExists(maincf_path)) {
    out.push_back(Make("postfix", Level::kOk,
                       fmt::format("postfix not installed (no {})", Clean(maincf_path))));
    return out;
  }
  sasl->installed = true;
  if (!ReadText(maincf_path, &text, &err)) {
    out.push_back(Make("postfix", Level::kWarning,
                       fmt::format("cannot read {}: {}", Clean(maincf_path), Clean(err)),
                       "run 'apppass doctor' as root"));
    return out;
  }
  const auto main = ParseMainCf(text);
  auto get = [&](const std::map<std::string, std::string>& o, const std::string& key,
                 const std::string& def) {
    if (auto it = o.find(key); it != o.end()) return it->second;
    if (auto it = main.find(key); it != main.end()) return it->second;
    return def;
  };
  std::string master_text;
  std::vector<SmtpdService> services;
  if (ReadText(cfg.postfix_dir + "/master.cf", &master_text, &err))
    services = ParseMasterCf(master_text);
  if (services.empty()) services.push_back(SmtpdService{"smtp", {}});

  // SASL applications (Cyrus config names) in use, with the services that use them.
  std::map<std::string, std::vector<std::string>> apps;
  std::vector<std::string> dovecot_services;
  for (const auto& [svc, o] : services) {
    if (!IsYes(get(o, "smtpd_sasl_auth_enable", "no"))) continue;
    const std::string type = Lower(get(o, "smtpd_sasl_type", "cyrus"));
    const std::string path = get(o, "smtpd_sasl_path", "smtpd");
    if (type == "dovecot") {
      dovecot_services.push_back(svc);
    } else if (type == "cyrus") {
      apps[path].push_back(svc);
    } else {
      out.push_back(
          Make("postfix", Level::kProblem,
               fmt::format("service {} has smtpd_sasl_type = {}, which Postfix does not know",
                           Clean(svc), Clean(type)),
               "set smtpd_sasl_type = cyrus (the apppass SASL plugin) or dovecot"));
    }
  }
  if (!dovecot_services.empty())
    out.push_back(
        Make("postfix", Level::kOk,
             fmt::format("{} hand SMTP AUTH to Dovecot (smtpd_sasl_type = dovecot): app passwords "
                         "go through Dovecot's PAM stack (see the pam findings)",
                         Clean(Join(dovecot_services, ", ")))));
  // The default config file, even when SMTP AUTH is off: it may name the store.
  if (apps.empty()) {
    const std::string conf_path = cfg.postfix_dir + "/sasl/smtpd.conf";
    std::string ctext;
    if (ReadText(conf_path, &ctext, &err)) {
      const SaslConf conf = ParseSaslConf(ctext);
      if (auto db = conf.Get("apppass_db")) {
        sasl->names_store = true;
        sasl->store = *db;
        out.push_back(Make(
            "postfix", Level::kWarning,
            fmt::format("{} names the store {}, but Postfix does not offer SMTP AUTH through "
                        "Cyrus SASL (smtpd_sasl_auth_enable is not yes)",
                        Clean(conf_path), Clean(*db)),
            fmt::format("postconf -c {} -e smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus && "
                        "postfix reload (or enable it for the submission service in master.cf)",
                        Sh(cfg.postfix_dir))));
        return out;
      }
    }
    if (dovecot_services.empty())
      out.push_back(Make(
          "postfix", Level::kOk,
          "Postfix does not offer SMTP AUTH (smtpd_sasl_auth_enable is not yes): app passwords "
          "are not used for SMTP"));
    return out;
  }

  const std::string store_key = SameDirKey(cfg.db);
  std::optional<std::vector<std::string>> login_accounts;  // read once, when needed
  for (const auto& [app, svcs] : apps) {
    const std::string conf_path = cfg.postfix_dir + "/sasl/" + app + ".conf";
    const std::string cp = Clean(conf_path);
    const std::string who = fmt::format("Postfix ({})", Clean(Join(svcs, ", ")));
    const std::string write_fix =
        fmt::format("put 'apppass_db: {}' and 'mech_list: PLAIN LOGIN' in {}, then postfix reload",
                    Clean(cfg.db), cp);
    std::string ctext;
    if (!ReadText(conf_path, &ctext, &err)) {
      out.push_back(Make(
          "postfix", Level::kProblem,
          fmt::format("{} offers SMTP AUTH through Cyrus SASL, but {} {}: app passwords are not "
                      "accepted for SMTP",
                      who, cp,
                      !FileExists(conf_path) ? "does not exist" : "cannot be read: " + Clean(err)),
          write_fix));
      continue;
    }
    const SaslConf conf = ParseSaslConf(ctext);
    for (const auto& e : conf.errors)
      out.push_back(
          Make("postfix", Level::kProblem,
               fmt::format("{}: {}: libsasl2 refuses the file, so SMTP AUTH fails", cp, e),
               "write each setting as 'key: value' (no blank values)"));
    const auto db = conf.Get("apppass_db");
    if (!db) {
      out.push_back(Make(
          "postfix", Level::kProblem,
          fmt::format("{} does not name the store (no apppass_db): {} checks SMTP AUTH with the "
                      "stock plugins, which do not accept app passwords",
                      cp, who),
          write_fix));
    } else {
      sasl->names_store = true;
      if (sasl->store.empty()) sasl->store = *db;
      if (SameDirKey(*db) != store_key)
        out.push_back(Make(
            "postfix", Level::kProblem,
            fmt::format("{} names the store {}, but this doctor checked {}", cp, Clean(*db),
                        Clean(cfg.db)),
            fmt::format("set 'apppass_db: {}' in {} and postfix reload (or check that store with "
                        "'apppass --db {} doctor')",
                        Clean(cfg.db), cp, Sh(*db))));
      else
        out.push_back(
            Make("postfix", Level::kOk,
                 fmt::format("{} reads {}, which names the store {}", who, cp, Clean(*db))));
      // The plugin's own option rules.
      SaslOptions opts;
      const Status s = ParseSaslOptions(
          [&conf](std::string_view key) -> const char* {
            for (const auto& [k, v] : conf.values)
              if (k == key) return v.c_str();
            return nullptr;
          },
          &opts);
      if (!s.ok() && !s.IsNotFound())
        out.push_back(Make(
            "postfix", Level::kProblem,
            fmt::format("{}: {}: the plugin refuses every SMTP login", cp, Clean(s.message(), 300)),
            "correct the option (see the plugin's man page)"));
      // Where the store's users are people's system accounts, locking one should stop its
      // app passwords for SMTP too (apppass_account: nss, read as written until the
      // plugin's parser knows it).
      if (SameDirKey(*db) == store_key) {
        if (!login_accounts) login_accounts = StoreLoginAccounts(cfg);
        if (auto f = SuggestSaslAccountNss(conf_path, conf.Get("apppass_account"), *login_accounts))
          out.push_back(std::move(*f));
      }
    }
    const auto mechs = conf.Get("mech_list");
    if (!mechs) {
      out.push_back(
          Make("postfix", Level::kWarning,
               fmt::format("{} has no mech_list: Postfix offers every installed mechanism, and "
                           "CRAM-MD5, DIGEST-MD5 or SCRAM never accept app passwords",
                           cp),
               fmt::format("add 'mech_list: PLAIN LOGIN' to {}, then postfix reload", cp)));
    } else if (const auto foreign = ForeignMechanisms(*mechs); !foreign.empty()) {
      out.push_back(
          Make("postfix", Level::kWarning,
               fmt::format(
                   "{}: mech_list also offers {}: only PLAIN and LOGIN can carry an app password, "
                   "so clients that pick another mechanism fail",
                   cp, Clean(Join(foreign, " "))),
               fmt::format("set 'mech_list: PLAIN LOGIN' in {}, then postfix reload", cp)));
    } else {
      out.push_back(
          Make("postfix", Level::kOk, fmt::format("{}: mech_list is {}", cp, Clean(*mechs))));
    }
  }
  return out;
}

}  // namespace apppass::doctor
