// Unit tests of totp.h: TOTP checks at an injected time, sealing of secrets and the
// otpauth:// URI.

#include "totp.h"

#include <sodium.h>

#include <cctype>
#include <string>

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using test::TotpAt;

// The RFC 6238 SHA1 test secret.
const std::string kRfcSecret = "12345678901234567890";
// A time step in 2023; tests check codes at its middle (kStep * 30 + 15), so "one step
// either way" is unambiguous.
constexpr std::int64_t kStep = 1700000010 / kTotpStep;

SecretBuffer Secret(std::string_view raw) {
  SecretBuffer s(raw.size());
  if (!s.assign(raw)) fail_msg("SecretBuffer::assign failed");
  return s;
}

SecretBuffer RandomKey() {
  SecretBuffer k(crypto_secretbox_KEYBYTES);
  randombytes_buf(k.data(), crypto_secretbox_KEYBYTES);
  k.resize(crypto_secretbox_KEYBYTES);
  return k;
}

// TotpCheck with no step used yet; returns the matched step or -1.
std::int64_t Check(const SecretBuffer& secret, std::string_view code, std::int64_t now,
                   std::int64_t last_step = -1) {
  std::int64_t step = -7;
  const Status s = TotpCheck(secret, code, now, last_step, &step);
  if (!s.ok()) {
    if (s.code() != Status::Code::kPermissionDenied)
      fail_msg("TotpCheck: expected PermissionDenied, got %s", test::CodeName(s.code()));
    if (step != -7) fail_msg("TotpCheck changed *step on failure");
    return -1;
  }
  return step;
}

void test_rfc6238_vectors(void**) {
  const SecretBuffer secret = Secret(kRfcSecret);
  // RFC 6238 appendix B (SHA1), last six of the eight digits.
  struct {
    std::int64_t t;
    const char* code;
  } const vectors[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
                       {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}};
  for (const auto& v : vectors) {
    assert_int_equal(Check(secret, v.code, v.t), v.t / 30);
    assert_string_equal(TotpAt(kRfcSecret, v.t).c_str(), v.code);  // the helper agrees
  }
}

void test_window(void**) {
  SecretBuffer raw = NewTotpSecret();
  assert_true(raw.valid());
  const std::string secret(raw.view());
  const std::int64_t now = kStep * kTotpStep + 15;  // middle of the step
  assert_int_equal(Check(raw, TotpAt(secret, now), now), kStep);
  assert_int_equal(Check(raw, TotpAt(secret, now - 30), now), kStep - 1);
  assert_int_equal(Check(raw, TotpAt(secret, now + 30), now), kStep + 1);
  // Anywhere inside the current step.
  assert_int_equal(Check(raw, TotpAt(secret, kStep * kTotpStep), now), kStep);
  assert_int_equal(Check(raw, TotpAt(secret, kStep * kTotpStep + 29), now), kStep);
  // Two or more steps away is refused (unless the 6 digits happen to coincide).
  for (std::int64_t off : {-90, -60, 60, 90, 3600}) {
    const std::string code = TotpAt(secret, now + off);
    bool coincides = false;
    for (std::int64_t w : {-30, 0, 30}) coincides |= code == TotpAt(secret, now + w);
    if (!coincides && Check(raw, code, now) != -1)
      fail_msg("code from %+lld s accepted", static_cast<long long>(off));
  }
}

void test_no_reuse(void**) {
  const SecretBuffer secret = Secret(kRfcSecret);
  const std::int64_t now = kStep * kTotpStep + 15;
  const std::string code = TotpAt(kRfcSecret, now);
  const std::int64_t step = Check(secret, code, now);
  assert_int_equal(step, kStep);
  // The same code again, at the same time or later in the step: refused.
  assert_int_equal(Check(secret, code, now, step), -1);
  assert_int_equal(Check(secret, code, now + 10, step), -1);
  // An earlier step's code is refused once a later step was used.
  assert_int_equal(Check(secret, TotpAt(kRfcSecret, now - 30), now, step), -1);
  // The next step is fine.
  assert_int_equal(Check(secret, TotpAt(kRfcSecret, now + 30), now + 30, step), kStep + 1);
  // The message says why.
  std::int64_t out = 0;
  const Status s = TotpCheck(secret, code, now, step, &out);
  ASSERT_CODE(s, kPermissionDenied);
  ASSERT_CONTAINS(s.message(), "already used");
}

void test_malformed_codes(void**) {
  const SecretBuffer secret = Secret(kRfcSecret);
  const std::int64_t now = kStep * kTotpStep + 15;
  const std::string good = TotpAt(kRfcSecret, now);
  assert_int_equal(Check(secret, good, now), kStep);
  for (const std::string& bad :
       {std::string(), good.substr(0, 5), good + "0", "0" + good, " " + good, good + " ",
        good.substr(0, 3) + " " + good.substr(3), good.substr(0, 5) + "a",
        std::string("12345\0", 6), std::string("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93"),
        std::string("-12345"), std::string("+12345"), std::string(1000, '1')}) {
    assert_int_equal(Check(secret, bad, now), -1);
  }
  // A wrong 6-digit code: one that is none of the window's codes.
  std::string wrong = good;
  for (int d = 0; d < 10; ++d) {
    wrong[5] = static_cast<char>('0' + d);
    if (wrong != good && wrong != TotpAt(kRfcSecret, now - 30) &&
        wrong != TotpAt(kRfcSecret, now + 30))
      break;
  }
  assert_int_equal(Check(secret, wrong, now), -1);
}

