// Unit tests of text.h: UTF-8 validation, user name / label / scope rules, durations,
// timestamps, log-safe values, invisible characters and text for a terminal.

#include "text.h"

#include <stdlib.h>
#include <time.h>

#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using namespace std::string_literals;

void test_utf8_valid(void**) {
  for (const std::string& s : {""s, "abc"s, "a\0b"s,
                               "\xc2\x80"s,          // U+0080, smallest 2-byte
                               "\xc3\xa9"s,          // é
                               "\xdf\xbf"s,          // U+07FF
                               "\xe0\xa0\x80"s,      // U+0800, smallest 3-byte
                               "\xe2\x82\xac"s,      // €
                               "\xed\x9f\xbf"s,      // U+D7FF, just below the surrogates
                               "\xee\x80\x80"s,      // U+E000, just above
                               "\xef\xbf\xbf"s,      // U+FFFF
                               "\xf0\x90\x80\x80"s,  // U+10000, smallest 4-byte
                               "\xf0\x9d\x84\x9e"s,  // 𝄞
                               "\xf4\x8f\xbf\xbf"s,  // U+10FFFF, the largest
                               "jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb1"s}) {
    if (!IsValidUtf8(s)) fail_msg("valid UTF-8 refused (%zu bytes)", s.size());
  }
}

void test_utf8_invalid(void**) {
  for (const std::string& s :
       {// Overlong forms.
        "\xc0\x80"s, "\xc1\xbf"s, "\xe0\x80\x80"s, "\xe0\x9f\xbf"s, "\xf0\x80\x80\x80"s,
        "\xf0\x8f\xbf\xbf"s, "\xc0\xaf"s, "\xe0\x80\xaf"s,
        // UTF-16 surrogates.
        "\xed\xa0\x80"s, "\xed\xaf\xbf"s, "\xed\xb0\x80"s, "\xed\xbf\xbf"s,
        // Above U+10FFFF, and the 5- and 6-byte forms.
        "\xf4\x90\x80\x80"s, "\xf5\x80\x80\x80"s, "\xf7\xbf\xbf\xbf"s, "\xf8\x88\x80\x80\x80"s,
        "\xfc\x84\x80\x80\x80\x80"s, "\xfe"s, "\xff"s,
        // Truncated sequences, at the end and in the middle.
        "\xc3"s, "\xe2\x82"s, "\xf0\x9d\x84"s, "a\xc3"s,
        "\xe2\x82"
        "a"s,
        "\xf0\x9d\x84"
        "abc"s,
        "\xc3\xc3\xa9"s,
        // Lone continuation bytes.
        "\x80"s, "\xbf"s,
        "a\x80"
        "b"s}) {
    if (IsValidUtf8(s))
      fail_msg("invalid UTF-8 accepted (first byte 0x%02x, %zu bytes)",
               static_cast<unsigned char>(s[0]), s.size());
  }
}

void test_user_names(void**) {
  ASSERT_OK(ValidateUserName("alice"));
  ASSERT_OK(ValidateUserName("alice@example.com"));
  ASSERT_OK(ValidateUserName("jos\xc3\xa9"));
  ASSERT_OK(ValidateUserName("a"));
  ASSERT_OK(ValidateUserName(std::string(kMaxUserLength, 'a')));
  std::string multibyte;  // 256 bytes of 2-byte characters
  while (multibyte.size() < kMaxUserLength) multibyte += "\xc3\xa9";
  ASSERT_OK(ValidateUserName(multibyte));

  ASSERT_CODE(ValidateUserName(""), kInvalidArgument);
  ASSERT_CODE(ValidateUserName(std::string(kMaxUserLength + 1, 'a')), kInvalidArgument);
  ASSERT_CODE(ValidateUserName(multibyte + "a"), kInvalidArgument);
  ASSERT_CODE(ValidateUserName("al\0ice"s), kInvalidArgument);
  ASSERT_CODE(ValidateUserName("alice\0"s), kInvalidArgument);
  ASSERT_CODE(ValidateUserName("\0"s), kInvalidArgument);
  for (const char* ctl : {"\t", "\n", "\r", "\x1b", "\x01", "\x1f", "\x7f"})
    ASSERT_CODE(ValidateUserName("ali"s + ctl + "ce"), kInvalidArgument);
  ASSERT_CODE(ValidateUserName("alice\xff"), kInvalidArgument);
  ASSERT_CODE(ValidateUserName("\xc0\x80"), kInvalidArgument);  // overlong NUL
  ASSERT_CODE(ValidateUserName("\xed\xa0\x80"), kInvalidArgument);
  // Messages say what is wrong, for the admin tool and the log.
  const Status s = ValidateUserName(std::string(300, 'a'));
  ASSERT_CONTAINS(s.message(), "256");
}

