#include "doctor/sasl_conf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "doctor/words.h"

namespace apppass::doctor {

std::optional<std::string> SaslConf::Get(std::string_view key) const {
  for (const auto& [k, v] : values)
    if (k == key) return v;  // libsasl2 takes the first
  return std::nullopt;
}

SaslConf ParseSaslConf(std::string_view text) {
  // As lib/config.c of libsasl2 2.1.28: leading blanks skipped, '#' at the start of a line
  // is a comment, the key is [A-Za-z0-9_-] lowercased and followed at once by ':', the
  // value is trimmed and must not be empty; any other line fails sasl_server_init.
  SaslConf conf;
  std::size_t i = 0;
  int lineno = 0;
  while (i <= text.size()) {
    const std::size_t e = std::min(text.find('\n', i), text.size());
    const std::string_view raw = text.substr(i, e - i);
    ++lineno;
    std::size_t p = 0;
    while (p < raw.size() && std::isspace(static_cast<unsigned char>(raw[p]))) ++p;
    if (p < raw.size() && raw[p] != '#') {
      std::size_t k = p;
      while (k < raw.size() &&
             (std::isalnum(static_cast<unsigned char>(raw[k])) || raw[k] == '-' || raw[k] == '_'))
        ++k;
      if (k >= raw.size() || raw[k] != ':') {
        conf.errors.push_back(
            fmt::format("line {}: '{}' is not 'key: value'", lineno, Clean(Trim(raw), 60)));
      } else {
        const std::string value = Trim(raw.substr(k + 1));
        if (value.empty())
          conf.errors.push_back(
              fmt::format("line {}: empty value for {}", lineno, Clean(raw.substr(p, k - p), 60)));
        else conf.values.emplace_back(Lower(raw.substr(p, k - p)), value);
      }
    }
    if (e >= text.size()) break;
    i = e + 1;
  }
  return conf;
}

}  // namespace apppass::doctor
