#include "doctor/web_conf.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "doctor/words.h"

namespace apppass::doctor {

namespace {

constexpr const char* kCheck = "web";

// A decimal integer in [lo, hi], the whole string.
bool IntIn(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

}  // namespace

const std::vector<std::string>& WebConfKeys() {
  static const std::vector<std::string> kKeys = {"broker",          "listen",
                                                 "tls_cert",        "tls_key",
                                                 "trusted_proxies", "imap_host",
                                                 "imap_port",       "smtp_host",
                                                 "smtp_port",       "share_dir",
                                                 "locale_dir",      "threads",
                                                 "max_connections", "max_connections_per_ip",
                                                 "timeout"};
  return kKeys;
}

std::optional<std::string> WebConf::Get(std::string_view key) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : values)
    if (k == key) v = val;
  return v;
}

WebConf ParseWebConf(std::string_view text) {
  WebConf c;
  std::stringstream ss{std::string(text)};
  std::string line;
  int n = 0;
  while (std::getline(ss, line)) {
    ++n;
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto eq = t.find('=');
    if (eq == std::string::npos) {
      c.errors.push_back(fmt::format("line {}: no '=' (key = value)", n));
      continue;
    }
    const std::string key = Trim(t.substr(0, eq));
    if (key.empty()) {
      c.errors.push_back(fmt::format("line {}: no key before '='", n));
      continue;
    }
    c.values.emplace_back(key, Trim(t.substr(eq + 1)));
  }
  return c;
}

bool ParseListen(std::string_view v, ListenAddr* out) {
  const auto colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = v.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs brackets
  }
  int port = 0;
  if (!IntIn(v.substr(colon + 1), 0, 65535, &port)) return false;
  // An address, never a host name (apppass-web resolves none).
  in_addr a4{};
  in6_addr a6{};
  const std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &a4) != 1 && inet_pton(AF_INET6, h.c_str(), &a6) != 1)
    return false;
  out->host = std::string(host);
  out->port = port;
  return true;
}

bool IsLoopbackHost(std::string_view host) {
  const std::string h(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  return inet_pton(AF_INET6, h.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool ParseProxy(std::string_view v, ProxyEntry* out) {
  const auto slash = v.find('/');
  const std::string addr(v.substr(0, slash));
  in_addr a4{};
  in6_addr a6{};
  bool v6 = false;
  if (inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    v6 = false;
  } else if (inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
    v6 = true;
  } else {
    return false;
  }
  const int max = v6 ? 128 : 32;
  int prefix = max;
  if (slash != std::string_view::npos && !IntIn(v.substr(slash + 1), 0, max, &prefix)) return false;
  out->addr = addr;
  out->prefix = prefix;
  out->v6 = v6;
  return true;
}

std::vector<Finding> JudgeWebConf(const WebConf& conf, const std::string& path) {
  std::vector<Finding> out;
  const std::string file = Clean(path);
  const std::string fix_edit =
      fmt::format("edit {} (see apppass-web(8), CONFIGURATION FILE)", file);
  auto problem = [&](std::string msg, std::string fix = "") {
    out.push_back(Make(kCheck, Level::kProblem, std::move(msg), fix.empty() ? fix_edit : fix));
  };
  auto warning = [&](std::string msg, std::string fix = "") {
    out.push_back(Make(kCheck, Level::kWarning, std::move(msg), fix.empty() ? fix_edit : fix));
  };
  for (const std::string& e : conf.errors)
    problem(fmt::format("{}: {}: apppass-web refuses to start", file, Clean(e)));
  const auto& keys = WebConfKeys();
  std::vector<std::string> seen;
  for (const auto& [k, v] : conf.values) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      problem(
          fmt::format("{}: unknown key '{}': apppass-web refuses to start", file, Clean(k, 40)));
    } else if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
      problem(fmt::format("{}: {} is set twice: apppass-web refuses to start", file, k));
    }
    seen.push_back(k);
  }
  if (const auto broker = conf.Get("broker"); broker && (broker->empty() || (*broker)[0] != '/'))
    problem(fmt::format("{}: broker '{}' is not an absolute path (apppassd's socket)", file,
                        Clean(*broker, 80)));

  // listen and TLS.
  const auto cert = conf.Get("tls_cert");
  const auto key = conf.Get("tls_key");
  const bool tls = cert && !cert->empty() && key && !key->empty();
  if ((cert && !cert->empty()) != (key && !key->empty()))
    problem(fmt::format("{}: tls_cert and tls_key go together; only one is set", file));
  bool loopback = true;
  if (const auto listen = conf.Get("listen")) {
    ListenAddr la;
    if (!ParseListen(*listen, &la)) {
      problem(fmt::format(
          "{}: listen '{}' is not ADDR:PORT with an IP address (e.g. 127.0.0.1:8088, [::1]:8088)",
          file, Clean(*listen, 80)));
    } else {
      loopback = IsLoopbackHost(la.host);
      if (!loopback && !tls)
        problem(fmt::format("{}: listen {} is not a loopback address, and there is no TLS: "
                            "apppass-web serves plain HTTP on loopback only",
                            file, Clean(*listen, 80)),
                "listen on 127.0.0.1 behind a TLS reverse proxy, or set tls_cert and tls_key");
    }
  }

  // trusted_proxies.
  if (const auto proxies = conf.Get("trusted_proxies")) {
    for (const std::string& w : Words(*proxies)) {
      ProxyEntry p;
      if (!ParseProxy(w, &p)) {
        problem(
            fmt::format("{}: trusted_proxies: '{}' is not an address or CIDR", file, Clean(w, 60)));
        continue;
      }
      if (p.prefix == 0) {
        problem(fmt::format("{}: trusted_proxies: {} trusts every client: anyone could name "
                            "their own address in X-Forwarded-For and escape the sign-in "
                            "throttle per address",
                            file, Clean(w, 60)),
                "name only the reverse proxy's addresses (127.0.0.1 ::1 for one on this host)");
      } else if (loopback && !IsLoopbackHost(p.addr)) {
        warning(
            fmt::format("{}: trusted_proxies: {} is not on this host, but apppass-web "
                        "listens on loopback, where only local proxies can connect",
                        file, Clean(w, 60)));
      }
    }
  }

  // Numbers.
  struct Range {
    const char* key;
    int lo, hi;
  };
  for (const Range& r : {Range{"imap_port", 1, 65535}, Range{"smtp_port", 1, 65535},
                         Range{"threads", 1, 1024}, Range{"max_connections", 1, 65536},
                         Range{"max_connections_per_ip", 0, 65536}, Range{"timeout", 1, 3600}}) {
    int v = 0;
    if (const auto s = conf.Get(r.key); s && !IntIn(*s, r.lo, r.hi, &v))
      problem(fmt::format("{}: {} '{}' is not a number from {} to {}", file, r.key, Clean(*s, 40),
                          r.lo, r.hi));
  }
  if (!conf.Get("imap_host") && !conf.Get("smtp_host"))
    warning(
        fmt::format("{}: no imap_host or smtp_host: the page shows no mail client "
                    "settings beside a new app password",
                    file));

  if (out.empty())
    out.push_back(Make(kCheck, Level::kOk,
                       fmt::format("{} is valid (listen {}{})", file,
                                   Clean(conf.Get("listen").value_or("default"), 80),
                                   tls ? ", TLS" : ", plain HTTP on loopback")));
  return out;
}

}  // namespace apppass::doctor
