// apppass-web's settings: the configuration file (/etc/apppass/web.conf, `key = value`
// lines, `#` comment lines) and the command line on top of it (main.cc), then one check
// of the whole (CheckConfig). Pure but for LoadConfigFile; thread-compatible values.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace apppass::web {

struct WebConfig {
  std::string broker = "/run/apppass/apppassd.sock";
  std::string listen = "127.0.0.1:8088";
  std::string tls_cert, tls_key;             // files; both or neither
  std::vector<std::string> trusted_proxies;  // IPs / CIDRs; default none
  std::string imap_host, smtp_host;          // shown on the created page; empty: not shown
  int imap_port = 993;
  int smtp_port = 587;
  std::string share_dir = "/usr/share/apppass-web";
  std::string locale_dir = "/usr/share/locale";
  int threads = 8;                 // requests handled at once (server.h)
  int max_connections = 256;       // open connections
  int max_connections_per_ip = 0;  // per peer address (the proxy, behind one); 0: no limit
  int timeout = 15;                // seconds (server.h)
  bool insecure_http = false;      // command line only (--insecure-http)
};

// The keys a file may set, in the order of the documentation.
const std::vector<std::string_view>& ConfigKeys();

// Applies the text of a configuration file to `config`. `origin` names it in messages
// ("/etc/apppass/web.conf:7: unknown key \"listn\""). Each key at most once; numbers in
// decimal within their range (threads 1..1024, max_connections 1..65536,
// max_connections_per_ip 0..65536, timeout 1..3600 s, ports 1..65535). A '#' starts a
// comment only at the start of a line. The keys set are added to `*keys` (may be null).
// InvalidArgument naming the line on the first error; `config` may then be half-applied.
Status ParseConfigText(std::string_view text, std::string_view origin, WebConfig* config,
                       std::set<std::string>* keys);

// Reads `path` (a regular file, not a symlink, owned by root or us, not writable by others;
// at most 64 KiB) and applies it. NotFound when it does not exist.
Status LoadConfigFile(const std::string& path, WebConfig* config, std::set<std::string>* keys);

// The rules on the whole: listen parses (ADDR:PORT, [v6]:PORT); tls_cert and tls_key both
// or neither; plain HTTP only on a loopback address; insecure_http only on loopback and
// without TLS; trusted_proxies parse; broker is an absolute path. InvalidArgument saying
// what to change.
Status CheckConfig(const WebConfig& config);

}  // namespace apppass::web
