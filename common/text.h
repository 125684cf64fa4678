// Validation and formatting of the plain-text values apppass handles: user names, labels,
// scopes, durations, timestamps and log fields. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "status.h"

namespace apppass {

inline constexpr std::size_t kMaxUserLength = 256;   // bytes
inline constexpr std::size_t kMaxLabelLength = 64;   // bytes
inline constexpr std::size_t kMaxScopeLength = 32;   // bytes
inline constexpr std::size_t kMaxScopes = 16;

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// User names: 1..256 bytes of valid UTF-8 without control characters or NUL.
Status ValidateUserName(std::string_view user);
// Labels: 1..64 bytes of valid UTF-8 without control characters.
Status ValidateLabel(std::string_view label);
// Scopes (PAM service names): 1..32 of [a-z0-9._-], starting with a letter or digit.
Status ValidateScope(std::string_view scope);

// "90d", "12h", "30m", "45s", "2w", or a bare number of seconds. Positive, at most 100
// years. Returns nullopt for anything else.
std::optional<std::int64_t> ParseDuration(std::string_view text);

// ISO 8601 UTC, e.g. "2026-11-22T01:55:02Z".
std::string FormatIsoUtc(std::int64_t unix_seconds);

// A value made safe for one log line: printable ASCII kept, everything else (including
// spaces, quotes, '=' and bytes >= 0x80) written as \xHH so fields cannot be forged and
// fail2ban patterns stay anchored. Long values are cut with "...".
std::string LogSafe(std::string_view value, std::size_t max_len = 128);

// Free text for a log line or a message: printable ASCII (and spaces) kept, double
// quotes, backslashes and everything else written as \xHH; cut at `max_len` with "...".
std::string LogText(std::string_view value, std::size_t max_len = 300);
// LogText in double quotes.
inline std::string LogQuoted(std::string_view value, std::size_t max_len = 300) {
  return "\"" + LogText(value, max_len) + "\"";
}

}  // namespace apppass
