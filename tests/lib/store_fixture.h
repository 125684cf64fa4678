// The store fixture of the C++ tests: the real admin tool on one store, users enrolled in
// MFA with the current TOTP code, app passwords created through it. Header-only.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report.h"
#include "run.h"
#include "totp_now.h"

namespace testlib {

// The admin tool on one store.
struct Tool {
  std::string path, store;

  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") const {
    std::vector<std::string> a = {path, "--db", store};
    a.insert(a.end(), args.begin(), args.end());
    return testlib::Run(a, input);
  }
  void Ok(const std::vector<std::string>& args) const {
    const RunResult r = Run(args);
    if (r.status != 0) Die("apppass " + Join(args) + " exited with " + std::to_string(r.status));
  }
  nlohmann::json Json(const std::vector<std::string>& args) const {
    const RunResult r = Run(args);
    if (r.status != 0) Die("apppass " + Join(args) + " exited with " + std::to_string(r.status));
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      Die("apppass " + Join(args) + " printed no JSON: " + e.what());
    }
  }
  static std::string Join(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
  }
};

inline std::string TotpNow(const std::string& base32) {
  std::string code = TotpCodeNow(base32);
  if (code.empty()) Die("no TOTP code from apppass mfa enroll's secret");
  return code;
}

// App passwords are only issued to users with confirmed MFA.
inline void Enroll(const Tool& tool, const std::string& user) {
  const nlohmann::json e = tool.Json({"mfa", "enroll", user, "--json"});
  tool.Ok({"mfa", "confirm", user, TotpNow(e.at("secret").get<std::string>())});
}

struct Cred {
  std::string id, password;
};

// `extra` without --scope: --all-services is added (create requires one of the two).
inline Cred Create(const Tool& tool, const std::string& user, const std::string& name,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"create", user, "--name", name, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (std::find(extra.begin(), extra.end(), "--scope") == extra.end() &&
      std::find(extra.begin(), extra.end(), "--all-services") == extra.end())
    args.push_back("--all-services");
  const nlohmann::json j = tool.Json(args);
  return {j.at("id").get<std::string>(), j.at("password").get<std::string>()};
}

}  // namespace testlib
