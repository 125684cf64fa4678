#include "totp.h"

#include <liboath/oath.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace apppass {

namespace {

bool OathReady() {
  static const bool ok = oath_init() == OATH_OK;  // thread-safe static init
  return ok;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '@')
      out.push_back(ch);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace

SecretBuffer NewTotpSecret() {
  SecretBuffer s(kTotpSecretBytes);
  if (!s.valid()) return s;
  randombytes_buf(s.data(), kTotpSecretBytes);
  s.resize(kTotpSecretBytes);
  return s;
}

Status TotpBase32(const SecretBuffer& secret, SecretBuffer* out) {
  if (!OathReady()) return Status::Internal("liboath failed to initialize");
  char* b32 = nullptr;
  size_t len = 0;
  if (oath_base32_encode(reinterpret_cast<const char*>(secret.data()), secret.size(), &b32, &len) !=
      OATH_OK)
    return Status::Internal("base32 encoding failed");
  while (len > 0 && b32[len - 1] == '=') --len;
  SecretBuffer result(len + 1);
  const bool ok = result.valid() && result.assign({b32, len});
  sodium_memzero(b32, len);
  std::free(b32);
  if (!ok) return Status::Internal("out of secure memory");
  *out = std::move(result);
  return Status::Ok();
}

std::string TotpUri(std::string_view issuer, std::string_view user, std::string_view base32) {
  const std::string iss = PercentEncode(issuer);
  return fmt::format("otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
                     iss, PercentEncode(user), base32, iss, kTotpDigits, kTotpStep);
}

Status TotpMatch(const SecretBuffer& secret, std::string_view code, std::int64_t now, bool* matched,
                 std::int64_t* step) {
  *matched = false;
  *step = -1;
  if (!OathReady()) return Status::Internal("liboath failed to initialize");
  // What is compared: the typed code when it has the right length, else a filler that no
  // code equals (codes are digits), so the work below is the same for any input.
  char typed[kTotpDigits];
  const bool well_formed = code.size() == kTotpDigits && now >= 0;
  for (std::size_t i = 0; i < kTotpDigits; ++i) typed[i] = well_formed ? code[i] : 'x';
  const std::int64_t base = now >= 0 ? now / kTotpStep : 0;
  const auto window = static_cast<std::int64_t>(kTotpWindow);
  bool any = false;
  std::int64_t latest = -1;
  Status result = Status::Ok();
  for (std::int64_t k = -window; k <= window; ++k) {
    const std::int64_t counter = base + k;
    char otp[kTotpDigits + 1] = {};
    // A step before the epoch has no code: compare against another filler instead.
    const int rc = counter < 0
                       ? OATH_OK
                       : oath_hotp_generate(reinterpret_cast<const char*>(secret.data()),
                                            secret.size(), static_cast<std::uint64_t>(counter),
                                            kTotpDigits, false, OATH_HOTP_DYNAMIC_TRUNCATION, otp);
    if (counter < 0) std::fill(otp, otp + kTotpDigits, 'y');
    if (rc != OATH_OK) result = Status::Internal("TOTP computation failed");
    const bool eq = sodium_memcmp(otp, typed, kTotpDigits) == 0;
    sodium_memzero(otp, sizeof otp);
    // Steps rise with k: the last match is the latest step. No branch on the comparison.
    const auto mask = -static_cast<std::int64_t>(eq);
    latest = (counter & mask) | (latest & ~mask);
    any |= eq;
  }
  sodium_memzero(typed, sizeof typed);
  if (!result.ok()) return result;
  *matched = any && well_formed;
  *step = *matched ? latest : -1;
  return Status::Ok();
}

Status TotpCheck(const SecretBuffer& secret, std::string_view code, std::int64_t now,
                 std::int64_t last_step, std::int64_t* step) {
  if (!OathReady()) return Status::Internal("liboath failed to initialize");
  if (code.size() != kTotpDigits || code.find_first_not_of("0123456789") != std::string_view::npos)
    return Status::PermissionDenied("the code must be 6 digits");
  bool matched = false;
  std::int64_t at = -1;
  Status s = TotpMatch(secret, code, now, &matched, &at);
  if (!s.ok()) return s;
  if (!matched) return Status::PermissionDenied("wrong code (check the device's clock)");
  if (at <= last_step)
    return Status::PermissionDenied("this code was already used; wait for the next one");
  *step = at;
  return Status::Ok();
}

Status SealSecret(const SecretBuffer& key, const SecretBuffer& secret, std::string* sealed) {
  if (key.size() != crypto_secretbox_KEYBYTES) return Status::Internal("bad MFA key");
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + secret.size(), '\0');
  auto* p = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(p, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(p + crypto_secretbox_NONCEBYTES, secret.data(), secret.size(), p,
                        key.data());
  std::string hex(box.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), p, box.size());
  hex.pop_back();
  *sealed = std::move(hex);
  return Status::Ok();
}

Status UnsealSecret(const SecretBuffer& key, std::string_view sealed, SecretBuffer* secret) {
  constexpr std::size_t kOverhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
  std::string box(sealed.size() / 2, '\0');
  size_t len = 0;
  if (key.size() != crypto_secretbox_KEYBYTES ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), sealed.data(),
                     sealed.size(), nullptr, &len, nullptr) != 0 ||
      len != box.size() || len <= kOverhead)
    return Status::Unavailable("the stored TOTP secret is corrupt");
  SecretBuffer out(len - kOverhead);
  if (!out.valid()) return Status::Internal("out of secure memory");
  const auto* p = reinterpret_cast<const unsigned char*>(box.data());
  if (crypto_secretbox_open_easy(out.data(), p + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, p, key.data()) != 0)
    return Status::Unavailable("the stored TOTP secret does not match this store's mfa.key");
  out.resize(len - kOverhead);
  *secret = std::move(out);
  return Status::Ok();
}

}  // namespace apppass
