// The HTTP server of apppass-web on libmicrohttpd (docs/design.md "apppass-web's HTTP
// layer"). It owns everything about HTTP that the pages must not have to think about:
//   - limits: connections (total and per client address), the request line and headers
//     (count and bytes: 431), the body (413), form fields (400), methods (GET, HEAD,
//     POST; else 405), the body type of a POST (application/x-www-form-urlencoded; else
//     415), and time: a connection has `timeout` seconds to send each request in full
//     (counted from the connection or from the previous response), so a client that
//     sends one byte a second is cut off; an idle connection is closed after as long;
//   - the request: path and query decoded (http.h ParseForm), headers lower-cased, the
//     cookies, the form body, the client address (ClientAddress with trusted_proxies);
//   - the response: every one, the server's own errors included, carries the security
//     headers (CSP, nosniff, no-referrer, DENY, Cache-Control: no-store unless the
//     response is cacheable; HSTS with TLS); Set-Cookie lines get
//     `Path=/; HttpOnly; Secure; SameSite=Strict`; every body is wiped after sending;
//   - cookie names in insecure_http mode: see cookies.h; the handler always uses the
//     `__Host-` names.
// The handler runs on the connection's own thread (one thread per connection: handlers
// block on the broker, up to seconds for a sign-in), at most `threads` at once.
// Thread-safety: Start and Stop from one thread; the handler is called from many.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "address.h"
#include "http.h"
#include "secret.h"
#include "status.h"

namespace apppass::web {

struct ServerOptions {
  Endpoint listen;
  // PEM text of the certificate chain and of its key; both empty: plain HTTP.
  std::string tls_cert;
  SecretBuffer tls_key;  // NUL-terminated PEM; kept (locked, wiped at the end) while running
  unsigned threads = 8;  // handlers running at once
  unsigned max_connections = 256;            // open connections
  unsigned max_per_client = 0;               // open connections per peer address; 0: no limit
  unsigned timeout = 15;                     // seconds: see above
  std::vector<std::string> trusted_proxies;  // IPs/CIDRs (address.h ParseRange)
  bool insecure_http = false;                // cookies without Secure and __Host-
  HttpLimits limits;
};

// Answers one request. Should not throw; if it does, the client gets a 500 page.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

class Server {
 public:
  Server();
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens and starts serving. Unavailable with a message when the address cannot be
  // bound or TLS cannot start; InvalidArgument for options out of range.
  Status Start(ServerOptions options, Handler handler);
  // The port actually bound (useful with port 0); 0 before Start.
  std::uint16_t port() const;
  // Stops accepting, closes every connection, waits for the handlers to return.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The response headers every answer carries (for tests and docs): name, value.
std::vector<std::pair<std::string, std::string>> SecurityHeaders(bool tls);

}  // namespace apppass::web