void test_labels(void**) {
  ASSERT_OK(ValidateLabel("iPhone mail"));
  ASSERT_OK(ValidateLabel("Thunderbird (work) \xf0\x9f\x93\xb1"));
  ASSERT_OK(ValidateLabel(std::string(kMaxLabelLength, 'x')));
  ASSERT_CODE(ValidateLabel(""), kInvalidArgument);
  ASSERT_CODE(ValidateLabel(std::string(kMaxLabelLength + 1, 'x')), kInvalidArgument);
  ASSERT_CODE(ValidateLabel("pho\0ne"s), kInvalidArgument);
  ASSERT_CODE(ValidateLabel("phone\n"), kInvalidArgument);
  ASSERT_CODE(ValidateLabel("phone\x1b[31m"), kInvalidArgument);
  ASSERT_CODE(ValidateLabel("phone\x7f"), kInvalidArgument);
  ASSERT_CODE(ValidateLabel("phone\xe2\x82"), kInvalidArgument);
}

void test_c1_controls(void**) {
  // U+0080..U+009F are control characters too (U+009B is the 8-bit CSI of terminals).
  for (const char* c1 : {"\xc2\x80", "\xc2\x85", "\xc2\x9b", "\xc2\x9f"}) {
    ASSERT_CODE(ValidateUserName("ali"s + c1 + "ce"), kInvalidArgument);
    ASSERT_CODE(ValidateLabel("pho"s + c1 + "ne"), kInvalidArgument);
  }
  // The first character after them is an ordinary one.
  ASSERT_OK(
      ValidateUserName("\xc2\xa0"
                       "a"));
  ASSERT_OK(ValidateLabel("caf\xc3\xa9"));
}

void test_scopes(void**) {
  for (const char* ok : {"imap", "pop3", "smtp", "a", "0", "9x", "sub.mail_2-x", "dovecot"})
    ASSERT_OK(ValidateScope(ok));
  ASSERT_OK(ValidateScope(std::string(kMaxScopeLength, 'a')));
  ASSERT_CODE(ValidateScope(std::string(kMaxScopeLength + 1, 'a')), kInvalidArgument);
  ASSERT_CODE(ValidateScope(""), kInvalidArgument);
  for (const std::string& bad : {"Imap"s, "IMAP"s, ".imap"s, "-imap"s, "_imap"s, "im ap"s, "im/ap"s,
                                 "im\0ap"s, "imap\n"s, "im\xc3\xa9"s, "imap*"s, "im:ap"s, "imap="s})
    if (ValidateScope(bad).ok()) fail_msg("scope '%s' accepted", bad.c_str());
}

