#include "password.h"

#include <sodium.h>

namespace apppass {

SecretBuffer GeneratePassword() {
  constexpr std::size_t kDisplayLen = kPasswordChars + kPasswordChars / kPasswordGroup - 1;
  SecretBuffer out(kDisplayLen + 1);
  if (!out.valid()) return out;
  for (std::size_t i = 0; i < kPasswordChars; ++i) {
    if (i > 0 && i % kPasswordGroup == 0) out.push_back('-');
    // randombytes_uniform is unbiased (rejection sampling) and uses the CSPRNG.
    const auto idx = randombytes_uniform(static_cast<std::uint32_t>(kPasswordAlphabet.size()));
    out.push_back(static_cast<unsigned char>(kPasswordAlphabet[idx]));
  }
  return out;
}

Status NormalizePassword(std::string_view input, SecretBuffer& out) {
  out.clear();
  if (input.empty()) return Status::InvalidArgument("password is empty");
  if (input.size() > kMaxPasswordInput || out.capacity() < input.size())
    return Status::InvalidArgument("password is too long");
  bool bad = false;
  for (char ch : input) {
    if (ch == ' ' || ch == '-' || ch == '\t') continue;
    char c = ch;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    // No early exit: the loop takes the same path for every character.
    bad |= kPasswordAlphabet.find(c) == std::string_view::npos;
    out.push_back(static_cast<unsigned char>(c));
  }
  if (bad || out.size() != kPasswordChars) {
    out.clear();
    return Status::InvalidArgument("not an app password");
  }
  return Status::Ok();
}

}  // namespace apppass
