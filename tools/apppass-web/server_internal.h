// What the files of apppass-web's HTTP server share (server.h is the public side), one
// concern per file:
//   server.cc           the libmicrohttpd wiring: Start (the daemon's options, TLS) and
//                       Stop, and the access callback that hands each call to the request
//                       side; libmicrohttpd's own log lines
//   server_request.cc   the request: the limits on headers, method, target, body type and
//                       body (431, 405, 400, 413, 415), the HttpRequest built for the
//                       handler (path, query, headers, cookies, form, client address), the
//                       handler run (at most `threads` at once)
//   server_response.cc  every response: the security headers, Cache-Control, the cookies,
//                       the server's own error pages, the body wiped after sending
//   server_watchdog.cc  the connections and the time limit: a watchdog thread cuts the
//                       connections whose request has not arrived in full in time
// No exception leaves a libmicrohttpd callback: each catches everything and fails closed
// (MHD_NO: the connection is dropped).
// Private to those files. Thread-safety: Impl::mu guards the connections' deadline state;
// a Request and a Connection's raw_uri belong to the connection's own thread.
#pragma once

#include <microhttpd.h>

#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "http.h"
#include "server.h"
#include "text.h"

namespace apppass::web {

namespace internal {

using Clock = std::chrono::steady_clock;

// One TCP connection, from libmicrohttpd's NOTIFY_STARTED to NOTIFY_CLOSED.
struct Connection {
  int fd = -1;              // our dup of the socket: shutdown() through it never meets a
                            // descriptor number that libmicrohttpd closed and reused
  Clock::time_point since;  // when the current request could start arriving
  bool busy = false;        // the handler is running for it (the deadline waits)
  bool cut = false;         // the watchdog shut it down
  std::string raw_uri;      // the request target as sent (the URI log callback)
};

// One request, from the first access-handler call to NOTIFY_COMPLETED.
struct Request {
  HttpRequest req;
  std::string body;
  bool body_too_large = false;
  bool answered = false;  // an error was queued on the first call
  std::size_t header_count = 0;
  std::size_t header_bytes = 0;
  bool headers_ok = true;
  ~Request() { WipeString(body); }
};

// ASCII lower case (server_request.cc).
std::string Lower(std::string_view s);
// The server's own error pages: fixed text, nothing from the request (server_response.cc).
HttpResponse ErrorPage(int status);

}  // namespace internal

struct Server::Impl {
  ServerOptions opt;
  Handler handler;
  bool tls = false;
  MHD_Daemon* daemon = nullptr;
  std::uint16_t port = 0;
  std::unique_ptr<std::counting_semaphore<>> slots;

  std::mutex mu;  // guards conns, their since/busy/cut/fd, stopping
  std::condition_variable cv;
  bool stopping = false;
  std::unordered_set<internal::Connection*> conns;
  std::thread watchdog;

  // --- server.cc: libmicrohttpd callbacks ---
  // The access handler: its first call for a request goes to Begin, the pieces of the
  // body to AddBody, the last call to Finish.
  static MHD_Result OnAccess(void* cls, MHD_Connection* c, const char* url, const char* method,
                             const char* version, const char* upload_data,
                             std::size_t* upload_data_size, void** con_cls) noexcept;
  // libmicrohttpd's own messages (its format strings) into the log.
  static void OnLog(void* cls, const char* fmt, va_list ap) noexcept;

  // --- server_request.cc ---
  // First call for a request: headers, method, target, declared body. An error is
  // answered at once (libmicrohttpd then does not read the body).
  MHD_Result Begin(MHD_Connection* c, const char* method, internal::Request* rq);
  static MHD_Result HeaderIterator(void* cls, MHD_ValueKind kind, const char* key,
                                   const char* value) noexcept;
  // A piece of the body: kept up to the limit, past it discarded (a 413 at the end).
  MHD_Result AddBody(internal::Request* rq, const char* upload_data, std::size_t n);
  // Last call: the body is in; build the request and run the handler.
  MHD_Result Finish(MHD_Connection* c, internal::Request* rq);
  static std::string PeerAddress(MHD_Connection* c);
  static void OnCompleted(void* cls, MHD_Connection* c, void** con_cls,
                          MHD_RequestTerminationCode toe) noexcept;
  static void* OnUri(void* cls, const char* uri, MHD_Connection* c) noexcept;

  // --- server_response.cc ---
  // Every response goes through here: the security headers, the cookies, the body.
  MHD_Response* MakeResponse(HttpResponse& r);
  // Queues `r` through MakeResponse; the connection is no longer busy and the next
  // request's time starts now.
  MHD_Result Send(MHD_Connection* c, HttpResponse r);

  // --- server_watchdog.cc ---
  static internal::Connection* ConnOf(MHD_Connection* c);
  void SetBusy(internal::Connection* conn, bool busy);
  static void OnConnection(void* cls, MHD_Connection* c, void** socket_context,
                           MHD_ConnectionNotificationCode code) noexcept;
  // Cuts connections whose request has not arrived in full within the timeout.
  void Watch();
};

}  // namespace apppass::web
