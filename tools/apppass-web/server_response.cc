// apppass-web's responses (server_internal.h): every one, the server's own error pages
// included, goes through Server::Impl::MakeResponse, which adds the security headers,
// Cache-Control and the cookies, and keeps the handler from replacing what the server
// owns. A response whose headers cannot all be set is replaced by a 500 (fail closed).
// Bodies go to libmicrohttpd without a copy and are wiped when it frees them, secret
// pages included.
#include <sodium.h>
#include <syslog.h>

#include <string>

#include "cookies.h"
#include "server_internal.h"

namespace apppass::web {

using internal::ErrorPage;
using internal::Lower;

namespace {

bool HasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
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

// The body buffer handed to libmicrohttpd; wiped and freed when the response is done.
void FreeBody(void* cls) noexcept {
  auto* body = static_cast<std::string*>(cls);
  sodium_memzero(body->data(), body->capacity());
  delete body;
}

}  // namespace

namespace internal {

HttpResponse ErrorPage(int status) {
  HttpResponse r;
  r.status = status;
  const std::string title = std::to_string(status) + " " + StatusText(status);
  r.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
           "</title></head><body><h1>" + title + "</h1></body></html>\n";
  if (status == 405) r.headers.emplace_back("Allow", "GET, HEAD, POST");
  return r;
}

}  // namespace internal

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

MHD_Response* Server::Impl::MakeResponse(HttpResponse& r) {
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

MHD_Result Server::Impl::Send(MHD_Connection* c, HttpResponse r) {
  // Whatever the answer, the next request on the connection has its full time from now:
  // a 400 or 413 found in the body keeps the connection open (server_watchdog.cc).
  SetBusy(ConnOf(c), false);
  MHD_Response* m = MakeResponse(r);
  if (m == nullptr) return MHD_NO;
  const MHD_Result res = MHD_queue_response(c, static_cast<unsigned>(r.status), m);
  MHD_destroy_response(m);
  return res;
}

}  // namespace apppass::web