void test_durations(void**) {
  struct {
    const char* text;
    std::int64_t seconds;
  } const good[] = {{"90d", 90 * 86400},
                    {"12h", 12 * 3600},
                    {"30m", 1800},
                    {"2w", 14 * 86400},
                    {"45s", 45},
                    {"3600", 3600},
                    {"1", 1},
                    {"1d", 86400},
                    // The upper bound, 100 years of 366 days, is included.
                    {"36600d", 36600LL * 86400},
                    {"3162240000", 3162240000LL}};
  for (const auto& g : good) {
    const auto d = ParseDuration(g.text);
    if (!d || *d != g.seconds) fail_msg("ParseDuration(\"%s\") wrong", g.text);
  }
  for (const char* bad : {"",
                          "0",
                          "0d",
                          "0s",
                          "-5",
                          "-5d",
                          "+5",
                          "d",
                          "s",
                          "5x",
                          "5D",
                          "5 d",
                          " 5d",
                          "5d ",
                          "1.5h",
                          "5dd",
                          "abc",
                          "0x10",
                          "1e3",
                          "5d5",
                          "\xef\xbc\x95",
                          "36601d",
                          "3162240001",
                          "5229w",
                          "99999999999999999999",
                          "9223372036854775807",
                          "9223372036854775807w",
                          "-9223372036854775808"})
    if (ParseDuration(bad)) fail_msg("ParseDuration(\"%s\") accepted", bad);
}

void test_iso_utc(void**) {
  assert_string_equal(FormatIsoUtc(0).c_str(), "1970-01-01T00:00:00Z");
  assert_string_equal(FormatIsoUtc(1795312502).c_str(), "2026-11-22T01:55:02Z");
  assert_string_equal(FormatIsoUtc(951782400).c_str(), "2000-02-29T00:00:00Z");
  assert_string_equal(FormatIsoUtc(2147483648LL).c_str(), "2038-01-19T03:14:08Z");
  assert_string_equal(FormatIsoUtc(-1).c_str(), "1969-12-31T23:59:59Z");
  // Out of range for the calendar: a marker, not a crash or garbage.
  assert_string_equal(FormatIsoUtc(std::numeric_limits<std::int64_t>::max()).c_str(),
                      "invalid-time");
  // Independent of the local time zone.
  const char* old = getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "Asia/Tokyo", 1);
  tzset();
  const std::string tokyo = FormatIsoUtc(0);
  if (old) setenv("TZ", saved.c_str(), 1);
  else unsetenv("TZ");
  tzset();
  assert_string_equal(tokyo.c_str(), "1970-01-01T00:00:00Z");
}

void test_log_safe(void**) {
  assert_string_equal(LogSafe("alice").c_str(), "alice");
  assert_string_equal(LogSafe("alice@example.com").c_str(), "alice@example.com");
  assert_string_equal(LogSafe("192.0.2.7").c_str(), "192.0.2.7");
  assert_string_equal(LogSafe("").c_str(), "-");
  assert_string_equal(LogSafe("a b").c_str(), "a\\x20b");
  assert_string_equal(LogSafe("a=b").c_str(), "a\\x3db");
  assert_string_equal(LogSafe("\"q\"").c_str(), "\\x22q\\x22");
  assert_string_equal(LogSafe("back\\slash").c_str(), "back\\x5cslash");
  assert_string_equal(LogSafe("jos\xc3\xa9").c_str(), "jos\\xc3\\xa9");
  assert_string_equal(LogSafe("a\nb\tc\x7f").c_str(), "a\\x0ab\\x09c\\x7f");
  assert_string_equal(LogSafe("a\0b"s).c_str(), "a\\x00b");
  // A forged field cannot appear: no space or '=' survives.
  const std::string forged = LogSafe("alice rhost=10.0.0.1 reason=accepted");
  assert_true(forged.find(' ') == std::string::npos);
  assert_true(forged.find('=') == std::string::npos);
  // Long values are cut (before escaping, so no escape is split) and marked.
  assert_string_equal(LogSafe(std::string(128, 'a')).c_str(), std::string(128, 'a').c_str());
  assert_string_equal(LogSafe(std::string(200, 'a')).c_str(),
                      (std::string(128, 'a') + "...").c_str());
  assert_string_equal(LogSafe("abcdef", 4).c_str(), "abcd...");
  assert_string_equal(LogSafe("ab d ", 3).c_str(), "ab\\x20...");
  const std::string spaces = LogSafe(std::string(1000, ' '));
  assert_int_equal(spaces.size(), 128 * 4 + 3);
}

