// apppass-web: the self-service page (issue 13). Wires the pieces: the settings (config.h:
// the file, then the command line), the log, the TLS files, the CSRF key (csrf.h), the
// pages (portal.h) and the HTTP server (server.h); then waits for SIGTERM or SIGINT,
// stops the server (handlers in flight finish) and exits 0.
// Never runs as root: it holds no privilege; everything goes through apppassd.
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "address.h"
#include "config.h"
#include "csrf.h"
#include "files.h"
#include "portal.h"
#include "server.h"

namespace {

using namespace apppass;
using namespace apppass::web;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr std::size_t kMaxPemBytes = 64 * 1024;

// Reads a PEM file checked like the store's files (files.h): no symlink, owner root or
// us, no write by others; the key also unreadable by everyone. The key goes into locked
// memory, NUL-terminated for libmicrohttpd; `text` gets the certificate.
Status ReadPem(const std::string& path, bool secret, std::string* text, SecretBuffer* key) {
  FileRule rule;
  rule.allow_world_read = !secret;
  Fd fd;
  struct stat st {};
  Status s = OpenChecked(path, rule, &fd, &st);
  if (s.IsNotFound()) return Status::Unavailable(path + ": no such file");
  if (!s.ok()) return s;
  if (st.st_size <= 0 || st.st_size > static_cast<off_t>(kMaxPemBytes)) {
    return Status::Unavailable(path + ": empty or larger than 64 KiB");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (secret) {
    SecretBuffer buf(size + 1);
    if (!buf.valid()) return Status::Unavailable("cannot allocate locked memory for the key");
    s = ReadExact(fd.get(), buf.data(), size, path);
    if (!s.ok()) return s;
    buf.resize(size + 1);  // the last byte stays 0
    *key = std::move(buf);
    return Status::Ok();
  }
  text->assign(size, '\0');
  return ReadExact(fd.get(), reinterpret_cast<unsigned char*>(text->data()), size, path);
}

// More descriptors for many connections: each holds its socket and the server's dup of it,
// and a request in flight a connection to the broker.
void RaiseFileLimit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int Run(const WebConfig& c) {
  // The log: syslog (LOG_DAEMON), and stderr too unless stderr is already the journal.
  openlog("apppass-web", LOG_PID | (std::getenv("JOURNAL_STREAM") != nullptr ? 0 : LOG_PERROR),
          LOG_DAEMON);
  RaiseFileLimit();

  ServerOptions so;
  so.listen = *ParseEndpoint(c.listen);  // CheckConfig passed
  if (!c.tls_cert.empty()) {
    Status s = ReadPem(c.tls_cert, false, &so.tls_cert, nullptr);
    if (s.ok()) s = ReadPem(c.tls_key, true, nullptr, &so.tls_key);
    if (!s.ok()) {
      syslog(LOG_ERR, "%s", s.message().c_str());
      return kExitError;
    }
  }
  so.threads = static_cast<unsigned>(c.threads);
  so.max_connections = static_cast<unsigned>(c.max_connections);
  so.max_per_client = static_cast<unsigned>(c.max_connections_per_ip);
  so.timeout = static_cast<unsigned>(c.timeout);
  so.trusted_proxies = c.trusted_proxies;
  so.insecure_http = c.insecure_http;

  if (Status s = InitCsrf(); !s.ok()) {
    syslog(LOG_ERR, "%s", s.message().c_str());
    return kExitError;
  }
  PortalConfig pc;
  pc.broker_socket = c.broker;
  pc.share_dir = c.share_dir;
  pc.locale_dir = c.locale_dir;
  pc.imap_host = c.imap_host;
  pc.smtp_host = c.smtp_host;
  pc.imap_port = c.imap_port;
  pc.smtp_port = c.smtp_port;
  pc.insecure_http = c.insecure_http;
  Portal portal(pc);
  if (Status s = portal.Init(); !s.ok()) {
    syslog(LOG_ERR, "%s", s.message().c_str());
    return kExitError;
  }

  // SIGTERM and SIGINT are taken by sigwait below; every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const bool tls = !so.tls_cert.empty();
  Server server;
  const Status started =
      server.Start(std::move(so), [&portal](const HttpRequest& req) { return portal.Handle(req); });
  if (!started.ok()) {
    syslog(LOG_ERR, "%s", started.message().c_str());
    return kExitError;
  }
  const Endpoint at = *ParseEndpoint(c.listen);
  const std::string host = at.ip.v6 ? "[" + FormatIp(at.ip) + "]" : FormatIp(at.ip);
  syslog(LOG_INFO, "listening on %s:%u (%s%s), broker %s", host.c_str(), server.port(),
         tls ? "https" : "http", c.insecure_http ? ", insecure cookies for tests" : "",
         c.broker.c_str());

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  syslog(LOG_INFO, "stopping (signal %d)", sig);
  server.Stop();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "apppass-web: the apppass self-service page. Users sign in with their account and\n"
      "password and a verification code, set up MFA, and create and revoke their own app\n"
      "passwords; everything goes through apppassd (the broker). Options override the\n"
      "configuration file. See apppass-web(8).",
      "apppass-web"};
  std::string config_file, broker, listen, tls_cert, tls_key;
  bool insecure_http = false;
  app.add_option("--config", config_file,
                 "Configuration file (key = value lines; the unit passes /etc/apppass/web.conf)");
  CLI::Option* o_broker =
      app.add_option("--broker", broker, "apppassd's socket (default /run/apppass/apppassd.sock)");
  CLI::Option* o_listen = app.add_option(
      "--listen", listen,
      "ADDR:PORT or [ADDR6]:PORT (default 127.0.0.1:8088); plain HTTP only on loopback");
  CLI::Option* o_cert =
      app.add_option("--tls-cert", tls_cert, "Serve HTTPS: certificate chain (PEM)");
  CLI::Option* o_key = app.add_option("--tls-key", tls_key, "Serve HTTPS: its private key (PEM)");
  app.add_flag("--insecure-http", insecure_http,
               "Tests on loopback only: cookies without Secure and without the __Host- prefix");
  app.set_version_flag("--version", std::string("apppass-web ") + APPPASS_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (geteuid() == 0) {
    std::fprintf(stderr,
                 "apppass-web: refusing to run as root: it needs no privilege (apppassd "
                 "decides everything); run it as its own user (the package's unit uses "
                 "apppass-web)\n");
    return kExitUsage;
  }

  WebConfig c;
  if (!config_file.empty()) {
    const Status s = LoadConfigFile(config_file, &c, nullptr);
    if (!s.ok()) {
      std::fprintf(stderr, "apppass-web: %s\n",
                   s.IsNotFound() ? (config_file + ": no such file").c_str() : s.message().c_str());
      return kExitUsage;
    }
  }
  // The command line wins over the file.
  if (o_broker->count() > 0) c.broker = broker;
  if (o_listen->count() > 0) c.listen = listen;
  if (o_cert->count() > 0) c.tls_cert = tls_cert;
  if (o_key->count() > 0) c.tls_key = tls_key;
  c.insecure_http = insecure_http;
  if (const Status s = CheckConfig(c); !s.ok()) {
    std::fprintf(stderr, "apppass-web: %s\n", s.message().c_str());
    return kExitUsage;
  }
  try {
    return Run(c);
  } catch (const std::exception& e) {
    syslog(LOG_ERR, "fatal: %s", e.what());
    return kExitError;
  }
}
