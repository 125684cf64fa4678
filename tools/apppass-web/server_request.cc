// apppass-web's requests (server_internal.h): what libmicrohttpd hands over becomes the
// HttpRequest the handler sees, or one of the server's own refusals. The limits are
// checked here in the order a request arrives: the request line and headers (431), the
// method (405), the path and query (400), the declared body size (413) and a POST's body
// type (415), all on the first call, before libmicrohttpd reads a body; then the body as
// it comes (413 past the limit) and its form (400). The body is wiped as soon as it is
// parsed; the handler runs with the connection marked busy (its deadline waits) and at
// most `threads` handlers at once.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "cookies.h"
#include "server_internal.h"

namespace apppass::web {

using internal::Connection;
using internal::ErrorPage;
using internal::Lower;
using internal::Request;

namespace {

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

}  // namespace

namespace internal {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace internal

MHD_Result Server::Impl::Begin(MHD_Connection* c, const char* method, Request* rq) {
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

MHD_Result Server::Impl::HeaderIterator(void* cls, MHD_ValueKind, const char* key,
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

MHD_Result Server::Impl::Finish(MHD_Connection* c, Request* rq) {
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
  SetBusy(conn, true);  // until Send
  HttpResponse resp;
  slots->acquire();
  try {
    resp = handler(req);
  } catch (...) {
    resp = ErrorPage(500);
  }
  slots->release();
  req.form.clear();  // the secret fields are wiped with their SecretBuffers
  return Send(c, std::move(resp));
}

MHD_Result Server::Impl::AddBody(Request* rq, const char* upload_data, std::size_t n) {
  if (rq->answered || rq->body_too_large) return MHD_YES;  // discarded
  if (rq->body.size() + n > opt.limits.max_body) {
    rq->body_too_large = true;
    WipeString(rq->body);
    return MHD_YES;
  }
  if (rq->body.capacity() < opt.limits.max_body) {
    // Once, to the limit: growth would leave unwiped copies of the body behind.
    std::string grown;
    grown.reserve(opt.limits.max_body);
    grown.append(rq->body);
    WipeString(rq->body);
    rq->body.swap(grown);
  }
  rq->body.append(upload_data, n);
  return MHD_YES;
}

std::string Server::Impl::PeerAddress(MHD_Connection* c) {
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

void Server::Impl::OnCompleted(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
                               MHD_RequestTerminationCode /*toe*/) noexcept {
  delete static_cast<Request*>(*con_cls);
  *con_cls = nullptr;
}

void* Server::Impl::OnUri(void* /*cls*/, const char* uri, MHD_Connection* c) noexcept {
  if (Connection* conn = ConnOf(c)) {
    try {
      conn->raw_uri = uri != nullptr ? uri : "";
    } catch (...) {
      conn->raw_uri.clear();  // an empty target is a 400
    }
  }
  return nullptr;
}

}  // namespace apppass::web
