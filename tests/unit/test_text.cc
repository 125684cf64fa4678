// Unit tests of text.h: UTF-8 validation, user name / label / scope rules, durations,
// timestamps and log-safe values.

#include "text.h"

#include <stdlib.h>
#include <time.h>

#include <limits>
#include <string>

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
  if (old)
    setenv("TZ", saved.c_str(), 1);
  else
    unsetenv("TZ");
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

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_valid),  cmocka_unit_test(test_utf8_invalid),
      cmocka_unit_test(test_user_names),  cmocka_unit_test(test_labels),
      cmocka_unit_test(test_c1_controls), cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_durations),   cmocka_unit_test(test_iso_utc),
      cmocka_unit_test(test_log_safe),
  };
  return cmocka_run_group_tests_name("text", tests, nullptr, nullptr);
}
