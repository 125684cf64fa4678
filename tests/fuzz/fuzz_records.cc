// libFuzzer target (c, second half): the record decoders (common/records.h) on arbitrary
// bytes, and the verifier on a store whose credential record holds those bytes.
//
// The first byte chooses the record type ('0' credential, '1' user, '2' usage); the rest
// is the record as the store would hold it. Seeds are real records taken from a store
// made by the admin tool, so mutations are what a corrupted data.mdb page would hand the
// decoders. Checked:
//   - each decoder answers the same twice; what it accepts has valid fields (a credential's
//     user is a valid user name, at most 16 scopes) and survives Encode -> Decode unchanged;
//   - credential bytes are also written as the record of alice's first app password in a
//     small real store (fuzz_util.h), as they are (damage: the record tag, record_tag.h,
//     must make Verify answer unavailable) and sealed with the store's tag; then
//     Verify(alice, that password, imap) must give exactly the outcome the decoded record
//     calls for: unavailable when it does not decode, wrong-password when it names
//     another user, then revoked, expired, out-of-scope, accepted. No record that fails
//     its tag or its decoding can lead to acceptance.
// (LMDB pages themselves are not fuzzed here: LMDB trusts its page headers, see
// tests/fuzz/README.md.)
#include <algorithm>

#include "fuzz_util.h"
#include "password.h"
#include "records.h"
#include "store_internal.h"
#include "text.h"
#include "verifier.h"

