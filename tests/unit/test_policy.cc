// Unit tests of policy.h: the defaults, setting each key and reading it back (in this and
// a newly opened Store), every invalid value refused with the policy unchanged, and a
// corrupt or unknown-version record refused (Unavailable) by everything that reads it,
// never taken for a looser rule. The fixture is store_fixture.h.

#include "store_check.h"
#include "store_fixture.h"

namespace apppass {
namespace {

using namespace storetest;

// Writes meta "policy" below the Store API (a damaged or future record).
void PutRawPolicy(const Store& store, const std::string& value) {
  LmdbTxn txn;
  ASSERT_OK(LmdbTxn::Begin(apppass::internal::StoreAccess::env(store), true, &txn));
  ASSERT_OK(txn.Put(apppass::internal::StoreAccess::dbs(store).meta, "policy", value));
  ASSERT_OK(txn.Commit());
}

Policy Read(const Store& store) {
  Policy p;
  ASSERT_OK(ReadPolicy(store, &p));
  return p;
}

// Every key's text form, `key value` lines in kPolicyKeys order (what `policy show` prints).
std::string Shown(const Policy& p) {
  std::string out;
  for (std::string_view k : kPolicyKeys) out += std::string(k) + " " + PolicyValueText(p, k) + "\n";
  return out;
}

constexpr const char* kDefaultsShown =
    "self_enroll no\nself_service_scopes imap pop3 smtp sieve\nmax_active 25\n"
    "default_expiry never\nmax_expiry never\n";

void test_defaults(void** state) {
  Fixture& f = Fx(state);
  const Policy p = Read(f.admin);
  assert_false(p.self_enroll);
  assert_true(p.self_service_scopes == (std::vector<std::string>{"imap", "pop3", "smtp", "sieve"}));
  assert_int_equal(p.max_active, kDefaultMaxActive);
  assert_false(p.default_expiry.has_value());
  assert_false(p.max_expiry.has_value());
  assert_string_equal(Shown(p).c_str(), kDefaultsShown);
  assert_string_equal(PolicyValueText(p, "nonsense").c_str(), "");
  assert_false(EffectiveDefaultExpiry(p).has_value());
  // A verifier's read-only Store reads it too.
  Store v;
  ASSERT_OK(Store::Open(f.dir, Store::Mode::kVerify, &v));
  assert_string_equal(Shown(Read(v)).c_str(), kDefaultsShown);
}

void test_set_and_show(void** state) {
  Fixture& f = Fx(state);
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "yes"));
  ASSERT_OK(SetPolicy(f.admin, "self_service_scopes", "  imap   smtp "));
  ASSERT_OK(SetPolicy(f.admin, "max_active", "3"));
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "2w"));
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "90"));
  Policy p = Read(f.admin);
  assert_true(p.self_enroll);
  assert_true(p.self_service_scopes == (std::vector<std::string>{"imap", "smtp"}));
  assert_int_equal(p.max_active, 3);
  assert_int_equal(*p.default_expiry, 90);
  assert_int_equal(*p.max_expiry, 14 * 86400);
  assert_string_equal(Shown(p).c_str(),
                      "self_enroll yes\nself_service_scopes imap smtp\nmax_active 3\n"
                      "default_expiry 90s\nmax_expiry 14d\n");
  // Persisted: a newly opened Store sees the same.
  {
    Store again;
    ASSERT_OK(Store::Open(f.dir, Store::Mode::kAdmin, &again));
    assert_string_equal(Shown(Read(again)).c_str(), Shown(p).c_str());
  }
  // Each text form reads back to the same value.
  for (std::string_view k : kPolicyKeys) ASSERT_OK(SetPolicy(f.admin, k, PolicyValueText(p, k)));
  assert_string_equal(Shown(Read(f.admin)).c_str(), Shown(p).c_str());
  // The other spellings of yes/no; durations in their largest unit; never.
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "off"));
  assert_false(Read(f.admin).self_enroll);
  ASSERT_OK(SetPolicy(f.admin, "self_enroll", "true"));
  assert_true(Read(f.admin).self_enroll);
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "36h"));
  assert_string_equal(PolicyValueText(Read(f.admin), "default_expiry").c_str(), "36h");
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "120m"));
  assert_string_equal(PolicyValueText(Read(f.admin), "default_expiry").c_str(), "2h");
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "never"));
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "never"));
  ASSERT_OK(SetPolicy(f.admin, "max_active", "1000"));
  ASSERT_OK(SetPolicy(f.admin, "max_active", "1"));
  ASSERT_OK(SetPolicy(f.admin, "self_service_scopes", "imap"));
  p = Read(f.admin);
  assert_string_equal(Shown(p).c_str(),
                      "self_enroll yes\nself_service_scopes imap\nmax_active 1\n"
                      "default_expiry never\nmax_expiry never\n");
  // With no default, a user gets max_expiry.
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "30d"));
  assert_int_equal(*EffectiveDefaultExpiry(Read(f.admin)), 30 * 86400);
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "7d"));
  assert_int_equal(*EffectiveDefaultExpiry(Read(f.admin)), 7 * 86400);
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "30d"));  // equal is fine
  // Reset: the defaults again.
  ASSERT_OK(ResetPolicy(f.admin));
  assert_string_equal(Shown(Read(f.admin)).c_str(), kDefaultsShown);
  ASSERT_OK(ResetPolicy(f.admin));  // nothing to remove is fine
}

