// apppassd: the root broker that owns the apppass store (issue 11). Group `apppass`
// members verify through it; users list, create and revoke their own app passwords
// through it. Wires the pieces together: options, the log, the listening socket
// (listener.h), the store (store_holder.h), the request table (handlers.h) and the
// workers (server.h); then waits for SIGTERM or SIGINT, lets the workers finish the
// requests in flight, and exits 0.
#include <sodium.h>
#include <syslog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "audit.h"
#include "broker_client.h"
#include "handlers.h"
#include "hooks.h"
#include "listener.h"
#include "server.h"
#include "store.h"
#include "store_holder.h"
#include "text.h"

namespace {

using namespace apppass::daemon;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string db = apppass::kDefaultStoreDir;
  std::string socket = apppass::broker::kDefaultSocket;
  std::string group = "apppass";
  int workers = 16;
  int max_per_uid = 8;
  int timeout = 5;
  std::string issuer;
  std::string hooks_dir = apppass::kDefaultHooksDir;
  std::string portal_user = "apppass-web";
  std::string portal_service = "apppass-web";
};

std::string DefaultIssuer() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "apppass";
  return std::string("apppass@") + host;
}

int Run(const Options& o) {
  // The log: syslog always, stderr too unless systemd started us (it keeps stderr).
  Listener listener;
  const apppass::Status opened = listener.Open(o.socket);
  openlog("apppassd", LOG_PID | (listener.activated() ? 0 : LOG_PERROR), LOG_AUTHPRIV);
  if (!opened.ok()) {
    Log(LOG_ERR, fmt::format("cannot listen: {}", opened.message()));
    return opened.code() == apppass::Status::Code::kInvalidArgument ? kExitUsage : kExitError;
  }

  // SIGTERM and SIGINT are taken by sigwait below; every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // a full disk is an error from write, not a dead daemon
  // The hooks' runner waits for its own children: SIGCHLD must not be ignored, and set
  // here, before the workers, so that it never changes while they run (hooks.h).
  std::signal(SIGCHLD, SIG_DFL);

  HandlerConfig config{.group = o.group,
                       .verify_gid = GroupId(o.group),
                       .issuer = o.issuer,
                       .hooks_dir = o.hooks_dir,
                       .portal_uid = UserId(o.portal_user),
                       .portal_user = o.portal_user,
                       .portal_service = o.portal_service};
  if (config.issuer.empty()) config.issuer = DefaultIssuer();
  if (config.portal_uid && *config.portal_uid == 0) {
    Log(LOG_ERR, "--portal-user must not be root: the portal runs unprivileged");
    return kExitUsage;
  }
  if (!config.portal_uid)
    Log(LOG_INFO, fmt::format("user {} does not exist: no web portal (its requests are refused)",
                              apppass::LogSafe(o.portal_user)));
  if (!config.verify_gid)
    Log(LOG_WARNING,
        fmt::format("group {} does not exist: only root may verify", apppass::LogSafe(o.group)));
  StoreHolder store(o.db);
  Handlers handlers(store, config);
  Server server(listener.fd(),
                {.workers = o.workers,
                 .max_per_uid = o.max_per_uid,
                 .verify_gid = config.verify_gid,
                 .portal_uid = config.portal_uid,
                 .timeout = std::chrono::seconds(o.timeout)},
                handlers);
  const apppass::Status started = server.Start();
  if (!started.ok()) {
    Log(LOG_ERR, started.message());
    return kExitError;
  }
  Log(LOG_INFO,
      fmt::format("listening on {} (store {}, {} workers, {} connections per uid, {} s per line, "
                  "group {} may verify, hooks {}, portal user {} PAM service {})",
                  listener.where(), o.db, o.workers, o.max_per_uid, o.timeout,
                  apppass::LogSafe(o.group), apppass::LogSafe(o.hooks_dir),
                  apppass::LogSafe(o.portal_user), apppass::LogSafe(o.portal_service)));
  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  Log(LOG_INFO, fmt::format("signal {}: finishing the requests in flight", sig));
  server.Stop();
  server.Wait();
  Log(LOG_INFO, "stopped");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "apppassd: the apppass broker. Owns the app password store (root only) and answers\n"
      "on a UNIX socket: members of --group (and root) verify app passwords; every user\n"
      "lists, creates and revokes their own (a TOTP code per change); root sets the\n"
      "policy. Callers are known by the kernel (SO_PEERCRED), never by what they send.\n"
      "Started by systemd (apppassd.socket) or in the foreground (logs to stderr too).\n"
      "Stops on SIGTERM or SIGINT after the requests in flight. Runs as root only.",
      "apppassd"};
  app.option_defaults()->always_capture_default();
  app.add_option("--db", o.db, "Store directory")->capture_default_str();
  app.add_option("--socket", o.socket, "UNIX socket to listen on (ignored when systemd passes one)")
      ->capture_default_str();
  app.add_option("--group", o.group, "Group whose members may verify")->capture_default_str();
  app.add_option("--workers", o.workers, "Connections served at once (the rest wait)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-per-uid", o.max_per_uid,
                 "Connections served at once for one uid other than root and the --group members")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--timeout", o.timeout,
                 "Seconds a client has to send each line and take each answer")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--issuer", o.issuer,
                 "Issuer shown in authenticator apps for self-enrollment (default "
                 "apppass@HOSTNAME)");
  app.add_option("--hooks-dir", o.hooks_dir,
                 "Programs run after a REVOKE, as after `apppass revoke`, e.g. to flush "
                 "Dovecot's auth cache (a missing directory means none)")
      ->capture_default_str()
      ->check(
          [](const std::string& v) { return std::string(v.empty() ? "must not be empty" : ""); });
  app.add_option("--portal-user", o.portal_user,
                 "The web portal's user (apppass-web(8)): only its uid may sign users in, and "
                 "it acts for a user only with that user's session (no such user: no portal)")
      ->capture_default_str();
  app.add_option("--portal-pam-service", o.portal_service,
                 "The PAM service that checks a user's password when they sign in to the portal")
      ->capture_default_str();
  app.set_version_flag("--version", std::string("apppassd ") + APPPASS_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "apppassd: must run as root (the store is readable by root only)\n");
    return kExitError;
  }
  if (sodium_init() < 0) {
    std::fprintf(stderr, "apppassd: libsodium failed to initialize\n");
    return kExitError;
  }
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "apppassd: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "apppassd: internal error\n");
  }
  return kExitError;
}