namespace {

using fuzzutil::Fail;
using fuzzutil::Show;

apppass::Store g_store;  // the fuzz store, open for administration (the only environment)
std::string g_hash;      // key of alice's first app password in creds

bool Equal(const apppass::Credential& a, const apppass::Credential& b) {
  return a.version == b.version && a.id == b.id && a.user == b.user && a.name == b.name &&
         a.scopes == b.scopes && a.created == b.created && a.expires == b.expires &&
         a.revoked == b.revoked;
}
bool Equal(const apppass::UserRecord& a, const apppass::UserRecord& b) {
  return a.version == b.version && a.user == b.user && a.mfa == b.mfa &&
         a.sealed_secret == b.sealed_secret && a.enrolled == b.enrolled &&
         a.confirmed == b.confirmed && a.last_step == b.last_step && a.source == b.source &&
         a.code_failures == b.code_failures && a.code_window_start == b.code_window_start &&
         a.recovery == b.recovery;
}
bool Equal(const apppass::Usage& a, const apppass::Usage& b) {
  return a.version == b.version && a.time == b.time && a.service == b.service && a.rhost == b.rhost;
}

bool Same(const apppass::Status& a, const apppass::Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

template <typename Rec, typename Dec, typename Enc>
apppass::Status DecodeChecked(std::string_view in, Rec* out, Dec decode, Enc encode,
                              const char* what) {
  Rec a, b;
  const apppass::Status s1 = decode(in, &a);
  const apppass::Status s2 = decode(in, &b);
  if (!Same(s1, s2) || (s1.ok() && !Equal(a, b)))
    Fail(std::string(what) + ": decoded differently twice");
  if (!s1.ok() && s1.code() != apppass::Status::Code::kUnavailable)
    Fail(std::string(what) + ": refused with another code than Unavailable: " + s1.message());
  if (s1.ok()) {
    Rec again;
    const std::string enc = encode(a);
    const apppass::Status s3 = decode(enc, &again);
    if (!s3.ok()) Fail(std::string(what) + ": own encoding does not decode: " + s3.message());
    // A record of an older version is re-encoded as the current one.
    again.version = a.version;
    if (!Equal(a, again)) Fail(std::string(what) + ": changed by Encode -> Decode: " + Show(enc));
  }
  *out = a;
  return s1;
}

// Writes `rec` as the record of alice's first app password and checks that Verify gives
// exactly what it calls for: unavailable when it is not intact (its tag, record_tag.h)
// or does not decode, wrong-password when it names another user, then revoked, expired,
// out-of-scope, accepted.
void VerifyAgainst(const std::string& rec) {
  {
    apppass::LmdbTxn txn;
    fuzzutil::Check(
        apppass::LmdbTxn::Begin(apppass::internal::StoreAccess::env(g_store), true, &txn), "begin");
    fuzzutil::Check(txn.Put(apppass::internal::StoreAccess::dbs(g_store).creds, g_hash, rec),
                    "put");
    fuzzutil::Check(txn.Commit(), "commit");
  }
  apppass::Credential c;
  const bool intact = g_store.CredentialIntact(g_hash, rec);
  const bool decodes = apppass::DecodeCredential(rec, &c).ok();
  const std::int64_t now = std::time(nullptr);
  const auto& pw = fuzzutil::TheStore().creds[0];
  for (int i = 0; i < 2; ++i) {
    const apppass::Decision d = apppass::Verify(g_store, pw.user, pw.display, "imap", now);
    apppass::Outcome want = apppass::Outcome::kAccepted;
    if (!intact || !decodes) want = apppass::Outcome::kUnavailable;
    else if (c.user != pw.user) want = apppass::Outcome::kWrongPassword;
    else if (c.revoked) want = apppass::Outcome::kRevoked;
    else if (c.expires && *c.expires <= now) want = apppass::Outcome::kExpired;
    else if (!c.scopes.empty() &&
             std::find(c.scopes.begin(), c.scopes.end(), "imap") == c.scopes.end())
      want = apppass::Outcome::kOutOfScope;
    if (d.outcome != want)
      Fail("Verify on record " + Show(rec) + " gave " +
           std::string(apppass::OutcomeName(d.outcome)) + ", the record calls for " +
           std::string(apppass::OutcomeName(want)));
  }
}

void Credential(std::string_view in) {
  apppass::Credential c;
  const apppass::Status s =
      DecodeChecked(in, &c, apppass::DecodeCredential, apppass::EncodeCredential, "credential");
  if (s.ok()) {
    if (!apppass::ValidateUserName(c.user).ok())
      Fail("credential with invalid user " + Show(c.user));
    if (c.scopes.size() > apppass::kMaxScopes) Fail("credential with too many scopes");
    if (c.id.empty()) Fail("credential without id");
  }
  // The bytes as they are: damage, which the tag turns into unavailable (the seeds carry
  // another store's tags, so no mutation of them is intact here).
  const std::string raw(in);
  if (g_store.CredentialIntact(g_hash, raw)) Fail("fuzzed bytes carry a valid tag: " + Show(raw));
  VerifyAgainst(raw);
  // The same bytes sealed with this store's tag, as a buggy or newer apppass would write
  // them: the decoder's answer alone decides.
  VerifyAgainst(g_store.SealCredential(g_hash, raw));
}

void User(std::string_view in) {
  apppass::UserRecord u;
  const apppass::Status s = DecodeChecked(in, &u, apppass::DecodeUser, apppass::EncodeUser, "user");
  if (s.ok() && u.source.empty()) Fail("user record without source");
  if (s.ok() && (u.code_failures < 0 || u.code_window_start < 0))
    Fail("user record with a negative wrong-code count or window");
}

void UsageRecord(std::string_view in) {
  apppass::Usage u;
  DecodeChecked(in, &u, apppass::DecodeUsage, apppass::EncodeUsage, "usage");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzzutil::MakeStore(&g_store);
  const auto& pw = fuzzutil::TheStore().creds[0];
  apppass::SecretBuffer n(apppass::kMaxPasswordInput);
  fuzzutil::Check(apppass::NormalizePassword(pw.display, n), "normalize");
  unsigned char hash[apppass::kHashBytes];
  g_store.HashPassword(n, hash);
  g_hash.assign(reinterpret_cast<char*>(hash), sizeof hash);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: Credential(in); break;
    case 1: User(in); break;
    default: UsageRecord(in); break;
  }
  return 0;
}
