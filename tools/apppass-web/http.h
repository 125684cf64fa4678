// The portal's view of HTTP: one parsed request in, one response out. The server
// (server.h, libmicrohttpd) fills an HttpRequest, bounded by HttpLimits, and sends what
// Portal::Handle (portal.h) returns, adding the security headers every response carries.
// The parsing helpers here are pure functions over bytes (fuzzed: tests/fuzz).
// Thread-safety: the types are values; the functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "secret.h"

namespace apppass::web {

// What a request may be; over any of these the server answers 413/431/400 itself.
struct HttpLimits {
  std::size_t max_headers = 64;         // header lines
  std::size_t max_header_bytes = 8192;  // all of them together (and the request line)
  std::size_t max_body = 16384;         // a form body
  std::size_t max_fields = 64;          // form fields and query parameters, each
};

// A form field or query parameter. Values of the fields a portal treats as secret
// (password, code) are kept only in `secret` (IsSecretField), never in `value`.
struct FormField {
  std::string name;
  std::string value;
  SecretBuffer secret;
  bool is_secret = false;
};

// True for the form fields whose values are secrets: "password", "code".
bool IsSecretField(std::string_view name) noexcept;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query ("/passwords/new")
  std::vector<FormField> query;
  std::vector<FormField> form;  // application/x-www-form-urlencoded body (POST)
  // Header names lower-cased; a repeated header keeps its first value.
  std::map<std::string, std::string> headers;
  // Cookies from the Cookie header (the first of a repeated name wins).
  std::map<std::string, std::string> cookies;
  std::string client;  // the client's address (ClientAddress: proxies resolved)

  // The first value of a query parameter or form field that is not secret, or nullptr.
  const std::string* Query(std::string_view name) const;
  const std::string* Form(std::string_view name) const;
  // All values of a (repeated, not secret) form field, in order ("scope").
  std::vector<std::string> FormAll(std::string_view name) const;
  // The value of a secret form field, or nullptr.
  const SecretBuffer* FormSecret(std::string_view name) const;
  const std::string* Header(std::string_view lower_name) const;
  const std::string* Cookie(std::string_view name) const;
};

struct SetCookie {
  std::string name;
  std::string value;            // empty with max_age 0: delete
  std::optional<long> max_age;  // seconds; nullopt: a session cookie
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  // Extra headers (Location, ...). The server adds the security headers itself.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<SetCookie> cookies;  // the server adds HttpOnly; Secure; SameSite=Strict; Path=/
  bool cacheable = false;          // static assets only; else Cache-Control: no-store
  // Set when the body holds a secret (a new app password, recovery codes, a TOTP key):
  // the server wipes its copy after sending.
  bool secret_body = false;
};

// --- Pure parsing (bounded; nullopt/false on anything malformed) ---
// application/x-www-form-urlencoded ('+' is a space, %HH decoded; a bad escape, a NUL
// byte, invalid UTF-8 or more than `max_fields` fields: false). Secret fields per
// IsSecretField. Also used for the query string.
bool ParseForm(std::string_view body, std::size_t max_fields, std::vector<FormField>* out);
// The Cookie header: "a=b; c=d". Malformed pairs are skipped.
std::map<std::string, std::string> ParseCookies(std::string_view header);
// The language to use from an Accept-Language header among `supported` (first is the
// default): q-values honoured, "ro-RO" matches "ro".
std::string PickLanguage(std::string_view accept_language,
                         const std::vector<std::string>& supported);
// The client's address: `peer` unless it is one of `trusted` (IPs or CIDRs), then the
// right-most X-Forwarded-For entry that is not trusted (or the left-most when all are).
// A malformed X-Forwarded-For leaves `peer`.
std::string ClientAddress(std::string_view peer, const std::string* x_forwarded_for,
                          const std::vector<std::string>& trusted);

}  // namespace apppass::web
