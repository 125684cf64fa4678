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

inline constexpr std::size_t kMaxUserLength = 256;  // bytes
inline constexpr std::size_t kMaxLabelLength = 64;  // bytes
inline constexpr std::size_t kMaxScopeLength = 32;  // bytes
inline constexpr std::size_t kMaxScopes = 16;

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Whether code point `cp` shows as nothing or changes how the text around it is shown
// (Unicode 15.0): general category Cf (U+00AD soft hyphen, U+200B..U+200F zero-width
// characters and directional marks, U+202A..U+202E and U+2066..U+2069 bidi controls,
// U+2060..U+2064, U+FEFF, U+180E, the tag characters, ...), the other default-ignorable
// code points (U+034F, Hangul fillers, variation selectors U+180B..U+180F, U+FE00..U+FE0F,
// U+E0100..U+E01EF, reserved ones) and the line and paragraph separators U+2028, U+2029.
// Control characters (Cc) are not included: callers treat them on their own.
bool IsInvisible(char32_t cp);
// The first code point of `s` for which IsInvisible holds (bytes that are not valid
// UTF-8 are skipped), or nullopt.
std::optional<char32_t> FindInvisible(std::string_view s);

// User names: 1..256 bytes of valid UTF-8 without control characters or NUL. What a
// stored name or a name to look up must be (names stored before ValidateNewUserName
// existed stay usable).
Status ValidateUserName(std::string_view user);
// Labels: 1..64 bytes of valid UTF-8 without control characters.
Status ValidateLabel(std::string_view label);
// For a name or label being created: the checks above, and no invisible character
// (IsInvisible), so a user "\u202eecila" cannot list as "alice". The error names the
// character ("U+202E"). Variation selectors are refused too: after a letter they are
// invisible and make a second name that looks the same; the cost, an emoji written with
// its presentation selector (U+FE0F) in a label, is small.
Status ValidateNewUserName(std::string_view user);
Status ValidateNewLabel(std::string_view label);
// Scopes (PAM service names): 1..32 of [a-z0-9._-], starting with a letter or digit.
Status ValidateScope(std::string_view scope);

// "90d", "12h", "30m", "45s", "2w", or a bare number of seconds. Positive, at most 100
// years. Returns nullopt for anything else.
std::optional<std::int64_t> ParseDuration(std::string_view text);

// `s` made safe to print on a terminal for people: valid UTF-8 that shows as itself is
// kept; control characters (C0, DEL) and bytes that are not valid UTF-8 are written as
// \xHH, C1 controls and invisible characters (IsInvisible) as \uHHHH or \UHHHHHHHH.
// The result holds no byte a terminal acts on (no ESC, no 8-bit CSI, no bidi override).
// For display only: a backslash is kept as it is, so the escaping cannot be undone, and
// text escaped before (LogText, \xHH) passes unchanged. JSON output is not for this.
std::string TerminalSafe(std::string_view s);

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
