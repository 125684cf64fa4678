// The HTTP server (server.h) on libmicrohttpd: the wiring. Start checks the options and
// starts the daemon (one thread per connection, the connection limits, TLS), Stop ends
// it; OnAccess hands each call of libmicrohttpd's to the request side. What each piece
// does is in its own file (server_internal.h): the request and its limits in
// server_request.cc, the responses in server_response.cc, the time limit in
// server_watchdog.cc.
// No exception leaves a libmicrohttpd callback: each catches everything and fails closed
// (MHD_NO: the connection is dropped).
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <syslog.h>

#include <cstdio>
#include <cstring>

#include "server_internal.h"

namespace apppass::web {

using internal::Request;

namespace {

// libmicrohttpd's memory per connection: the request line and headers must fit, with
// room to spare, so that our own limits (HttpLimits, 431 with the security headers)
// speak first; only a header block several times larger meets libmicrohttpd's own 431.
constexpr std::size_t kConnectionMemory = 64 * 1024;
// TLS 1.2 and 1.3 only (GnuTLS priority string).
constexpr const char* kTlsPriorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

}  // namespace

MHD_Result Server::Impl::OnAccess(void* cls, MHD_Connection* c, const char* /*url*/,
                                  const char* method, const char* /*version*/,
                                  const char* upload_data, std::size_t* upload_data_size,
                                  void** con_cls) noexcept {
  auto* self = static_cast<Impl*>(cls);
  try {
    auto* rq = static_cast<Request*>(*con_cls);
    if (rq == nullptr) {
      rq = new Request;
      *con_cls = rq;
      return self->Begin(c, method, rq);
    }
    if (*upload_data_size > 0) {
      const std::size_t n = *upload_data_size;
      *upload_data_size = 0;
      return self->AddBody(rq, upload_data, n);
    }
    return self->Finish(c, rq);
  } catch (...) {
    return MHD_NO;
  }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
// libmicrohttpd's own messages (its format strings) into the log.
void Server::Impl::OnLog(void* /*cls*/, const char* fmt, va_list ap) noexcept {
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, ap);
  line[std::strcspn(line, "\n")] = '\0';
  syslog(LOG_WARNING, "libmicrohttpd: %s", line);
}
#pragma GCC diagnostic pop

Server::Server() : impl_(std::make_unique<Impl>()) {}

Server::~Server() { Stop(); }

std::uint16_t Server::port() const { return impl_->port; }

Status Server::Start(ServerOptions options, Handler handler) {
  Impl& s = *impl_;
  if (s.daemon != nullptr) return Status::InvalidArgument("server already started");
  if (options.tls_cert.empty() != !options.tls_key.valid()) {
    return Status::InvalidArgument("TLS needs both a certificate and a key");
  }
  if (options.threads < 1 || options.threads > 1024) {
    return Status::InvalidArgument("threads must be 1..1024");
  }
  if (options.max_connections < 1 || options.max_connections > 65536) {
    return Status::InvalidArgument("max_connections must be 1..65536");
  }
  if (options.timeout < 1 || options.timeout > 3600) {
    return Status::InvalidArgument("timeout must be 1..3600 seconds");
  }
  if (sodium_init() < 0) return Status::Unavailable("libsodium cannot start");
  s.opt = std::move(options);
  s.handler = std::move(handler);
  s.tls = !s.opt.tls_cert.empty();
  s.slots = std::make_unique<std::counting_semaphore<>>(s.opt.threads);

  sockaddr_in in4{};
  sockaddr_in6 in6{};
  sockaddr* addr = nullptr;
  const bool v6 = s.opt.listen.ip.v6;
  if (v6) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(s.opt.listen.port);
    std::memcpy(&in6.sin6_addr, s.opt.listen.ip.bytes.data(), 16);
    addr = reinterpret_cast<sockaddr*>(&in6);
  } else {
    in4.sin_family = AF_INET;
    in4.sin_port = htons(s.opt.listen.port);
    std::memcpy(&in4.sin_addr, s.opt.listen.ip.bytes.data(), 4);
    addr = reinterpret_cast<sockaddr*>(&in4);
  }

  // TLS options only with TLS (MHD_OPTION_ARRAY: an empty array is just the end).
  MHD_OptionItem tls_options[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(s.opt.tls_cert.c_str())},
      {MHD_OPTION_HTTPS_MEM_KEY, 0,
       s.tls ? reinterpret_cast<char*>(s.opt.tls_key.data()) : nullptr},
      {MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)},
      {MHD_OPTION_END, 0, nullptr},
  };
  MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, nullptr}};

  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                   MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  if (s.tls) flags |= MHD_USE_TLS;
  s.daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::OnAccess, &s,           //
                              MHD_OPTION_EXTERNAL_LOGGER, &Impl::OnLog, &s,              //
                              MHD_OPTION_SOCK_ADDR, addr,                                //
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,                    //
                              MHD_OPTION_CONNECTION_LIMIT, s.opt.max_connections,        //
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, s.opt.max_per_client,  //
                              MHD_OPTION_CONNECTION_TIMEOUT, s.opt.timeout,              //
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory,     //
                              MHD_OPTION_STRICT_FOR_CLIENT, 1,                           //
                              MHD_OPTION_NOTIFY_COMPLETED, &Impl::OnCompleted, &s,       //
                              MHD_OPTION_NOTIFY_CONNECTION, &Impl::OnConnection, &s,     //
                              MHD_OPTION_URI_LOG_CALLBACK, &Impl::OnUri, &s,             //
                              MHD_OPTION_ARRAY, s.tls ? tls_options : no_options,        //
                              MHD_OPTION_END);
  if (s.daemon == nullptr) {
    return Status::Unavailable(
        "cannot listen on " +
        (v6 ? "[" + FormatIp(s.opt.listen.ip) + "]" : FormatIp(s.opt.listen.ip)) + ":" +
        std::to_string(s.opt.listen.port) +
        (s.tls ? " (or TLS cannot start with this certificate and key)" : ""));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
  s.port = info != nullptr ? info->port : s.opt.listen.port;
  s.stopping = false;
  s.watchdog = std::thread([&s] { s.Watch(); });
  return Status::Ok();
}

void Server::Stop() {
  Impl& s = *impl_;
  if (s.watchdog.joinable()) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.stopping = true;
    }
    s.cv.notify_all();
    s.watchdog.join();
  }
  if (s.daemon != nullptr) {
    MHD_stop_daemon(s.daemon);
    s.daemon = nullptr;
  }
  s.opt.tls_key = SecretBuffer();  // wiped
  s.port = 0;
}

}  // namespace apppass::web