void test_new_secret_and_base32(void**) {
  SecretBuffer a = NewTotpSecret(), b = NewTotpSecret();
  assert_true(a.valid() && b.valid());
  assert_int_equal(a.size(), kTotpSecretBytes);
  assert_true(a.view() != b.view());

  SecretBuffer b32;
  ASSERT_OK(TotpBase32(Secret(kRfcSecret), &b32));
  assert_true(b32.view() == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  ASSERT_OK(TotpBase32(Secret("f"), &b32));
  assert_true(b32.view() == "MY");  // padding removed
  ASSERT_OK(TotpBase32(Secret("foob"), &b32));
  assert_true(b32.view() == "MZXW6YQ");
  // A random secret survives base32 (what the user types into an app) unchanged.
  ASSERT_OK(TotpBase32(a, &b32));
  assert_int_equal(b32.size(), 32);
  assert_true(test::Base32Decode(b32.view()) == a.view());
}

void test_seal_unseal(void**) {
  const SecretBuffer key = RandomKey();
  const SecretBuffer secret = NewTotpSecret();
  std::string sealed, sealed2;
  ASSERT_OK(SealSecret(key, secret, &sealed));
  ASSERT_OK(SealSecret(key, secret, &sealed2));
  const std::size_t want_len =
      2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + kTotpSecretBytes);
  assert_int_equal(sealed.size(), want_len);
  assert_true(sealed.find_first_not_of("0123456789abcdef") == std::string::npos);
  assert_true(sealed != sealed2);  // a fresh nonce every time
  SecretBuffer back;
  ASSERT_OK(UnsealSecret(key, sealed, &back));
  assert_true(back.view() == secret.view());
  ASSERT_OK(UnsealSecret(key, sealed2, &back));
  assert_true(back.view() == secret.view());
  // The raw secret is not in the sealed form.
  std::string hex(2 * kTotpSecretBytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), secret.data(), secret.size());
  hex.pop_back();
  assert_true(sealed.find(hex) == std::string::npos);
}

void test_unseal_refuses(void**) {
  const SecretBuffer key = RandomKey();
  const SecretBuffer secret = NewTotpSecret();
  std::string sealed;
  ASSERT_OK(SealSecret(key, secret, &sealed));
  SecretBuffer out;
  ASSERT_CODE(UnsealSecret(RandomKey(), sealed, &out), kUnavailable);
  assert_false(out.valid());  // untouched on failure
  // Any changed byte: nonce, MAC or ciphertext.
  for (std::size_t i : {std::size_t{0}, std::size_t{47}, std::size_t{60}, sealed.size() - 1}) {
    std::string bad = sealed;
    bad[i] = bad[i] == '0' ? '1' : '0';
    ASSERT_CODE(UnsealSecret(key, bad, &out), kUnavailable);
  }
  ASSERT_CODE(UnsealSecret(key, "", &out), kUnavailable);
  ASSERT_CODE(UnsealSecret(key, "zz" + sealed.substr(2), &out), kUnavailable);
  ASSERT_CODE(UnsealSecret(key, sealed.substr(1), &out), kUnavailable);  // odd length
  ASSERT_CODE(UnsealSecret(key, sealed.substr(0, sealed.size() - 2), &out), kUnavailable);
  ASSERT_CODE(
      UnsealSecret(key,
                   sealed.substr(0, 2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)),
                   &out),
      kUnavailable);
  ASSERT_CODE(UnsealSecret(key, sealed + "00", &out), kUnavailable);
  std::string upper = sealed;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_OK(UnsealSecret(key, upper, &out));  // hex is hex, whatever the case
  assert_false(out.view() != secret.view());
  // A key of the wrong size is refused, not read past.
  SecretBuffer short_key(16);
  short_key.resize(16);
  std::string s2;
  assert_false(SealSecret(short_key, secret, &s2).ok());
  assert_false(UnsealSecret(short_key, sealed, &out).ok());
}

void test_uri(void**) {
  assert_string_equal(
      TotpUri("apppass", "a b@c", "GEZDGNBV").c_str(),
      "otpauth://totp/"
      "apppass:a%20b@c?secret=GEZDGNBV&issuer=apppass&algorithm=SHA1&digits=6&period=30");
  assert_string_equal(
      TotpUri("Example Mail", "jos\xc3\xa9:x/y?z&w#v", "AB").c_str(),
      "otpauth://totp/Example%20Mail:jos%C3%A9%3Ax%2Fy%3Fz%26w%23v?secret=AB&issuer=Example%20Mail"
      "&algorithm=SHA1&digits=6&period=30");
  assert_string_equal(
      TotpUri("a.b-c_d~e", "alice", "X").c_str(),
      "otpauth://totp/a.b-c_d~e:alice?secret=X&issuer=a.b-c_d~e&algorithm=SHA1&digits=6&period=30");
  assert_string_equal(
      TotpUri("i", "100%+=", "X").c_str(),
      "otpauth://totp/i:100%25%2B%3D?secret=X&issuer=i&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6238_vectors),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_no_reuse),
      cmocka_unit_test(test_malformed_codes),
      cmocka_unit_test(test_new_secret_and_base32),
      cmocka_unit_test(test_seal_unseal),
      cmocka_unit_test(test_unseal_refuses),
      cmocka_unit_test(test_uri),
  };
  return cmocka_run_group_tests_name("totp", tests, nullptr, nullptr);
}
