// The HTTP server (server.h) on libmicrohttpd: one thread per connection, limits and
// deadlines, the request built for the handler, every response through MakeResponse.
// No exception leaves a libmicrohttpd callback: each catches everything and fails closed
// (MHD_NO: the connection is dropped).
#include "server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <optional>
#include <semaphore>
#include <thread>
#include <unordered_set>

#include "cookies.h"
#include "text.h"

namespace apppass::web {

namespace {

using Clock = std::chrono::steady_clock;

// libmicrohttpd's memory per connection: the request line and headers must fit, with
// room to spare, so that our own limits (HttpLimits, 431 with the security headers)
// speak first; only a header block several times larger meets libmicrohttpd's own 431.
constexpr std::size_t kConnectionMemory = 64 * 1024;
// TLS 1.2 and 1.3 only (GnuTLS priority string).
constexpr const char* kTlsPriorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
constexpr auto kWatchdogTick = std::chrono::milliseconds(250);

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

bool HasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const char* StatusText(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// The server's own error pages: fixed text, nothing from the request.
HttpResponse ErrorPage(int status) {
  HttpResponse r;
  r.status = status;
  const std::string title = std::to_string(status) + " " + StatusText(status);
  r.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
           "</title></head><body><h1>" + title + "</h1></body></html>\n";
  if (status == 405) r.headers.emplace_back("Allow", "GET, HEAD, POST");
  return r;
}

// The path of a request target: %HH decoded ('+' stays), starting with '/', no NUL,
// valid UTF-8. nullopt otherwise.
std::optional<std::string> DecodePath(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      const auto hex = [](char h) {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(raw[i + 1]);
      const int lo = hex(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  if (!IsValidUtf8(out)) return std::nullopt;
  return out;
}

// The body buffer handed to libmicrohttpd; wiped and freed when the response is done.
void FreeBody(void* cls) noexcept {
  auto* body = static_cast<std::string*>(cls);
  sodium_memzero(body->data(), body->capacity());
  delete body;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SecurityHeaders(bool tls) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Security-Policy",
       "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  if (tls) h.emplace_back("Strict-Transport-Security", "max-age=31536000");
  return h;
}

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
  std::unordered_set<Connection*> conns;
  std::thread watchdog;

  static Connection* ConnOf(MHD_Connection* c) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != nullptr ? static_cast<Connection*>(info->socket_context) : nullptr;
  }

  // Every response goes through here: the security headers, the cookies, the body.
  MHD_Response* MakeResponse(HttpResponse& r) {
    auto* body = new std::string(std::move(r.body));
    WipeString(r.body);
    MHD_Response* m = MHD_create_response_from_buffer_with_free_callback_cls(
        body->size(), body->data(), &FreeBody, body);
    if (m == nullptr) {
      FreeBody(body);
      return nullptr;
    }
    bool ok = true;
    const auto add = [&](const std::string& name, const std::string& value) {
      if (HasLineBreak(name) || HasLineBreak(value) ||
          MHD_add_response_header(m, name.c_str(), value.c_str()) != MHD_YES) {
        syslog(LOG_ERR, "response header %s refused", name.c_str());
        ok = false;
      }
    };
    for (const auto& [name, value] : SecurityHeaders(tls)) add(name, value);
    add("Content-Type", r.content_type);
    add("Cache-Control", r.cacheable ? "max-age=3600" : "no-store");
    for (const auto& [name, value] : r.headers) {
      const std::string lower = Lower(name);
      // The handler may not replace what the server owns.
      if (lower == "content-security-policy" || lower == "x-content-type-options" ||
          lower == "referrer-policy" || lower == "x-frame-options" || lower == "cache-control" ||
          lower == "content-type" || lower == "set-cookie" || lower == "content-length" ||
          lower == "strict-transport-security") {
        syslog(LOG_ERR, "handler header %s ignored", name.c_str());
        continue;
      }
      add(name, value);
    }
    for (const SetCookie& c : r.cookies) {
      const std::string line = FormatSetCookie(c, opt.insecure_http);
      if (line.empty()) {
        syslog(LOG_ERR, "cookie %s not sent: bad name or value", LogSafe(c.name).c_str());
        ok = false;
        continue;
      }
      add("Set-Cookie", line);
    }
    if (!ok) {
      // Fail closed: a page whose headers could not all be set is not sent.
      MHD_destroy_response(m);
      HttpResponse err = ErrorPage(500);
      auto* eb = new std::string(std::move(err.body));
      m = MHD_create_response_from_buffer_with_free_callback_cls(eb->size(), eb->data(), &FreeBody,
                                                                 eb);
      if (m == nullptr) {
        FreeBody(eb);
        return nullptr;
      }
      for (const auto& [name, value] : SecurityHeaders(tls)) {
        MHD_add_response_header(m, name.c_str(), value.c_str());
      }
      MHD_add_response_header(m, "Content-Type", "text/html; charset=utf-8");
      MHD_add_response_header(m, "Cache-Control", "no-store");
      r.status = 500;
    }
    return m;
  }

  MHD_Result Send(MHD_Connection* c, HttpResponse r) {
    MHD_Response* m = MakeResponse(r);
    if (m == nullptr) return MHD_NO;
    const MHD_Result res = MHD_queue_response(c, static_cast<unsigned>(r.status), m);
    MHD_destroy_response(m);
    return res;
  }

  // First call for a request: headers, method, target, declared body. An error is
  // answered at once (libmicrohttpd then does not read the body).
  MHD_Result Begin(MHD_Connection* c, const char* method, Request* rq) {
    const Connection* conn = ConnOf(c);
    const std::string raw = conn != nullptr ? conn->raw_uri : std::string();
    rq->header_bytes = raw.size() + std::strlen(method) + 12;  // "M URI HTTP/1.1\r\n"
    MHD_get_connection_values(c, MHD_HEADER_KIND, &HeaderIterator, rq);
    int error = 0;
    if (!rq->headers_ok || rq->header_count > opt.limits.max_headers ||
        rq->header_bytes > opt.limits.max_header_bytes) {
      error = 431;
    }
    const std::string_view m = method;
    if (error == 0 && m != "GET" && m != "HEAD" && m != "POST") error = 405;
    if (error == 0) {
      const std::size_t q = raw.find('?');
      std::optional<std::string> path = DecodePath(std::string_view(raw).substr(0, q));
      if (!path || (q != std::string::npos && !ParseForm(std::string_view(raw).substr(q + 1),
                                                         opt.limits.max_fields, &rq->req.query))) {
        error = 400;
      } else {
        rq->req.path = std::move(*path);
      }
    }
    if (error == 0) {
      if (const std::string* len = rq->req.Header("content-length")) {
        // libmicrohttpd has checked that it is a number.
        if (len->size() > 9 || std::strtoul(len->c_str(), nullptr, 10) > opt.limits.max_body) {
          error = 413;
        }
      }
    }
    if (error == 0 && m == "POST") {
      const std::string* type = rq->req.Header("content-type");
      std::string media = type != nullptr ? Lower(type->substr(0, type->find(';'))) : "";
      media.erase(media.find_last_not_of(" \t") + 1);
      if (media != "application/x-www-form-urlencoded") error = 415;
    }
    rq->req.method = method;
    if (error == 0) return MHD_YES;
    rq->answered = true;
    return Send(c, ErrorPage(error));
  }

  static MHD_Result HeaderIterator(void* cls, MHD_ValueKind, const char* key,
                                   const char* value) noexcept {
    auto* rq = static_cast<Request*>(cls);
    try {
      const std::string_view v = value != nullptr ? value : "";
      ++rq->header_count;
      rq->header_bytes += std::strlen(key) + v.size() + 4;
      const std::string name = Lower(key);
      auto [it, inserted] = rq->req.headers.emplace(name, v);
      // Repeated: the first value, except for lists that proxies split (the client's
      // hops must all be seen; HTTP/2 proxies split Cookie).
      if (!inserted && name == "x-forwarded-for") {
        it->second.append(", ").append(v);
      } else if (!inserted && name == "cookie") {
        it->second.append("; ").append(v);
      }
      return MHD_YES;
    } catch (...) {
      rq->headers_ok = false;
      return MHD_NO;
    }
  }

  // Last call: the body is in; build the request and run the handler.
  MHD_Result Finish(MHD_Connection* c, Request* rq) {
    if (rq->answered) return MHD_YES;
    if (rq->body_too_large) return Send(c, ErrorPage(413));
    HttpRequest& req = rq->req;
    if (req.method == "POST") {
      const bool parsed = ParseForm(rq->body, opt.limits.max_fields, &req.form);
      WipeString(rq->body);
      if (!parsed) return Send(c, ErrorPage(400));
    }
    WipeString(rq->body);
    if (const std::string* cookie = req.Header("cookie")) {
      req.cookies = RequestCookies(*cookie, opt.insecure_http);
    }
    req.client = ClientAddress(PeerAddress(c), req.Header("x-forwarded-for"), opt.trusted_proxies);

    Connection* conn = ConnOf(c);
    SetBusy(conn, true);
    HttpResponse resp;
    slots->acquire();
    try {
      resp = handler(req);
    } catch (...) {
      resp = ErrorPage(500);
    }
    slots->release();
    req.form.clear();  // the secret fields are wiped with their SecretBuffers
    SetBusy(conn, false);
    return Send(c, std::move(resp));
  }

  void SetBusy(Connection* conn, bool busy) {
    if (conn == nullptr) return;
    std::lock_guard<std::mutex> lock(mu);
    conn->busy = busy;
    conn->since = Clock::now();  // not busy: the response and the next request start now
  }

  static std::string PeerAddress(MHD_Connection* c) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == nullptr || info->client_addr == nullptr) return {};
    IpAddress ip;
    if (info->client_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(info->client_addr);
      std::memcpy(ip.bytes.data(), &in->sin_addr, 4);
    } else if (info->client_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(info->client_addr);
      ip.v6 = true;
      std::memcpy(ip.bytes.data(), &in6->sin6_addr, 16);
    } else {
      return {};
    }
    // Through ParseIp once more, so that a v4-mapped peer reads as IPv4.
    const std::optional<IpAddress> canonical = ParseIp(FormatIp(ip));
    return canonical ? FormatIp(*canonical) : FormatIp(ip);
  }

