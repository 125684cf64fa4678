#include "second_factor.h"

#include <sodium.h>

#include <array>
#include <utility>

#include "admin_internal.h"
#include "code_throttle.h"
#include "records.h"
#include "recovery_codes.h"
#include "secret.h"
#include "text.h"
#include "totp.h"

namespace apppass {

namespace {

constexpr std::array<std::pair<CodeOutcome, std::string_view>, 8> kNames = {{
    {CodeOutcome::kAccepted, "accepted"},
    {CodeOutcome::kRecoveryCode, "recovery-code"},
    {CodeOutcome::kNotEnrolled, "not-enrolled"},
    {CodeOutcome::kThrottled, "throttled"},
    {CodeOutcome::kReusedCode, "reused-code"},
    {CodeOutcome::kWrongCode, "wrong-code"},
    {CodeOutcome::kBadInput, "bad-input"},
    {CodeOutcome::kUnavailable, "unavailable"},
}};

CodeDecision Decided(CodeOutcome o, std::string detail = {}) {
  CodeDecision d;
  d.outcome = o;
  d.detail = std::move(detail);
  return d;
}

// `code` without its spaces ("123 456"), into `out` (capacity >= kMaxCodeInput).
void StripSpaces(std::string_view code, SecretBuffer& out) {
  out.clear();
  for (char ch : code)
    if (ch != ' ') out.push_back(static_cast<unsigned char>(ch));
}

// 1 + the index of the stored hash (hex) equal to `hex` (2*kHashBytes characters), 0 when
// none is or `usable` is false. Every stored hash is compared in constant time, no early
// exit, no branch on a comparison.
std::size_t MatchRecovery(const std::vector<std::string>& stored, const char* hex, bool usable) {
  std::size_t match = 0;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    // DecodeUser keeps each entry 2*kHashBytes long; a shorter one could only be foreign.
    const bool fits = stored[i].size() == 2 * kHashBytes;
    const bool eq = sodium_memcmp(fits ? stored[i].data() : hex, hex, 2 * kHashBytes) == 0 && fits;
    const std::size_t mask = -static_cast<std::size_t>(eq && usable);
    match = ((i + 1) & mask) | (match & ~mask);
  }
  return match;
}

CodeDecision Check(const Store& store, std::string_view user, std::string_view code,
                   std::int64_t now) {
  using namespace admin_internal;
  // Input that is no attempt at a code: nothing counted, nothing written.
  if (code.empty()) return Decided(CodeOutcome::kBadInput, "no code was entered");
  if (code.size() > kMaxCodeInput) return Decided(CodeOutcome::kBadInput, "the code is too long");
  if (code.find('\0') != std::string_view::npos)
    return Decided(CodeOutcome::kBadInput, "the code contains a NUL byte");
  Status s = ValidateUserName(user);
  if (!s.ok()) return Decided(CodeOutcome::kBadInput, s.message());
  if (!store.is_open() || store.mfa_key().size() != crypto_secretbox_KEYBYTES)
    return Decided(CodeOutcome::kUnavailable, "the store is not open for administration");

  // One write transaction from the read of the enrollment to the commit of what the code
  // did: LMDB serializes writers, so of two processes with one code exactly one spends it.
  StoreTxn txn;
  UserRecord u;
  bool found = false;
  if (!(s = BeginUserUpdate(store, std::string(user), &txn, &u, &found)).ok())
    return Decided(CodeOutcome::kUnavailable, s.message());
  if (!found || u.mfa != MfaState::kConfirmed) return Decided(CodeOutcome::kNotEnrolled);
  // The lockout before anything is compared: a right code is refused too, and not spent.
  if (!(s = CodeThrottleCheck(u, now)).ok()) return Decided(CodeOutcome::kThrottled, s.message());

  SecretBuffer secret, typed(kMaxCodeInput), recovery(kMaxCodeInput);
  if (!typed.valid() || !recovery.valid())
    return Decided(CodeOutcome::kUnavailable, "out of secure memory");
  if (!(s = UnsealSecret(store.mfa_key(), u.sealed_secret, &secret)).ok())
    return Decided(CodeOutcome::kUnavailable, s.message());

  // Both kinds of code, whatever was typed: every TOTP step of the window and every stored
  // recovery hash compared, so a wrong and a reused code take the same path to here.
  StripSpaces(code, typed);
  bool totp = false;
  std::int64_t step = -1;
  s = TotpMatch(secret, typed.view(), now, &totp, &step);
  typed.clear();
  if (!s.ok()) return Decided(CodeOutcome::kUnavailable, s.message());
  const bool is_recovery = NormalizeRecoveryCode(code, recovery).ok();
  unsigned char hash[kHashBytes];
  store.HashRecoveryCode(user, recovery, hash);
  recovery.clear();
  char hex[2 * kHashBytes + 1];
  sodium_bin2hex(hex, sizeof hex, hash, kHashBytes);
  const std::size_t match = MatchRecovery(u.recovery, hex, is_recovery);
  sodium_memzero(hash, sizeof hash);
  sodium_memzero(hex, sizeof hex);

  CodeDecision d;
  if (totp && step > u.last_step) {
    d.outcome = CodeOutcome::kAccepted;
    u.last_step = step;
    ClearCodeFailures(&u);
  } else if (match != 0) {
    d.outcome = CodeOutcome::kRecoveryCode;
    u.recovery.erase(u.recovery.begin() + static_cast<std::ptrdiff_t>(match - 1));
    ClearCodeFailures(&u);
    d.recovery_codes_left = static_cast<int>(u.recovery.size());
  } else {
    // A reused and a wrong code: the same count and the same commit.
    d.outcome = totp ? CodeOutcome::kReusedCode : CodeOutcome::kWrongCode;
    CountCodeFailure(&u, now);
  }
  if (!(s = PutUser(txn, u)).ok() || !(s = txn.Commit()).ok())
    return Decided(CodeOutcome::kUnavailable, s.message());
  return d;
}

}  // namespace

std::string_view CodeOutcomeName(CodeOutcome o) {
  for (const auto& [outcome, name] : kNames)
    if (outcome == o) return name;
  return "unavailable";
}

CodeOutcome CodeOutcomeFromName(std::string_view name) {
  for (const auto& [outcome, n] : kNames)
    if (n == name) return outcome;
  return CodeOutcome::kUnavailable;
}

CodeDecision CheckLoginCode(const Store& store, std::string_view user, std::string_view code,
                            std::int64_t now) {
  try {
    return Check(store, user, code, now);
  } catch (...) {  // out of memory: refused, nothing committed
    return Decided(CodeOutcome::kUnavailable, "out of memory");
  }
}

}  // namespace apppass
