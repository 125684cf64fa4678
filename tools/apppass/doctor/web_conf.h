// apppass-web's configuration file (/etc/apppass/web.conf, apppass-web(8)) as the doctor
// reads it, and what the doctor says about it: keys known, plain HTTP only on loopback,
// TLS files in pairs, trusted proxies that are addresses and trust no one by accident.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "doctor/findings.h"

namespace apppass::doctor {

// The keys apppass-web reads (tools/apppass-web/config.*; apppass-web(8), CONFIGURATION
// FILE).
const std::vector<std::string>& WebConfKeys();

// "key = value" lines ('#' comments, blank lines skipped), in order, and the lines that
// are not such a line (e.g. "line 3: no '='"). A key set twice is JudgeWebConf's problem.
struct WebConf {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> errors;
  // The value of `key`: the last one.
  std::optional<std::string> Get(std::string_view key) const;
};
WebConf ParseWebConf(std::string_view text);

// An address of a listen value: "127.0.0.1:8088", "[::1]:8088". False when it is not
// ADDR:PORT with an IP address (no host name) and a port 0..65535, as apppass-web reads
// it (tools/apppass-web/address.h ParseEndpoint).
struct ListenAddr {
  std::string host;  // without brackets
  int port = 0;
};
bool ParseListen(std::string_view v, ListenAddr* out);
// 127.0.0.0/8 or ::1 (tools/apppass-web/address.h IsLoopback).
bool IsLoopbackHost(std::string_view host);

// An entry of trusted_proxies: an IPv4 or IPv6 address, optionally "/prefix". False when
// it is neither; `prefix` is the prefix length (32 or 128 when none was given).
struct ProxyEntry {
  std::string addr;
  int prefix = 0;
  bool v6 = false;
};
bool ParseProxy(std::string_view v, ProxyEntry* out);

// The doctor's findings about `conf` (read from `path`, for the messages): unknown keys,
// keys set twice, malformed lines, broker not an absolute path, listen (plain HTTP off loopback,
// unparsable), TLS files not in pairs, trusted_proxies (unparsable entries; a /0 that trusts every
// client's own X-Forwarded-For; proxies off loopback while listening on loopback), numbers out of
// range, and no mail settings for the page to show (a warning). One ok finding when
// nothing is wrong.
std::vector<Finding> JudgeWebConf(const WebConf& conf, const std::string& path);

}  // namespace apppass::doctor
