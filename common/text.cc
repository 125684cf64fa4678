#include "text.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace apppass {

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

namespace {

// C0 controls, DEL, and the C1 controls U+0080..U+009F (in valid UTF-8 always the lead
// byte 0xC2 followed by 0x80..0x9F; U+009B is a terminal's 8-bit CSI).
bool HasControl(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
  }
  return false;
}

Status ValidateText(std::string_view what, std::string_view s, std::size_t max) {
  if (s.empty()) return Status::InvalidArgument(fmt::format("{} is empty", what));
  if (s.size() > max)
    return Status::InvalidArgument(fmt::format("{} is longer than {} bytes", what, max));
  if (s.find('\0') != std::string_view::npos)
    return Status::InvalidArgument(fmt::format("{} contains a NUL byte", what));
  if (!IsValidUtf8(s)) return Status::InvalidArgument(fmt::format("{} is not valid UTF-8", what));
  if (HasControl(s))
    return Status::InvalidArgument(fmt::format("{} contains control characters", what));
  return Status::Ok();
}

}  // namespace

Status ValidateUserName(std::string_view user) { return ValidateText("user name", user, kMaxUserLength); }

Status ValidateLabel(std::string_view label) { return ValidateText("name", label, kMaxLabelLength); }

Status ValidateScope(std::string_view scope) {
  if (scope.empty() || scope.size() > kMaxScopeLength)
    return Status::InvalidArgument(fmt::format("scope must be 1 to {} characters", kMaxScopeLength));
  for (std::size_t i = 0; i < scope.size(); ++i) {
    const char c = scope[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
      return Status::InvalidArgument(
          "scope must be lowercase letters, digits, '.', '_' or '-' (a PAM service name "
          "such as imap, pop3, smtp)");
  }
  return Status::Ok();
}

std::optional<std::int64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t unit = 1;
  switch (text.back()) {
    case 's': unit = 1; text.remove_suffix(1); break;
    case 'm': unit = 60; text.remove_suffix(1); break;
    case 'h': unit = 3600; text.remove_suffix(1); break;
    case 'd': unit = 86400; text.remove_suffix(1); break;
    case 'w': unit = 7 * 86400; text.remove_suffix(1); break;
    default: break;
  }
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr != end || n <= 0) return std::nullopt;
  constexpr std::int64_t kMax = 100LL * 366 * 86400;
  if (n > kMax / unit) return std::nullopt;
  return n * unit;
}

std::string FormatIsoUtc(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "invalid-time";
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "invalid-time";
  return buf;
}

std::string LogSafe(std::string_view value, std::size_t max_len) {
  std::string out;
  const bool cut = value.size() > max_len;
  if (cut) value = value.substr(0, max_len);
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '=')
      out.push_back(ch);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (cut) out += "...";
  if (out.empty()) out.push_back('-');  // never an empty field: keeps "key=value" parseable
  return out;
}

std::string LogText(std::string_view value, std::size_t max_len) {
  std::string out;
  for (char ch : value.substr(0, max_len)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
      out.push_back(ch);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (value.size() > max_len) out += "...";
  return out;
}

}  // namespace apppass