  // --- libmicrohttpd callbacks ---

  static MHD_Result OnAccess(void* cls, MHD_Connection* c, const char* /*url*/, const char* method,
                             const char* /*version*/, const char* upload_data,
                             std::size_t* upload_data_size, void** con_cls) noexcept {
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
        if (rq->answered || rq->body_too_large) return MHD_YES;  // discarded
        if (rq->body.size() + n > self->opt.limits.max_body) {
          rq->body_too_large = true;
          WipeString(rq->body);
          return MHD_YES;
        }
        if (rq->body.capacity() < self->opt.limits.max_body) {
          // Once, to the limit: growth would leave unwiped copies of the body behind.
          std::string grown;
          grown.reserve(self->opt.limits.max_body);
          grown.append(rq->body);
          WipeString(rq->body);
          rq->body.swap(grown);
        }
        rq->body.append(upload_data, n);
        return MHD_YES;
      }
      return self->Finish(c, rq);
    } catch (...) {
      return MHD_NO;
    }
  }

  static void OnCompleted(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
                          MHD_RequestTerminationCode /*toe*/) noexcept {
    delete static_cast<Request*>(*con_cls);
    *con_cls = nullptr;
  }

  static void* OnUri(void* /*cls*/, const char* uri, MHD_Connection* c) noexcept {
    if (Connection* conn = ConnOf(c)) {
      try {
        conn->raw_uri = uri != nullptr ? uri : "";
      } catch (...) {
        conn->raw_uri.clear();  // an empty target is a 400
      }
    }
    return nullptr;
  }

  static void OnConnection(void* cls, MHD_Connection* c, void** socket_context,
                           MHD_ConnectionNotificationCode code) noexcept {
    auto* self = static_cast<Impl*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* conn = new (std::nothrow) Connection;
      if (conn == nullptr) return;  // no deadline for it; libmicrohttpd's idle timeout stays
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      conn->fd = info != nullptr ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
      conn->since = Clock::now();
      try {
        std::lock_guard<std::mutex> lock(self->mu);
        self->conns.insert(conn);
      } catch (...) {
        if (conn->fd >= 0) close(conn->fd);
        delete conn;
        return;
      }
      *socket_context = conn;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
      auto* conn = static_cast<Connection*>(*socket_context);
      if (conn == nullptr) return;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        self->conns.erase(conn);
      }
      if (conn->fd >= 0) close(conn->fd);
      delete conn;
      *socket_context = nullptr;
    }
  }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  // libmicrohttpd's own messages (its format strings) into the log.
  static void OnLog(void* /*cls*/, const char* fmt, va_list ap) noexcept {
    char line[512];
    std::vsnprintf(line, sizeof line, fmt, ap);
    line[std::strcspn(line, "\n")] = '\0';
    syslog(LOG_WARNING, "libmicrohttpd: %s", line);
  }
#pragma GCC diagnostic pop

  // Cuts connections whose request has not arrived in full within the timeout.
  void Watch() {
    const auto limit = std::chrono::seconds(opt.timeout);
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      cv.wait_for(lock, kWatchdogTick);
      const Clock::time_point now = Clock::now();
      for (Connection* conn : conns) {
        if (conn->busy || conn->cut || conn->fd < 0 || now - conn->since < limit) continue;
        shutdown(conn->fd, SHUT_RDWR);  // libmicrohttpd sees the end and closes it
        conn->cut = true;
      }
    }
  }
};

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
