#include "recovery_codes.h"

#include <sodium.h>

#include "admin_internal.h"
#include "password.h"
#include "second_factor.h"

namespace apppass {

namespace {

// "xxxx-xxxx-xxxx": kRecoveryCodeChars characters in groups of four.
constexpr std::size_t kGroup = 4;
constexpr std::size_t kDisplayChars = kRecoveryCodeChars + kRecoveryCodeChars / kGroup - 1;

// One new code in display form; !valid() when secure memory runs out.
SecretBuffer NewRecoveryCode() {
  SecretBuffer out(kDisplayChars + 1);
  if (!out.valid()) return out;
  for (std::size_t i = 0; i < kRecoveryCodeChars; ++i) {
    if (i > 0 && i % kGroup == 0) out.push_back('-');
    // randombytes_uniform is unbiased (rejection sampling) and uses the CSPRNG.
    const auto idx = randombytes_uniform(static_cast<std::uint32_t>(kPasswordAlphabet.size()));
    out.push_back(static_cast<unsigned char>(kPasswordAlphabet[idx]));
  }
  return out;
}

}  // namespace

Status NormalizeRecoveryCode(std::string_view input, SecretBuffer& out) {
  out.clear();
  if (input.size() > kMaxCodeInput || out.capacity() < input.size())
    return Status::InvalidArgument("not a recovery code");
  bool bad = false;
  for (char ch : input) {
    if (ch == ' ' || ch == '-') continue;
    char c = ch;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    // No early exit: the loop takes the same path for every character.
    bad |= kPasswordAlphabet.find(c) == std::string_view::npos;
    out.push_back(static_cast<unsigned char>(c));
  }
  if (bad || out.size() != kRecoveryCodeChars) {
    out.clear();
    return Status::InvalidArgument("not a recovery code");
  }
  return Status::Ok();
}

Status NewRecoveryCodes(const Store& store, std::string_view user, std::vector<SecretBuffer>* codes,
                        std::vector<std::string>* hashes) {
  std::vector<SecretBuffer> made;
  std::vector<std::string> hexes;
  SecretBuffer normalized(kMaxCodeInput);
  if (!normalized.valid()) return Status::Internal("out of secure memory");
  while (made.size() < kMaxRecoveryCodes) {
    SecretBuffer code = NewRecoveryCode();
    if (!code.valid()) return Status::Internal("out of secure memory");
    if (!NormalizeRecoveryCode(code.view(), normalized).ok())
      return Status::Internal("a generated recovery code does not normalize");
    unsigned char hash[kHashBytes];
    store.HashRecoveryCode(user, normalized, hash);
    std::string hex(2 * kHashBytes + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), hash, kHashBytes);
    sodium_memzero(hash, sizeof hash);
    hex.pop_back();
    // Two equal codes among ten are a 2^-56 chance; never store one twice all the same.
    bool dup = false;
    for (const auto& h : hexes) dup |= h == hex;
    if (dup) continue;
    made.push_back(std::move(code));
    hexes.push_back(std::move(hex));
  }
  *codes = std::move(made);
  *hashes = std::move(hexes);
  return Status::Ok();
}

Status MfaRecoveryCodes(const Store& store, const std::string& user,
                        [[maybe_unused]] std::int64_t now, std::vector<SecretBuffer>* codes) {
  StoreTxn txn;
  UserRecord u;
  bool found = false;
  Status s = admin_internal::BeginUserUpdate(store, user, &txn, &u, &found);
  if (!s.ok()) return s;
  if (!found || u.mfa != MfaState::kConfirmed)
    return Status::PermissionDenied("MFA is not set up for this user");
  std::vector<SecretBuffer> made;
  if (!(s = NewRecoveryCodes(store, user, &made, &u.recovery)).ok()) return s;
  if (!(s = admin_internal::PutUser(txn, u)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *codes = std::move(made);
  return Status::Ok();
}

}  // namespace apppass
