// Unit tests of password.h (generation and normalization of app passwords) and of the
// SecretBuffer that holds them (secret.h).

#include "password.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string>

#include "secret.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

constexpr std::size_t kDisplayLen = kPasswordChars + kPasswordChars / kPasswordGroup - 1;  // 24

bool InAlphabet(char c) { return kPasswordAlphabet.find(c) != std::string_view::npos; }

// The password without its dashes, as NormalizePassword should produce it.
std::string Undashed(std::string_view display) {
  std::string s(display);
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s;
}

// Normalizes `input`; returns the normalized text, or "!" + the status message.
std::string Normalize(std::string_view input) {
  SecretBuffer out(kMaxPasswordInput);
  const Status s = NormalizePassword(input, out);
  if (!s.ok()) {
    // A refusal leaves nothing behind.
    return out.size() == 0 ? "!" + s.message() : "!not cleared";
  }
  return std::string(out.view());
}

bool Refused(std::string_view input) { return Normalize(input).front() == '!'; }

void test_alphabet_has_no_lookalikes(void**) {
  assert_int_equal(kPasswordAlphabet.size(), 31);
  for (char c : std::string_view("01oil")) assert_false(InAlphabet(c));
  std::set<char> distinct(kPasswordAlphabet.begin(), kPasswordAlphabet.end());
  assert_int_equal(distinct.size(), kPasswordAlphabet.size());
  for (char c : kPasswordAlphabet) assert_true((c >= 'a' && c <= 'z') || (c >= '2' && c <= '9'));
}

void test_generate_format(void**) {
  for (int n = 0; n < 200; ++n) {
    SecretBuffer pw = GeneratePassword();
    assert_true(pw.valid());
    const std::string_view v = pw.view();
    assert_int_equal(v.size(), kDisplayLen);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if ((i + 1) % (kPasswordGroup + 1) == 0) {
        assert_int_equal(v[i], '-');  // "abcd-efgh-jkmn-pqrs-tuvw"
      } else {
        assert_true(InAlphabet(v[i]));
      }
    }
    // What was generated is exactly what normalization yields from it.
    assert_string_equal(Normalize(v).c_str(), Undashed(v).c_str());
  }
}

void test_generate_distinct_and_spread(void**) {
  std::set<std::string> seen;
  std::array<int, 256> counts{};
  for (int n = 0; n < 1000; ++n) {
    SecretBuffer pw = GeneratePassword();
    assert_true(pw.valid());
    seen.insert(std::string(pw.view()));
    for (char c : pw.view()) counts[static_cast<unsigned char>(c)]++;
  }
  assert_int_equal(seen.size(), 1000);
  // 20000 characters over 31 symbols: about 645 each. Every symbol is used and none is
  // far off (the bounds are more than 7 standard deviations away).
  for (char c : kPasswordAlphabet) {
    const int k = counts[static_cast<unsigned char>(c)];
    if (k < 450 || k > 850) fail_msg("symbol '%c' drawn %d times in 20000", c, k);
  }
  assert_int_equal(counts['-'], 1000 * 4);
}

void test_normalize_variants(void**) {
  SecretBuffer pw = GeneratePassword();
  assert_true(pw.valid());
  const std::string display(pw.view());
  const std::string want = Undashed(display);

  std::string upper = display;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string spaced = display;
  std::replace(spaced.begin(), spaced.end(), '-', ' ');
  std::string tabbed = display;
  std::replace(tabbed.begin(), tabbed.end(), '-', '\t');
  std::string mixed;  // "a-B c\td..." with separators everywhere
  for (std::size_t i = 0; i < want.size(); ++i) {
    mixed.push_back(i % 2 ? static_cast<char>(std::toupper(static_cast<unsigned char>(want[i])))
                          : want[i]);
    mixed += (i % 3 == 0) ? "-" : (i % 3 == 1) ? " " : "\t";
  }

  for (const std::string& in :
       {display, want, upper, spaced, tabbed, mixed, "  " + display + "  ", "--" + want + "--"}) {
    const std::string got = Normalize(in);
    if (got != want)
      fail_msg("'%s' normalized to '%s', want '%s'", in.c_str(), got.c_str(), want.c_str());
  }
}

