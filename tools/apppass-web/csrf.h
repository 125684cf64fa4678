// CSRF tokens (docs/design.md "apppass-web's HTTP layer"). Every POST carries a form
// field `csrf`; the page checks it before anything reaches the broker:
//   signed in:  csrf == CsrfForSession(session token), a keyed hash under a key that is
//               random per process (a restart ends every broker session anyway);
//   signed out: csrf == the `__Host-apppass-pre` cookie (double submit), a value from
//               NewPreSigninToken set when the sign-in page is shown.
// Wrong or missing: the caller answers 403 and sends nothing to the broker.
// Thread-safe: the key is made once (on first use, or by InitCsrf) and only read after.
#pragma once

#include <string>
#include <string_view>

#include "http.h"
#include "status.h"

namespace apppass::web {

// The form field every POST carries.
inline constexpr std::string_view kCsrfField = "csrf";

// Makes the process's key now (else the first use makes it). Unavailable when libsodium
// cannot start. Call once at start-up, before the server threads.
Status InitCsrf();

// hex(keyed BLAKE2b-256(key, "csrf" + session_token))[0:32]: 32 lower-case hex digits.
// The same token for the whole session, different for every session and every process.
// Empty when libsodium cannot start (CheckCsrf then refuses everything).
std::string CsrfForSession(std::string_view session_token);

// A fresh pre-sign-in token: 32 lower-case hex digits (128 random bits).
std::string NewPreSigninToken();

// True when the request's non-secret form field `csrf` equals `expected`, compared in
// constant time (sodium_memcmp). False when either is missing or empty, or the lengths
// differ (the length is not a secret: always 32).
bool CheckCsrf(const HttpRequest& req, std::string_view expected);

}  // namespace apppass::web
