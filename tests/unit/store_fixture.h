// The fixture of the store's unit tests (test_store.cc, test_verifier.cc, test_admin.cc,
// test_usage.cc): each test gets a fresh store in its own mkdtemp directory (Setup), with
// user "alice" enrolled and confirmed at kNow, opened for administration; helpers create,
// verify, list and revoke app passwords and read and write raw records. Time is always
// injected. Header-only; CMocka tests, one thread.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin.h"
#include "env_registry.h"
#include "files.h"
#include "lmdb_env.h"
#include "password.h"
#include "policy.h"
#include "records.h"
#include "store.h"
#include "store_internal.h"
#include "store_layout.h"
#include "store_modes.h"
#include "text.h"
#include "totp.h"
#include "usage.h"
#include "verifier.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace storetest {

using namespace std::string_literals;

// The middle of a TOTP step (step 56666667 runs from 1700000010 to 1700000039).
constexpr std::int64_t kNow = 1700000025;

struct Fixture {
  test::TempDir tmp;   // destroyed last: everything below lives in it
  std::string dir;     // the store: tmp/store
  std::string secret;  // alice's raw TOTP secret
  Store admin;         // the store opened in kAdmin mode

  std::string F(std::string_view name) const { return dir + "/" + std::string(name); }
};

inline int Setup(void** state) {
  auto* f = new Fixture;
  if (f->tmp.path().empty()) {
    print_error("mkdtemp failed\n");
    delete f;
    return -1;
  }
  f->dir = f->tmp.Join("store");
  const Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin, &f->secret);
  if (!s.ok()) {
    print_error("making the test store failed: %s\n", s.message().c_str());
    delete f;
    return -1;
  }
  *state = f;
  return 0;
}

inline int Teardown(void** state) {
  delete static_cast<Fixture*>(*state);
  return 0;
}

inline Fixture& Fx(void** state) { return *static_cast<Fixture*>(*state); }

// An app password and its credential, as created.
struct Made {
  std::string password;  // display form
  Credential cred;
};

inline Status Create(const Store& store, const std::string& user, const std::string& name,
                     Made* out, std::vector<std::string> scopes = {},
                     std::optional<std::int64_t> expires = {}, std::int64_t now = kNow) {
  CreateRequest req;
  req.user = user;
  req.name = name;
  req.scopes = std::move(scopes);
  req.all_services = req.scopes.empty();  // no scopes given: every service, on purpose
  req.expires = expires;
  Created c;
  Status s = CreatePassword(store, req, now, &c);
  if (s.ok() && out != nullptr) {
    out->password = std::string(c.password.view());
    out->cred = c.cred;
  }
  return s;
}

// Creates or fails the test.
inline Made MustCreate(const Store& store, const std::string& user, const std::string& name,
                       std::vector<std::string> scopes = {},
                       std::optional<std::int64_t> expires = {}) {
  Made m;
  const Status s = Create(store, user, name, &m, std::move(scopes), expires);
  if (!s.ok())
    fail_msg("creating '%s' for %s: %s", name.c_str(), user.c_str(), s.message().c_str());
  return m;
}

inline Decision V(const Store& store, std::string_view user, std::string_view password,
                  std::string_view service = "imap", std::int64_t now = kNow) {
  return Verify(store, user, password, service, now);
}

// What a PAM or SASL shim does: open for verifying, then verify; a store that cannot be
// opened is an unavailable decision.
inline Decision OpenAndVerify(const std::string& dir, std::string_view user,
                              std::string_view password) {
  Store store;
  const Status s = Store::Open(dir, Store::Mode::kVerify, &store);
  if (!s.ok()) {
    Decision d;
    d.detail = s.message();
    return d;
  }
  return Verify(store, user, password, "imap", kNow);
}

// A 6-digit code that is none of the codes valid at `now` (one step either way).
inline std::string WrongCode(const std::string& secret, std::int64_t now) {
  std::string code = test::TotpAt(secret, now);
  for (int d = 1; d < 10; ++d) {
    code[5] = static_cast<char>('0' + (code[5] - '0' + 1) % 10);
    if (code != test::TotpAt(secret, now - 30) && code != test::TotpAt(secret, now) &&
        code != test::TotpAt(secret, now + 30))
      break;
  }
  return code;
}

inline Status OpenVerify(const std::string& dir) {
  Store s;
  return Store::Open(dir, Store::Mode::kVerify, &s);
}
inline Status OpenAdmin(const std::string& dir) {
  Store s;
  return Store::Open(dir, Store::Mode::kAdmin, &s);
}

// Both modes refuse the store with Unavailable (and a message containing `why`).
inline void ExpectUnopenable(const std::string& dir, const char* why) {
  const Status v = OpenVerify(dir), a = OpenAdmin(dir);
  if (v.code() != Status::Code::kUnavailable || a.code() != Status::Code::kUnavailable)
    fail_msg("store opened or wrong code: verify %s (%s), admin %s (%s)", test::CodeName(v.code()),
             v.message().c_str(), test::CodeName(a.code()), a.message().c_str());
  ASSERT_CONTAINS(v.message(), why);
  ASSERT_CONTAINS(a.message(), why);
}

inline void ExpectOpenable(const std::string& dir) {
  ASSERT_OK(OpenVerify(dir));
  ASSERT_OK(OpenAdmin(dir));
}

inline std::vector<Listed> List(const Store& store, const std::string& user, bool include_revoked) {
  std::vector<Listed> out;
  ASSERT_OK(ListPasswords(store, user, include_revoked, &out));
  return out;
}

inline std::vector<std::string> Revoke(const Store& store, const std::string& user,
                                       RevokeSelector sel, std::int64_t now = kNow) {
  std::vector<std::string> ids;
  ASSERT_OK(RevokePasswords(store, user, sel, now, &ids));
  return ids;
}

// The raw value of the credential `m` (its record as stored, tag included).
inline std::string RawRecord(const Store& store, const Made& m) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), false, &txn));
  std::string_view hash, rec;
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).ids, m.cred.id, &hash));
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).creds, hash, &rec));
  return std::string(rec);
}

inline void PutRawRecord(const Store& store, const Made& m, const std::string& rec) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), true, &txn));
  std::string_view hash;
  ASSERT_OK(txn.Get(apppass::internal::StoreAccess::dbs(store).ids, m.cred.id, &hash));
  const std::string h(hash);
  ASSERT_OK(txn.Put(apppass::internal::StoreAccess::dbs(store).creds, h, rec));
  ASSERT_OK(txn.Commit());
}

}  // namespace storetest
}  // namespace apppass

// A CMocka test of `f` with the fixture: Setup before it, Teardown after it.
#define STORE_TEST(f) \
  cmocka_unit_test_setup_teardown(f, apppass::storetest::Setup, apppass::storetest::Teardown)