// Names and labels being created refuse invisible and format characters, naming them;
// lookups (ValidateUserName) still accept them, so older names stay reachable.
void test_new_names_refuse_invisible(void**) {
  const std::pair<const char*, const char*> cases[] = {
      {"\xe2\x80\xae", "U+202E"},       // right-to-left override
      {"\xe2\x80\x8b", "U+200B"},       // zero-width space
      {"\xe2\x80\x8d", "U+200D"},       // zero-width joiner
      {"\xe2\x80\x8f", "U+200F"},       // right-to-left mark
      {"\xe2\x81\xa6", "U+2066"},       // left-to-right isolate
      {"\xc2\xad", "U+00AD"},           // soft hyphen
      {"\xef\xbb\xbf", "U+FEFF"},       // zero-width no-break space
      {"\xe2\x81\xa0", "U+2060"},       // word joiner
      {"\xe2\x81\xa4", "U+2064"},       // invisible plus
      {"\xe1\xa0\x8e", "U+180E"},       // Mongolian vowel separator
      {"\xf3\xa0\x81\x81", "U+E0041"},  // tag latin capital A
      {"\xef\xb8\x8f", "U+FE0F"},       // variation selector 16
      {"\xf3\xa0\x84\x80", "U+E0100"},  // variation selector 17
      {"\xcd\x8f", "U+034F"},           // combining grapheme joiner
      {"\xe3\x85\xa4", "U+3164"},       // Hangul filler
      {"\xe2\x80\xa8", "U+2028"},       // line separator
      {"\xd8\x9c", "U+061C"},           // Arabic letter mark
  };
  for (const auto& [ch, name] : cases) {
    for (const std::string& text : {ch + "ecila"s, "ali"s + ch + "ce", "alice"s + ch}) {
      ASSERT_OK(ValidateUserName(text));
      ASSERT_OK(ValidateLabel(text));
      const Status u = ValidateNewUserName(text);
      const Status l = ValidateNewLabel(text);
      ASSERT_CODE(u, kInvalidArgument);
      ASSERT_CODE(l, kInvalidArgument);
      if (u.message().find(name) == std::string::npos ||
          l.message().find(name) == std::string::npos)
        fail_msg("the error does not name %s: %s / %s", name, u.message().c_str(),
                 l.message().c_str());
    }
  }
  assert_string_equal(ValidateNewUserName("\xe2\x80\xae"
                                          "ecila")
                          .message()
                          .c_str(),
                      "user name contains U+202E, a character that is invisible or changes how "
                      "the text around it is shown (it could make one name look like another): "
                      "remove it");
  // Visible text stays accepted, and the other rules still come first.
  for (const char* ok : {"alice", "jos\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",  // 日本
                         "Thunderbird (work) \xf0\x9f\x93\xb1",               // 📱
                         "caf\xc3\xa9 \xc2\xa0nbsp", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7"}) {
    ASSERT_OK(ValidateNewUserName(ok));
    ASSERT_OK(ValidateNewLabel(ok));
  }
  ASSERT_CODE(ValidateNewUserName(""), kInvalidArgument);
  ASSERT_CODE(ValidateNewLabel(std::string(kMaxLabelLength + 1, 'x')), kInvalidArgument);
  ASSERT_CODE(ValidateNewUserName("ali\x1b"
                                  "ce"),
              kInvalidArgument);
  assert_true(ValidateNewUserName("ali\x1b"
                                  "ce")
                  .message()
                  .find("control") != std::string::npos);
}

void test_invisible_table(void**) {
  // Edges of the ranges, and neighbours that are ordinary characters.
  for (char32_t cp :
       {0xADu,    0x600u,   0x605u,   0x61Cu,   0x180Eu,  0x200Bu,  0x200Fu,  0x202Au,
        0x202Eu,  0x2060u,  0x2064u,  0x2065u,  0x2066u,  0x206Fu,  0xFE00u,  0xFE0Fu,
        0xFEFFu,  0xFFF9u,  0xFFFBu,  0x1D173u, 0x1D17Au, 0xE0001u, 0xE0020u, 0xE007Fu,
        0xE0100u, 0xE01EFu, 0xE0FFFu, 0x115Fu,  0x3164u,  0xFFA0u,  0x2028u,  0x2029u})
    if (!IsInvisible(cp)) fail_msg("U+%04X is not taken as invisible", static_cast<unsigned>(cp));
  for (char32_t cp : {0x20u,   0x41u,   0xA0u,   0xACu,    0xAEu,    0x5FFu,    0x606u,  0x200Au,
                      0x2010u, 0x2027u, 0x202Fu, 0x205Fu,  0x2070u,  0xFDFFu,   0xFE10u, 0xFEFEu,
                      0xFF00u, 0xFFFCu, 0xFFFDu, 0x1F4F1u, 0xE1000u, 0x10FFFFu, 0x7Fu,   0x9Bu})
    if (IsInvisible(cp)) fail_msg("U+%04X is taken as invisible", static_cast<unsigned>(cp));
  assert_true(FindInvisible("alice") == std::nullopt);
  assert_true(FindInvisible("a\xff\xe2\x80\x8b") == std::optional<char32_t>(0x200B));
}

// Reads the code points of `path` (a Unicode data file, "XXXX[..YYYY] ; FIELD ...") whose
// field `index` equals `want`.
std::vector<char32_t> UnicodeDataPoints(const std::string& path, std::size_t index,
                                        const std::string& want) {
  std::vector<char32_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t semi; (semi = line.find(';', start)) != std::string::npos; start = semi + 1)
      f.push_back(line.substr(start, semi - start));
    f.push_back(line.substr(start));
    for (auto& x : f) {
      while (!x.empty() && x.front() == ' ') x.erase(0, 1);
      while (!x.empty() && x.back() == ' ') x.pop_back();
    }
    if (f.size() <= index || f[index] != want) continue;
    const std::size_t dots = f[0].find("..");
    const auto first = static_cast<char32_t>(std::stoul(f[0].substr(0, dots), nullptr, 16));
    const auto last = dots == std::string::npos
                          ? first
                          : static_cast<char32_t>(std::stoul(f[0].substr(dots + 2), nullptr, 16));
    for (char32_t c = first; c <= last; ++c) out.push_back(c);
  }
  return out;
}