void test_encode_decode(void** state) {
  (void)state;
  Policy p;
  p.self_enroll = true;
  p.self_service_scopes = {"imap", "managesieve"};
  p.max_active = 7;
  p.max_expiry = 86400;
  const std::string rec = EncodePolicy(p);
  ASSERT_CONTAINS(rec, "\"version\":1");
  Policy q;
  ASSERT_OK(DecodePolicy(rec, &q));
  assert_string_equal(Shown(q).c_str(), Shown(p).c_str());
  assert_string_equal(DurationText(1).c_str(), "1s");
  assert_string_equal(DurationText(60).c_str(), "1m");
  assert_string_equal(DurationText(86400 * 90).c_str(), "90d");
  assert_string_equal(DurationText(3600 * 25).c_str(), "25h");
}

// `value` for `key` is refused with InvalidArgument (its message containing `why`) and
// the policy is what it was.
void ExpectRefused(const Store& store, std::string_view key, std::string_view value,
                   const char* why) {
  const std::string before = Shown(Read(store));
  const Status s = SetPolicy(store, key, value);
  if (s.code() != Status::Code::kInvalidArgument)
    fail_msg("%.*s=%.*s: %s (%s)", static_cast<int>(key.size()), key.data(),
             static_cast<int>(value.size()), value.data(), test::CodeName(s.code()),
             s.message().c_str());
  ASSERT_CONTAINS(s.message(), why);
  assert_string_equal(Shown(Read(store)).c_str(), before.c_str());
}

void test_invalid_values(void** state) {
  Fixture& f = Fx(state);
  for (const char* v : {"", "maybe", "YES", "y", "2", " yes"})
    ExpectRefused(f.admin, "self_enroll", v, "yes or no");
  ExpectRefused(f.admin, "self_service_scopes", "", "at least one");
  ExpectRefused(f.admin, "self_service_scopes", "   ", "at least one");
  ExpectRefused(f.admin, "self_service_scopes", "imap smtp imap", "twice");
  ExpectRefused(f.admin, "self_service_scopes", "IMAP", "self_service_scopes");
  ExpectRefused(f.admin, "self_service_scopes", "imap sm/tp", "self_service_scopes");
  ExpectRefused(f.admin, "self_service_scopes", "imap\tsmtp", "self_service_scopes");
  ExpectRefused(f.admin, "self_service_scopes", std::string(33, 'a'), "self_service_scopes");
  std::string many;
  for (int i = 0; i < 65; ++i) many += "s" + std::to_string(i) + " ";
  ExpectRefused(f.admin, "self_service_scopes", many, "at most 64");
  for (const char* v :
       {"", "0", "1001", "-1", "+5", "abc", "25 ", " 25", "1e3", "2.5", "99999999999999999999"})
    ExpectRefused(f.admin, "max_active", v, "1 to 1000");
  for (const char* key : {"default_expiry", "max_expiry"})
    for (const char* v : {"", "0", "0d", "-5d", "90x", "Never", "NEVER", "d", "40000d", " 90d"})
      ExpectRefused(f.admin, key, v, "or never");
  for (const char* key : {"", "max-active", "policy", "SELF_ENROLL", "self_enroll "})
    ExpectRefused(f.admin, key, "yes", "unknown policy key");
  // A value's bytes are shown escaped, never raw.
  const Status s = SetPolicy(f.admin, "max_active", "\x1b[31m");
  ASSERT_CODE(s, kInvalidArgument);
  assert_true(s.message().find('\x1b') == std::string::npos);
  // default_expiry may not exceed max_expiry, whichever is set first.
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "7d"));
  ExpectRefused(f.admin, "default_expiry", "8d", "longer than max_expiry");
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "1d"));
  ExpectRefused(f.admin, "max_expiry", "12h", "longer than max_expiry");
  // A default of never under a max is fine: a user then gets the max.
  ASSERT_OK(SetPolicy(f.admin, "default_expiry", "never"));
  ASSERT_OK(SetPolicy(f.admin, "max_expiry", "never"));
}