void test_normalize_refuses(void**) {
  const std::string ok = "abcd-efgh-jkmn-pqrs-tuvw";
  assert_string_equal(Normalize(ok).c_str(), "abcdefghjkmnpqrstuvw");

  assert_true(Refused(""));
  assert_true(Refused("    "));  // nothing left after normalization
  assert_true(Refused("----------------------"));
  assert_true(Refused("abcd-efgh-jkmn-pqrs-tuv"));    // 19 characters
  assert_true(Refused("abcd-efgh-jkmn-pqrs-tuvwx"));  // 21: never a prefix match
  assert_true(Refused(ok + "a"));
  assert_true(Refused("a" + ok));
  // Look-alikes and other characters outside the alphabet, in any case.
  for (const char* bad : {"0", "o", "O", "1", "l", "L", "i", "I", "_", ".", "+", "/", "\n", "\r",
                          "\x7f", "\xc3\xa9", "\xff"}) {
    std::string s = "abcd-efgh-jkmn-pqrs-tuv";
    s += bad;
    if (!Refused(s))
      fail_msg("accepted a password containing 0x%02x", static_cast<unsigned char>(bad[0]));
  }
  std::string with_nul = ok;
  with_nul[4] = '\0';
  assert_true(Refused(with_nul));
  assert_true(Refused(ok + std::string(1, '\0')));
}

void test_normalize_length_limit(void**) {
  const std::string ok = "abcdefghjkmnpqrstuvw";
  // At the limit: 20 characters and 492 dashes, 512 bytes, is still read whole.
  const std::string at_limit = ok + std::string(kMaxPasswordInput - ok.size(), '-');
  assert_int_equal(at_limit.size(), 512);
  assert_string_equal(Normalize(at_limit).c_str(), ok.c_str());
  // One byte more is refused whole, although it would normalize to a valid password.
  assert_true(Refused(at_limit + "-"));
  assert_true(Refused(std::string(kMaxPasswordInput - ok.size() + 1, ' ') + ok));
  // The limit is the input's, not the output buffer's.
  SecretBuffer big(4 * kMaxPasswordInput);
  ASSERT_OK(NormalizePassword(at_limit, big));
  ASSERT_CODE(NormalizePassword(at_limit + "-", big), kInvalidArgument);
  assert_int_equal(big.size(), 0);
  // A valid password followed by anything up to 1 MiB: never matches after truncation.
  std::string huge = ok + std::string(1 << 20, 'a');
  assert_true(Refused(huge));
  huge = ok + std::string((1 << 20) - ok.size(), '-');
  assert_int_equal(huge.size(), 1 << 20);
  assert_true(Refused(huge));
}

void test_normalize_clears_output(void**) {
  SecretBuffer out(kMaxPasswordInput);
  assert_true(out.valid());
  ASSERT_OK(NormalizePassword("abcd-efgh-jkmn-pqrs-tuvw", out));
  assert_int_equal(out.size(), kPasswordChars);
  ASSERT_CODE(NormalizePassword("abcd-efgh-jkmn-pqrs-tuv0", out), kInvalidArgument);
  assert_int_equal(out.size(), 0);
  ASSERT_OK(NormalizePassword("abcd-efgh-jkmn-pqrs-tuvw", out));
  ASSERT_CODE(NormalizePassword(std::string(513, 'a'), out), kInvalidArgument);
  assert_int_equal(out.size(), 0);
  // Too small an output buffer is refused, not overrun.
  SecretBuffer small(8);
  ASSERT_CODE(NormalizePassword("abcd-efgh-jkmn-pqrs-tuvw", small), kInvalidArgument);
  assert_int_equal(small.size(), 0);
}

void test_secret_buffer(void**) {
  SecretBuffer none;
  assert_false(none.valid());
  assert_int_equal(none.capacity(), 0);
  assert_false(none.push_back('x'));

  SecretBuffer b(4);
  assert_true(b.valid());
  assert_int_equal(b.capacity(), 4);
  assert_int_equal(b.size(), 0);
  for (unsigned char c : std::string_view("abcd")) assert_true(b.push_back(c));
  assert_false(b.push_back('e'));  // full: never reallocates
  assert_true(b.view() == "abcd");
  assert_false(b.assign("abcde"));
  assert_int_equal(b.size(), 0);  // stays empty when it does not fit
  assert_true(b.assign("xy"));
  assert_true(b.view() == "xy");

  SecretBuffer moved(std::move(b));
  assert_true(moved.view() == "xy");
  assert_false(b.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
  assert_int_equal(b.size(), 0);
  SecretBuffer other(2);
  other = std::move(moved);
  assert_true(other.view() == "xy");
  assert_int_equal(other.capacity(), 4);
  other.clear();
  assert_int_equal(other.size(), 0);
  assert_int_equal(other.data()[0], 0);  // wiped, not just marked empty

  std::string s = "secret";
  WipeString(s);
  assert_true(s.empty());
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alphabet_has_no_lookalikes),
      cmocka_unit_test(test_generate_format),
      cmocka_unit_test(test_generate_distinct_and_spread),
      cmocka_unit_test(test_normalize_variants),
      cmocka_unit_test(test_normalize_refuses),
      cmocka_unit_test(test_normalize_length_limit),
      cmocka_unit_test(test_normalize_clears_output),
      cmocka_unit_test(test_secret_buffer),
  };
  return cmocka_run_group_tests_name("password", tests, nullptr, nullptr);
}