// The table against the Unicode 15.0 data files Debian's unicode-data ships (installed by
// '.ci/install-deps test'): every Cf and every default-ignorable code point is invisible,
// and so are the line and paragraph separators; nothing else is.
void test_invisible_table_matches_unicode_15(void**) {
  const std::string dir = "/usr/share/unicode";
  std::ifstream props(dir + "/DerivedCoreProperties.txt");
  std::string first;
  std::getline(props, first);
  if (first.find("DerivedCoreProperties-15.0.0.txt") == std::string::npos) {
    print_message("no Unicode 15.0 data in %s (package unicode-data): skipped\n", dir.c_str());
    skip();
  }
  std::vector<bool> want(0x110000, false);
  for (char32_t c : UnicodeDataPoints(dir + "/UnicodeData.txt", 2, "Cf")) want[c] = true;
  for (char32_t c : UnicodeDataPoints(dir + "/UnicodeData.txt", 2, "Zl")) want[c] = true;
  for (char32_t c : UnicodeDataPoints(dir + "/UnicodeData.txt", 2, "Zp")) want[c] = true;
  const auto ignorable =
      UnicodeDataPoints(dir + "/DerivedCoreProperties.txt", 1, "Default_Ignorable_Code_Point");
  if (ignorable.size() < 1000)
    fail_msg("DerivedCoreProperties.txt: %zu ignorables", ignorable.size());
  for (char32_t c : ignorable) want[c] = true;
  int checked = 0;
  for (char32_t c = 0; c < 0x110000; ++c, ++checked)
    if (IsInvisible(c) != want[c])
      fail_msg("U+%04X: IsInvisible says %d, Unicode 15.0 says %d", static_cast<unsigned>(c),
               IsInvisible(c), static_cast<int>(want[c]));
  assert_int_equal(checked, 0x110000);
}

