// apppass-web's settings (config.h).
#include "config.h"

#include <unistd.h>

#include <charconv>

#include "address.h"
#include "files.h"

namespace apppass::web {

namespace {

constexpr std::size_t kMaxConfigBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    s = Trim(s);
    if (s.empty()) return out;
    const std::size_t end = s.find_first_of(" \t");
    out.emplace_back(s.substr(0, end));
    if (end == std::string_view::npos) return out;
    s.remove_prefix(end);
  }
}

}  // namespace

const std::vector<std::string_view>& ConfigKeys() {
  static const std::vector<std::string_view> keys = {"broker",          "listen",
                                                     "tls_cert",        "tls_key",
                                                     "trusted_proxies", "imap_host",
                                                     "imap_port",       "smtp_host",
                                                     "smtp_port",       "share_dir",
                                                     "locale_dir",      "threads",
                                                     "max_connections", "max_connections_per_ip",
                                                     "timeout"};
  return keys;
}

Status ParseConfigText(std::string_view text, std::string_view origin, WebConfig* c,
                       std::set<std::string>* keys) {
  std::set<std::string> seen;
  int number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    const std::string where = std::string(origin) + ":" + std::to_string(number) + ": ";
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument(where + "a NUL byte");
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where + "expected \"key = value\"");
    }
    const std::string key(Trim(line.substr(0, eq)));
    const std::string_view value = Trim(line.substr(eq + 1));
    bool known = false;
    for (std::string_view k : ConfigKeys()) known = known || k == key;
    if (!known) {
      std::string shown = key.substr(0, 64);
      for (char& ch : shown) {
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
      }
      return Status::InvalidArgument(where + "unknown key \"" + shown + "\"");
    }
    if (!seen.insert(key).second) return Status::InvalidArgument(where + key + " set twice");
    const auto number_in = [&](int lo, int hi, int* out) {
      return ParseInt(value, lo, hi, out)
                 ? Status::Ok()
                 : Status::InvalidArgument(where + key + " must be a whole number " +
                                           std::to_string(lo) + ".." + std::to_string(hi));
    };
    Status st;
    if (key == "broker") c->broker = value;
    else if (key == "listen") c->listen = value;
    else if (key == "tls_cert") c->tls_cert = value;
    else if (key == "tls_key") c->tls_key = value;
    else if (key == "trusted_proxies") {
      c->trusted_proxies = Words(value);
      for (const std::string& w : c->trusted_proxies) {
        if (!ParseRange(w)) {
          return Status::InvalidArgument(where + "trusted_proxies: \"" + w.substr(0, 64) +
                                         "\" is not an IP address or CIDR range");
        }
      }
    } else if (key == "imap_host") c->imap_host = value;
    else if (key == "smtp_host") c->smtp_host = value;
    else if (key == "imap_port") st = number_in(1, 65535, &c->imap_port);
    else if (key == "smtp_port") st = number_in(1, 65535, &c->smtp_port);
    else if (key == "share_dir") c->share_dir = value;
    else if (key == "locale_dir") c->locale_dir = value;
    else if (key == "threads") st = number_in(1, 1024, &c->threads);
    else if (key == "max_connections") st = number_in(1, 65536, &c->max_connections);
    else if (key == "max_connections_per_ip") st = number_in(0, 65536, &c->max_connections_per_ip);
    else if (key == "timeout") st = number_in(1, 3600, &c->timeout);
    if (!st.ok()) return st;
    if (keys != nullptr) keys->insert(key);
  }
  return Status::Ok();
}

Status LoadConfigFile(const std::string& path, WebConfig* config, std::set<std::string>* keys) {
  Fd fd;
  struct stat st {};
  const Status opened = OpenChecked(path, FileRule{}, &fd, &st);
  if (!opened.ok()) return opened;
  if (st.st_size > static_cast<off_t>(kMaxConfigBytes)) {
    return Status::InvalidArgument(path + ": larger than 64 KiB");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(path + ": cannot read");
    got += static_cast<std::size_t>(n);
  }
  return ParseConfigText(text, path, config, keys);
}

Status CheckConfig(const WebConfig& c) {
  const std::optional<Endpoint> listen = ParseEndpoint(c.listen);
  if (!listen) {
    return Status::InvalidArgument("listen: \"" + c.listen.substr(0, 64) +
                                   "\" is not ADDR:PORT (e.g. 127.0.0.1:8088 or [::1]:8088)");
  }
  const bool tls = !c.tls_cert.empty() || !c.tls_key.empty();
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Status::InvalidArgument("TLS needs both tls_cert and tls_key (--tls-cert, --tls-key)");
  }
  if (c.insecure_http && (tls || !IsLoopback(listen->ip))) {
    return Status::InvalidArgument(
        "--insecure-http is for plain HTTP on a loopback address only (tests)");
  }
  if (!tls && !IsLoopback(listen->ip)) {
    return Status::InvalidArgument(
        "plain HTTP is served only on a loopback address (behind the TLS proxy): listen on "
        "127.0.0.1 or ::1, or set tls_cert and tls_key");
  }
  for (const std::string& p : c.trusted_proxies) {
    if (!ParseRange(p)) {
      return Status::InvalidArgument("trusted_proxies: \"" + p.substr(0, 64) +
                                     "\" is not an IP address or CIDR range");
    }
  }
  if (c.broker.empty() || c.broker.front() != '/') {
    return Status::InvalidArgument("broker must be the absolute path of apppassd's socket");
  }
  return Status::Ok();
}

}  // namespace apppass::web
