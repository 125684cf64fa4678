#include "verifier.h"

#include <sodium.h>

#include <algorithm>

#include "password.h"
#include "records.h"
#include "text.h"

namespace apppass {

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kUnknownUser: return "unknown-user";
    case Outcome::kWrongPassword: return "wrong-password";
    case Outcome::kRevoked: return "revoked";
    case Outcome::kExpired: return "expired";
    case Outcome::kOutOfScope: return "out-of-scope";
    case Outcome::kBadInput: return "bad-input";
    case Outcome::kUnavailable: return "unavailable";
  }
  return "unavailable";
}

Decision Verify(const Store& store, std::string_view user, std::string_view password,
                std::string_view service, std::int64_t now) {
  Decision d;
  if (store.env().get() == nullptr) {
    d.detail = "store not open";
    return d;  // kUnavailable
  }
  Status s = ValidateUserName(user);
  if (!s.ok()) {
    d.outcome = Outcome::kBadInput;
    d.detail = s.message();
    return d;
  }
  if (password.empty() || password.size() > kMaxPasswordInput ||
      password.find('\0') != std::string_view::npos) {
    d.outcome = Outcome::kBadInput;
    d.detail = password.empty() ? "empty password"
               : password.size() > kMaxPasswordInput ? "password longer than 512 bytes"
                                                      : "password contains a NUL byte";
    return d;
  }
  SecretBuffer normalized(kMaxPasswordInput);
  unsigned char hash[kHashBytes] = {};
  if (!normalized.valid()) {
    d.detail = "out of secure memory";
    return d;  // kUnavailable
  }
  // A string that cannot be an app password still costs the same lookups below (it
  // hashes to a key that is never found), so its timing tells nothing more.
  const bool well_formed = NormalizePassword(password, normalized).ok();
  if (!well_formed) normalized.assign("\x01not-an-app-password");
  store.HashPassword(normalized, hash);
  normalized.clear();

  LmdbTxn txn;
  s = LmdbTxn::Begin(store.env(), false, &txn);
  if (!s.ok()) {
    sodium_memzero(hash, sizeof hash);
    d.detail = s.message();
    return d;
  }
  std::string_view rec, user_rec;
  const Status found = txn.Get(store.dbs().creds, {reinterpret_cast<char*>(hash), kHashBytes}, &rec);
  sodium_memzero(hash, sizeof hash);
  const Status user_found = txn.Get(store.dbs().users, user, &user_rec);
  if ((!found.ok() && !found.IsNotFound()) || (!user_found.ok() && !user_found.IsNotFound())) {
    d.detail = !found.ok() && !found.IsNotFound() ? found.message() : user_found.message();
    return d;
  }
  Credential c;
  if (found.ok()) {
    s = DecodeCredential(rec, &c);
    if (!s.ok()) {
      d.detail = s.message();
      return d;
    }
  }
  if (!well_formed || !found.ok() || c.user != user) {
    d.outcome = user_found.ok() ? Outcome::kWrongPassword : Outcome::kUnknownUser;
    return d;
  }
  d.id = c.id;
  d.name = c.name;
  if (c.revoked) {
    d.outcome = Outcome::kRevoked;
  } else if (c.expires && *c.expires <= now) {
    d.outcome = Outcome::kExpired;
  } else if (!c.scopes.empty() &&
             std::find(c.scopes.begin(), c.scopes.end(), service) == c.scopes.end()) {
    d.outcome = Outcome::kOutOfScope;
  } else {
    d.outcome = Outcome::kAccepted;
  }
  return d;
}

}  // namespace apppass
