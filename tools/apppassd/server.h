// Server: apppassd's connections. A fixed pool of worker threads each waits for a
// connection on the listening socket and serves it to the end, so at most `workers`
// connections are served at once and the kernel's backlog (SOMAXCONN) queues the rest.
//
// One connection, in order:
//   - the caller is read from the kernel once (caller.h); a uid other than root, and not
//     in the verifiers' group, with `max_per_uid` connections already being served gets
//     FAIL 0 unavailable and is closed (verifiers are exempt: a burst of logins through a
//     mail service's many processes, all one uid, must not become temporary failures;
//     the web portal's uid is exempt too: it has its own limits on connections);
//   - the daemon sends its VERSION line; the client's first line must be a VERSION of
//     the same major (else FAIL 0 version, or FAIL 0 invalid, and close);
//   - then requests, one at a time, each answered in full (handlers.h) before the next is
//     read; a malformed or unknown request gets its FAIL and the connection goes on; a
//     line over the limit gets FAIL 0 too_long and the connection is closed.
// Every line must arrive, and every answer be taken, within `timeout` (from the moment
// the daemon starts waiting for it): a slow, stalled or idle client is dropped at the
// deadline and frees its worker. Bytes read are wiped as soon as they are framed (they may
// hold a password); each worker reuses one locked line buffer. SIGPIPE is never raised
// (MSG_NOSIGNAL).
//
// Stop (from another thread): the workers stop accepting, finish the request each is
// answering, close their connections, and Wait returns. Thread-safe as stated.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <optional>

#include "files.h"
#include "handlers.h"
#include "status.h"

namespace apppass::daemon {

struct ServerLimits {
  int workers = 16;
  int max_per_uid = 8;              // live connections per uid (root and verifiers are exempt)
  std::optional<gid_t> verify_gid;  // the verifiers' group (--group), when it exists
  std::optional<uid_t> portal_uid;  // the web portal's uid (--portal-user): exempt too
  std::chrono::milliseconds timeout{5000};
};

// How many connections each uid has being served (the per-uid cap). Thread-safe.
class UidSlots {
 public:
  // Takes a slot for `uid` unless it holds `max` already (root: always).
  bool Take(uid_t uid, int max);
  void Give(uid_t uid);

 private:
  std::mutex mu_;
  std::unordered_map<uid_t, int> live_;
};

class Server {
 public:
  Server(int listen_fd, const ServerLimits& limits, Handlers& handlers)
      : listen_fd_(listen_fd), limits_(limits), handlers_(handlers) {}
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts the workers. Unavailable when the stop event or a thread cannot be made.
  Status Start();
  // Asks the workers to finish (async-signal-safe: one write to an eventfd).
  void Stop() noexcept;
  // Waits until every worker has finished.
  void Wait();

 private:
  void Work() noexcept;

  const int listen_fd_;
  const ServerLimits limits_;
  Handlers& handlers_;
  UidSlots slots_;
  Fd stop_;  // eventfd, readable once Stop was called
  std::vector<std::thread> workers_;
};

}  // namespace apppass::daemon
