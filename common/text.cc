#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <utility>

namespace apppass {

namespace {

// Decodes the UTF-8 sequence at s[i]: its code point and length, or false when the bytes
// there are not well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool DecodeUtf8(std::string_view s, std::size_t i, char32_t* cp_out, std::size_t* len_out) {
  const std::size_t n = s.size();
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp_out = c;
    *len_out = 1;
    return true;
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
  *cp_out = cp;
  *len_out = len;
  return true;
}

struct CodePointRange {
  char32_t first;
  char32_t last;
};

// General category Cf (format) in Unicode 15.0 (extracted/DerivedGeneralCategory.txt).
constexpr CodePointRange kFormatCharacters[] = {
    {0x00AD, 0x00AD},    // soft hyphen
    {0x0600, 0x0605},    // Arabic number signs
    {0x061C, 0x061C},    // Arabic letter mark
    {0x06DD, 0x06DD},    // Arabic end of ayah
    {0x070F, 0x070F},    // Syriac abbreviation mark
    {0x0890, 0x0891},    // Arabic pound and piastre mark above
    {0x08E2, 0x08E2},    // Arabic disputed end of ayah
    {0x180E, 0x180E},    // Mongolian vowel separator
    {0x200B, 0x200F},    // zero-width space, non-joiner, joiner; LRM, RLM
    {0x202A, 0x202E},    // bidi embeddings and overrides (U+202E: right-to-left override)
    {0x2060, 0x2064},    // word joiner, invisible operators
    {0x2066, 0x206F},    // bidi isolates, deprecated format characters
    {0xFEFF, 0xFEFF},    // zero-width no-break space (byte order mark)
    {0xFFF9, 0xFFFB},    // interlinear annotation
    {0x110BD, 0x110BD},  // Kaithi number sign
    {0x110CD, 0x110CD},  // Kaithi number sign above
    {0x13430, 0x1343F},  // Egyptian hieroglyph format controls
    {0x1BCA0, 0x1BCA3},  // shorthand format controls
    {0x1D173, 0x1D17A},  // musical symbol format controls
    {0xE0001, 0xE0001},  // language tag
    {0xE0020, 0xE007F},  // tag characters
};

// Other characters that show as nothing: the rest of Default_Ignorable_Code_Point in
// Unicode 15.0 (DerivedCoreProperties.txt: combining grapheme joiner, Hangul fillers,
// Khmer inherent vowels, variation selectors, reserved ignorables) and the line and
// paragraph separators (Zl, Zp), which terminals show as nothing or as a line break.
constexpr CodePointRange kOtherInvisible[] = {
    {0x034F, 0x034F},    // combining grapheme joiner
    {0x115F, 0x1160},    // Hangul choseong and jungseong fillers
    {0x17B4, 0x17B5},    // Khmer inherent vowels
    {0x180B, 0x180D},    // Mongolian free variation selectors 1-3
    {0x180F, 0x180F},    // Mongolian free variation selector 4
    {0x2028, 0x2029},    // line and paragraph separators
    {0x2065, 0x2065},    // reserved
    {0x3164, 0x3164},    // Hangul filler
    {0xFE00, 0xFE0F},    // variation selectors 1-16
    {0xFFA0, 0xFFA0},    // halfwidth Hangul filler
    {0xFFF0, 0xFFF8},    // reserved
    {0xE0000, 0xE0000},  // reserved
    {0xE0002, 0xE001F},  // reserved
    {0xE0080, 0xE0FFF},  // variation selectors 17-256 (U+E0100..U+E01EF) and reserved
};

bool InRanges(char32_t cp, const CodePointRange* begin, const CodePointRange* end) {
  const CodePointRange* it = std::upper_bound(
      begin, end, cp, [](char32_t c, const CodePointRange& r) { return c < r.first; });
  return it != begin && cp <= (it - 1)->last;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    std::size_t len;
    if (!DecodeUtf8(s, i, &cp, &len)) return false;
    i += len;
  }
  return true;
}

bool IsInvisible(char32_t cp) {
  return InRanges(cp, std::begin(kFormatCharacters), std::end(kFormatCharacters)) ||
         InRanges(cp, std::begin(kOtherInvisible), std::end(kOtherInvisible));
}

std::optional<char32_t> FindInvisible(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    std::size_t len;
    if (!DecodeUtf8(s, i, &cp, &len)) {
      ++i;
      continue;
    }
    if (IsInvisible(cp)) return cp;
    i += len;
  }
  return std::nullopt;
}

std::string TerminalSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    std::size_t len;
    if (!DecodeUtf8(s, i, &cp, &len)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F) out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    else if ((cp >= 0x80 && cp <= 0x9F) || IsInvisible(cp))
      out += cp <= 0xFFFF ? fmt::format("\\u{:04x}", static_cast<unsigned>(cp))
                          : fmt::format("\\U{:08x}", static_cast<unsigned>(cp));
    else out.append(s.substr(i, len));
    i += len;
  }
  return out;
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

Status ValidateUserName(std::string_view user) {
  return ValidateText("user name", user, kMaxUserLength);
}

Status ValidateLabel(std::string_view label) {
  return ValidateText("name", label, kMaxLabelLength);
}

namespace {

Status RefuseInvisible(std::string_view what, std::string_view s) {
  const std::optional<char32_t> cp = FindInvisible(s);
  if (!cp) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{} contains U+{:04X}, a character that is invisible or changes how the text "
                  "around it is shown (it could make one name look like another): remove it",
                  what, static_cast<unsigned>(*cp)));
}

}  // namespace

Status ValidateNewUserName(std::string_view user) {
  Status s = ValidateUserName(user);
  return s.ok() ? RefuseInvisible("user name", user) : s;
}

Status ValidateNewLabel(std::string_view label) {
  Status s = ValidateLabel(label);
  return s.ok() ? RefuseInvisible("name", label) : s;
}

Status ValidateScope(std::string_view scope) {
  if (scope.empty() || scope.size() > kMaxScopeLength)
    return Status::InvalidArgument(
        fmt::format("scope must be 1 to {} characters", kMaxScopeLength));
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
  // A unit suffix (s, m, h, d, w) or none (seconds).
  static constexpr std::pair<char, std::int64_t> kUnits[] = {
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
  std::int64_t unit = 1;
  for (const auto& [suffix, seconds] : kUnits) {
    if (text.back() != suffix) continue;
    unit = seconds;
    text.remove_suffix(1);
    break;
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
    if (c > 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '=') out.push_back(ch);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (cut) out += "...";
  if (out.empty()) out.push_back('-');  // never an empty field: keeps "key=value" parseable
  return out;
}

std::string LogText(std::string_view value, std::size_t max_len) {
  std::string out;
  for (char ch : value.substr(0, max_len)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') out.push_back(ch);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (value.size() > max_len) out += "...";
  return out;
}

}  // namespace apppass
