#include "doctor/postfix_conf.h"

#include <cctype>
#include <sstream>

#include "doctor/words.h"

namespace apppass::doctor {

std::map<std::string, std::string> ParseMainCf(std::string_view text) {
  std::map<std::string, std::string> m;
  std::string cur;
  auto flush = [&] {
    const auto eq = cur.find('=');
    if (eq != std::string::npos) m[Trim(cur.substr(0, eq))] = Trim(cur.substr(eq + 1));
    cur.clear();
  };
  std::stringstream ss{std::string(text)};
  std::string line;
  while (std::getline(ss, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(line[0])) && !cur.empty()) {
      cur += " " + t;
    } else {
      flush();
      cur = t;
    }
  }
  flush();
  return m;
}

std::vector<SmtpdService> ParseMasterCf(std::string_view text) {
  std::vector<SmtpdService> out;
  std::vector<std::string> logical;
  std::stringstream ss{std::string(text)};
  std::string line;
  while (std::getline(ss, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(line[0])) && !logical.empty())
      logical.back() += " " + t;
    else logical.push_back(t);
  }
  for (const auto& l : logical) {
    std::stringstream ts(l);
    std::vector<std::string> tok;
    std::string w;
    while (ts >> w) tok.push_back(w);
    if (tok.size() < 8) continue;
    std::map<std::string, std::string> o;
    for (std::size_t k = 8; k < tok.size(); ++k) {
      std::string kv;
      if (tok[k] == "-o" && k + 1 < tok.size()) {
        kv = tok[++k];
      } else if (tok[k].rfind("-o", 0) == 0 && tok[k].size() > 2) {
        kv = tok[k].substr(2);
      } else {
        continue;
      }
      const auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string v = kv.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '{' && v.back() == '}') v = Trim(v.substr(1, v.size() - 2));
      o[kv.substr(0, eq)] = v;
    }
    if (tok[7] == "smtpd")
      out.push_back(SmtpdService{tok[0], std::move(o), tok[4] == "y" || tok[4] == "yes"});
  }
  return out;
}

bool IsYes(const std::string& v) { return Lower(v) == "yes" || Lower(v) == "true" || v == "1"; }

}  // namespace apppass::doctor