void test_corrupt_record(void** state) {
  Fixture& f = Fx(state);
  const std::string good = EncodePolicy(Policy{});
  const std::vector<std::string> bad = {
      "",
      "garbage",
      "[]",
      "{}",
      "null",
      R"({"version":2,"self_enroll":false,"self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":"1","self_enroll":false,"self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":"no","self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":[],"max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["IMAP"],"max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":"imap","max_active":25,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":0,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":5000,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":25.5,)"
      R"("default_expiry":null,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":-1,"max_expiry":null})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":100,"max_expiry":10})",
      R"({"version":1,"self_enroll":false,"self_service_scopes":["imap"],"max_active":25,)"
      R"("default_expiry":null})",
      good.substr(0, good.size() - 1),
      good + std::string(20000, ' '),
  };
  for (const std::string& rec : bad) {
    PutRawPolicy(f.admin, rec);
    Policy p;
    const Status s = ReadPolicy(f.admin, &p);
    if (s.code() != Status::Code::kUnavailable)
      fail_msg("record '%s' read as %s", rec.substr(0, 80).c_str(), test::CodeName(s.code()));
    ASSERT_CONTAINS(s.message(), "corrupt policy record");
    ASSERT_CONTAINS(s.message(), "policy reset");
    // Never a looser rule: setting a key and creating are refused too, and nothing changes.
    ASSERT_CODE(SetPolicy(f.admin, "max_active", "1000"), kUnavailable);
    Made m;
    ASSERT_CODE(Create(f.admin, "alice", "phone", &m), kUnavailable);
    assert_true(List(f.admin, "alice", true).empty());
    // The check reports it as a problem.
    CheckReport r;
    ASSERT_OK(CheckStore(f.dir, CheckOptions{.now = kNow, .timeout_seconds = 60}, &r));
    bool reported = false;
    for (const auto& fd : r.findings)
      reported |= fd.level == CheckLevel::kProblem && fd.table == "meta" && fd.key == "policy";
    assert_true(reported);
  }
  // The way out: reset, then the defaults apply and create works.
  ASSERT_OK(ResetPolicy(f.admin));
  Policy p;
  ASSERT_OK(ReadPolicy(f.admin, &p));
  assert_string_equal(Shown(p).c_str(), kDefaultsShown);
  MustCreate(f.admin, "alice", "phone");
  // A good record checks clean.
  ASSERT_OK(SetPolicy(f.admin, "max_active", "1000"));
  CheckReport r;
  ASSERT_OK(CheckStore(f.dir, CheckOptions{.now = kNow, .timeout_seconds = 60}, &r));
  for (const auto& fd : r.findings) assert_true(fd.table != "meta");
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      STORE_TEST(test_defaults),       STORE_TEST(test_set_and_show),
      STORE_TEST(test_encode_decode),  STORE_TEST(test_invalid_values),
      STORE_TEST(test_corrupt_record),
  };
  return cmocka_run_group_tests_name("policy", tests, nullptr, nullptr);
}
