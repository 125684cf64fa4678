// Cookies as apppass-web sends and reads them. Every Set-Cookie gets
// `Path=/; HttpOnly; Secure; SameSite=Strict`.
// insecure_http mode (--insecure-http, loopback tests only): browsers take a `__Host-`
// cookie only with Secure, so the server drops that prefix from the names it sets
// ("__Host-apppass-session" goes out as "apppass-session", without Secure) and, on the
// way in, shows each cookie N the client sends also as "__Host-N" (and ignores any
// "__Host-" cookie, which it never set in that mode). The pages therefore always use the
// `__Host-` names, in both modes.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "http.h"

namespace apppass::web {

inline constexpr std::string_view kHostPrefix = "__Host-";

// RFC 6265: a cookie name is a non-empty token; a value is cookie-octets only (no
// space, '"', ',', ';', '\\', controls or bytes >= 0x7f).
bool IsCookieName(std::string_view name);
bool IsCookieValue(std::string_view value);

// The Set-Cookie header value for `c` ("NAME=VALUE; Max-Age=N; Path=/; HttpOnly;
// Secure; SameSite=Strict"; a negative max_age is 0), the name per the rule above; empty
// when the name or the value breaks IsCookieName / IsCookieValue.
std::string FormatSetCookie(const SetCookie& c, bool insecure_http);

// The cookies the pages see for a Cookie header (ParseCookies, then the rule above).
std::map<std::string, std::string> RequestCookies(std::string_view header, bool insecure_http);

}  // namespace apppass::web