void test_terminal_safe(void**) {
  assert_string_equal(TerminalSafe("").c_str(), "");
  assert_string_equal(TerminalSafe("alice@example.com").c_str(), "alice@example.com");
  assert_string_equal(TerminalSafe("jos\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xb1").c_str(),
                      "jos\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xb1");
  // Terminal escapes: OSC 52 (clipboard write), CSI cursor movement, 8-bit CSI.
  assert_string_equal(TerminalSafe("h\x1b]52;c;Zm9v\x07x").c_str(), "h\\x1b]52;c;Zm9v\\x07x");
  assert_string_equal(TerminalSafe("\x1b[2J\x1b[1;1H").c_str(), "\\x1b[2J\\x1b[1;1H");
  assert_string_equal(TerminalSafe("a\xc2\x9b"
                                   "31m")
                          .c_str(),
                      "a\\u009b31m");
  assert_string_equal(TerminalSafe("a\nb\tc\rd\x7f\0e"s).c_str(), "a\\x0ab\\x09c\\x0dd\\x7f\\x00e");
  // Format characters and other invisible ones.
  assert_string_equal(TerminalSafe("\xe2\x80\xae"
                                   "ecila")
                          .c_str(),
                      "\\u202eecila");
  assert_string_equal(TerminalSafe("al\xe2\x80\x8bice").c_str(), "al\\u200bice");
  assert_string_equal(TerminalSafe("a\xf3\xa0\x81\x81").c_str(), "a\\U000e0041");
  // Bytes that are not UTF-8, one escape each; the character after them is kept.
  assert_string_equal(TerminalSafe("bad\xff\xfe").c_str(), "bad\\xff\\xfe");
  assert_string_equal(TerminalSafe("\xe2\x82\xc3\xa9").c_str(), "\\xe2\\x82\xc3\xa9");
  assert_string_equal(TerminalSafe("\xed\xa0\x80").c_str(), "\\xed\\xa0\\x80");
  assert_string_equal(TerminalSafe("\xc0\x9b").c_str(), "\\xc0\\x9b");  // overlong CSI
  // Backslashes and text escaped before pass unchanged.
  assert_string_equal(TerminalSafe("a\\x1bb\\").c_str(), "a\\x1bb\\");
  assert_string_equal(TerminalSafe(LogText("\x1b[31m")).c_str(), LogText("\x1b[31m").c_str());
  // Every one- and two-byte input: the result is valid UTF-8 with no control character.
  for (int a = 0; a < 256; ++a)
    for (int b = -1; b < 256; ++b) {
      std::string in(1, static_cast<char>(a));
      if (b >= 0) in.push_back(static_cast<char>(b));
      const std::string out = TerminalSafe(in);
      if (!IsValidUtf8(out)) fail_msg("not UTF-8 for %02x %02x", a, b);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c < 0x20 || c == 0x7F || (c == 0xC2 && static_cast<unsigned char>(out[i + 1]) < 0xA0))
          fail_msg("control byte left for input %02x %02x", a, b);
      }
    }
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_utf8_invalid),
      cmocka_unit_test(test_user_names),
      cmocka_unit_test(test_labels),
      cmocka_unit_test(test_c1_controls),
      cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_iso_utc),
      cmocka_unit_test(test_log_safe),
      cmocka_unit_test(test_new_names_refuse_invisible),
      cmocka_unit_test(test_invisible_table),
      cmocka_unit_test(test_invisible_table_matches_unicode_15),
      cmocka_unit_test(test_terminal_safe),
  };
  return cmocka_run_group_tests_name("text", tests, nullptr, nullptr);
}
