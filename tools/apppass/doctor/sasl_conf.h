// Cyrus SASL application config files (e.g. Postfix's sasl/smtpd.conf) as libsasl2 reads
// them. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apppass::doctor {

// Values of "key: value" lines of a Cyrus SASL config file (keys lowercased), and the
// lines libsasl2 would refuse (e.g. "line 3: empty value for mech_list").
struct SaslConf {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> errors;
  // The value of `key`: the first one, as libsasl2 takes it.
  std::optional<std::string> Get(std::string_view key) const;
};
SaslConf ParseSaslConf(std::string_view text);

}  // namespace apppass::doctor
