// Unit tests of records.h: encoding and strict, versioned, non-throwing decoding of the
// store's records.

#include "records.h"

#include <string>
#include <vector>

#include "text.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using namespace std::string_literals;

const std::string kCred =
    R"({"v":1,"id":"4f2a9c1e","user":"alice","name":"iPhone","scopes":["imap"],)"
    R"("created":1700000000,"expires":null,"revoked":null})";
const std::string kUser =
    R"({"v":1,"user":"alice","mfa":"confirmed","secret":"abcd","enrolled":10,"confirmed":20,)"
    R"("last_step":56666666})";
const std::string kUsage = R"({"v":1,"time":1700000000,"service":"imap","rhost":"192.0.2.7"})";

// Replaces the first `"key":<value>` in `json` with `"key":<replacement>`.
std::string WithField(const std::string& json, const std::string& key,
                      const std::string& replacement) {
  const std::string k = "\"" + key + "\":";
  const auto at = json.find(k);
  if (at == std::string::npos) return json;
  auto end = at + k.size();
  int depth = 0;
  bool in_string = false;
  for (; end < json.size(); ++end) {
    const char c = json[end];
    if (in_string) {
      if (c == '\\') ++end;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') ++depth;
    else if ((c == ']' || c == '}') && depth > 0) --depth;
    else if ((c == ',' || c == '}') && depth == 0) break;
  }
  return json.substr(0, at + k.size()) + replacement + json.substr(end);
}

// Removes `"key":<value>` from `json`.
std::string WithoutField(const std::string& json, const std::string& key) {
  std::string s = WithField(json, key, "\x01");
  const auto at = s.find("\"" + key + "\":\x01");
  const auto len = key.size() + 4;
  if (at == std::string::npos) return json;
  if (s[at + len] == ',') return s.erase(at, len + 1);
  return s.erase(at - 1, len + 1);  // last field: take the comma before it
}

void test_credential_round_trip(void**) {
  Credential c;
  c.id = "0a1b2c3d";
  c.user = "jos\xc3\xa9@example.com";
  c.name = "Thunderbird \"work\" \xf0\x9f\x93\xb1";
  c.scopes = {"imap", "smtp"};
  c.created = 1700000000;
  c.expires = 1800000000;
  c.revoked = 1750000000;
  Credential d;
  ASSERT_OK(DecodeCredential(EncodeCredential(c), &d));
  assert_int_equal(d.version, kCredentialVersion);
  assert_string_equal(d.id.c_str(), c.id.c_str());
  assert_string_equal(d.user.c_str(), c.user.c_str());
  assert_string_equal(d.name.c_str(), c.name.c_str());
  assert_true(d.scopes == c.scopes);
  assert_int_equal(d.created, c.created);
  assert_true(d.expires && *d.expires == 1800000000);
  assert_true(d.revoked && *d.revoked == 1750000000);

  // Optional fields absent, no scopes; decoding into a used record resets them.
  Credential plain;
  plain.id = "ffffffff";
  plain.user = "bob";
  plain.name = "laptop";
  plain.created = 5;
  ASSERT_OK(DecodeCredential(EncodeCredential(plain), &d));
  assert_true(d.scopes.empty());
  assert_false(d.expires.has_value());
  assert_false(d.revoked.has_value());
  assert_string_equal(d.user.c_str(), "bob");
  // Negative and large times survive.
  plain.created = -1;
  plain.expires = INT64_MAX;
  ASSERT_OK(DecodeCredential(EncodeCredential(plain), &d));
  assert_int_equal(d.created, -1);
  assert_true(*d.expires == INT64_MAX);
}

void test_user_round_trip(void**) {
  for (MfaState state : {MfaState::kNone, MfaState::kPending, MfaState::kConfirmed}) {
    UserRecord u;
    u.user = "alice";
    u.mfa = state;
    u.sealed_secret = "00ff11ee";
    u.enrolled = 1700000000;
    if (state == MfaState::kConfirmed) u.confirmed = 1700000030;
    u.last_step = state == MfaState::kConfirmed ? 56666667 : -1;
    UserRecord d;
    ASSERT_OK(DecodeUser(EncodeUser(u), &d));
    assert_int_equal(d.version, kUserVersion);
    assert_string_equal(d.user.c_str(), "alice");
    assert_true(d.mfa == state);
    assert_string_equal(d.sealed_secret.c_str(), "00ff11ee");
    assert_int_equal(d.enrolled, 1700000000);
    assert_true(d.confirmed == u.confirmed);
    assert_int_equal(d.last_step, u.last_step);
  }
  assert_true(MfaStateName(MfaState::kNone) == "none");
  assert_true(MfaStateName(MfaState::kPending) == "pending");
  assert_true(MfaStateName(MfaState::kConfirmed) == "confirmed");
}

// The wrong-code throttle's fields (code_throttle.h), added within version 1: a record
// without them (every record an older apppass wrote) has none counted; they are written
// only while not both zero, so such a record encodes as before; present, they must be
// non-negative integers.
void test_user_throttle_fields(void**) {
  UserRecord u;
  ASSERT_OK(DecodeUser(kUser, &u));
  assert_int_equal(u.code_failures, 0);
  assert_int_equal(u.code_window_start, 0);
  assert_true(EncodeUser(u).find("code_") == std::string::npos);
  u.code_failures = 5;
  u.code_window_start = 1700000055;
  const std::string enc = EncodeUser(u);
  ASSERT_CONTAINS(enc, R"("code_failures":5)");
  ASSERT_CONTAINS(enc, R"("code_window_start":1700000055)");
  UserRecord d;
  ASSERT_OK(DecodeUser(enc, &d));
  assert_int_equal(d.code_failures, 5);
  assert_int_equal(d.code_window_start, 1700000055);
  // Decoding into a used record takes the record's values, absent ones included.
  ASSERT_OK(DecodeUser(kUser, &d));
  assert_int_equal(d.code_failures, 0);
  assert_int_equal(d.code_window_start, 0);
  // Each alone (a start without failures survives Encode -> Decode too).
  const std::string one = WithField(kUser, "last_step", "56666666,\"code_failures\":2");
  ASSERT_OK(DecodeUser(one, &d));
  assert_int_equal(d.code_failures, 2);
  assert_int_equal(d.code_window_start, 0);
  const std::string start = WithField(kUser, "last_step", "56666666,\"code_window_start\":9");
  ASSERT_OK(DecodeUser(start, &d));
  UserRecord again;
  ASSERT_OK(DecodeUser(EncodeUser(d), &again));
  assert_int_equal(again.code_window_start, 9);
  for (const char* bad : {"-1", "1.5", "\"3\"", "null", "2147483648", "[1]"}) {
    for (const char* field : {"code_failures", "code_window_start"}) {
      const std::string rec = WithField(kUser, "last_step", "56666666,\""s + field + "\":" + bad);
      const Status s = DecodeUser(rec, &d);
      // 2^31 is a valid window start; every other value is refused for both.
      if (std::string(bad) == "2147483648" && std::string(field) == "code_window_start") {
        ASSERT_OK(s);
        continue;
      }
      if (s.code() != Status::Code::kUnavailable)
        fail_msg("user record with %s=%s accepted", field, bad);
      ASSERT_CONTAINS(s.message(), field);
    }
  }
}

// Recovery code hashes (recovery_codes.h), added within version 1: absent means none and
// is not written when empty; present, at most kMaxRecoveryCodes strings of 64 lowercase hex
// digits. Anything else makes the record corrupt (Unavailable naming the field), never
// half-read.
void test_user_recovery_field(void**) {
  UserRecord u;
  ASSERT_OK(DecodeUser(kUser, &u));
  assert_true(u.recovery.empty());
  assert_true(EncodeUser(u).find("recovery") == std::string::npos);
  const std::string h1(64, 'a'), h2 = std::string(32, '0') + std::string(32, 'f');
  u.recovery = {h1, h2};
  UserRecord d;
  ASSERT_OK(DecodeUser(EncodeUser(u), &d));
  assert_true(d.recovery == u.recovery);
  u.recovery.assign(kMaxRecoveryCodes, h1);
  ASSERT_OK(DecodeUser(EncodeUser(u), &d));
  assert_int_equal(d.recovery.size(), kMaxRecoveryCodes);
  // Decoding into a used record takes the record's value, absent included.
  ASSERT_OK(DecodeUser(kUser, &d));
  assert_true(d.recovery.empty());
  ASSERT_OK(DecodeUser(WithField(kUser, "last_step", "56666666,\"recovery\":[]"), &d));
  assert_true(d.recovery.empty());

  std::string eleven = "[";
  for (std::size_t i = 0; i <= kMaxRecoveryCodes; ++i) eleven += (i ? ",\"" : "\"") + h1 + "\"";
  eleven += "]";
  const std::vector<std::string> bad = {
      "\"" + h1 + "\"",                       // not an array
      "[\"" + h1.substr(1) + "\"]",           // 63 digits
      "[\"" + h1 + "0\"]",                    // 65
      "[\"" + std::string(64, 'A') + "\"]",   // upper case
      "[\"" + std::string(63, 'a') + "g\"]",  // not hex
      "[\"" + std::string(63, 'a') + " \"]",  // a space
      "[1]",                                  // a number
      "[null]",
      "[[\"" + h1 + "\"]]",
      "{\"a\":1}",
      "null",
      eleven,
  };
  for (const auto& value : bad) {
    const std::string rec = WithField(kUser, "last_step", "56666666,\"recovery\":" + value);
    const Status st = DecodeUser(rec, &d);
    if (st.code() != Status::Code::kUnavailable)
      fail_msg("user record with recovery=%s: %s", value.c_str(), test::CodeName(st.code()));
    ASSERT_CONTAINS(st.message(), "recovery");
  }
}

void test_usage_round_trip(void**) {
  Usage u;
  u.time = 1700000123;
  u.service = "imap";
  u.rhost = "2001:db8::7";
  Usage d;
  ASSERT_OK(DecodeUsage(EncodeUsage(u), &d));
  assert_int_equal(d.version, kUsageVersion);
  assert_int_equal(d.time, 1700000123);
  assert_string_equal(d.service.c_str(), "imap");
  assert_string_equal(d.rhost.c_str(), "2001:db8::7");
  // The remote host comes from the client side: invalid UTF-8 must not make encoding
  // throw, and what is stored still decodes.
  u.rhost = "bad\xff\xfe";
  std::string enc;
  try {
    enc = EncodeUsage(u);
  } catch (...) {
    fail_msg("EncodeUsage threw on invalid UTF-8");
  }
  ASSERT_OK(DecodeUsage(enc, &d));
  assert_true(d.rhost.rfind("bad", 0) == 0);
  assert_true(IsValidUtf8(d.rhost));
}

void test_fixtures_decode(void**) {
  Credential c;
  ASSERT_OK(DecodeCredential(kCred, &c));
  assert_string_equal(c.id.c_str(), "4f2a9c1e");
  UserRecord u;
  ASSERT_OK(DecodeUser(kUser, &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  Usage g;
  ASSERT_OK(DecodeUsage(kUsage, &g));
  assert_string_equal(g.rhost.c_str(), "192.0.2.7");
}

void test_refuses_non_records(void**) {
  for (const std::string& bad :
       {""s, " "s, "not json"s, "[]"s, "[1,2]"s, "1"s, "\"str\""s, "null"s, "true"s, "{}"s, "{"s,
        "{\"v\":1"s, "\xff\xfe"s, "{\"v\":1}garbage"s}) {
    Credential c;
    UserRecord u;
    Usage g;
    ASSERT_CODE(DecodeCredential(bad, &c), kUnavailable);
    ASSERT_CODE(DecodeUser(bad, &u), kUnavailable);
    ASSERT_CODE(DecodeUsage(bad, &g), kUnavailable);
  }
}

void test_version_field(void**) {
  Credential c;
  ASSERT_CODE(DecodeCredential(WithoutField(kCred, "v"), &c), kUnavailable);
  for (const char* v : {"\"1\"", "1.0", "1.5", "0", "-1", "null", "true", "[1]", "{}",
                        "18446744073709551615", "18446744073709551616", "1e400"}) {
    ASSERT_CODE(DecodeCredential(WithField(kCred, "v", v), &c), kUnavailable);
  }
  // A newer version is refused whole, with advice.
  for (const char* v : {"2", "99", "9223372036854775807"}) {
    Credential c2;
    UserRecord u;
    Usage g;
    const Status sc = DecodeCredential(WithField(kCred, "v", v), &c2);
    ASSERT_CODE(sc, kUnavailable);
    ASSERT_CONTAINS(sc.message(), "upgrade");
    const Status su = DecodeUser(WithField(kUser, "v", v), &u);
    ASSERT_CODE(su, kUnavailable);
    ASSERT_CONTAINS(su.message(), "upgrade");
    const Status sg = DecodeUsage(WithField(kUsage, "v", v), &g);
    ASSERT_CODE(sg, kUnavailable);
    ASSERT_CONTAINS(sg.message(), "upgrade");
  }
}

void test_credential_field_types(void**) {
  struct {
    const char* field;
    const char* value;  // nullptr: remove the field
  } const bad[] = {
      {"id", "1234"},
      {"id", "\"\""},
      {"id", "null"},
      {"id", nullptr},
      {"user", "7"},
      {"user", "\"\""},
      {"user", "\"a\\u0000b\""},
      {"user", "\"a\\nb\""},
      {"user", nullptr},
      {"name", "null"},
      {"name", "[]"},
      {"name", nullptr},
      {"created", "\"1\""},
      {"created", "1.5"},
      {"created", "null"},
      {"created", nullptr},
      {"expires", "\"soon\""},
      {"expires", "1.5"},
      {"expires", "true"},
      {"revoked", "false"},
      {"revoked", "\"yes\""},
      {"revoked", "{}"},
      {"scopes", "\"imap\""},
      {"scopes", "null"},
      {"scopes", "{}"},
      {"scopes", "[1]"},
      {"scopes", "[\"imap\",null]"},
      {"scopes", "[[\"imap\"]]"},
      {"scopes", nullptr},
      {"scopes",
       "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\","
       "\"m\",\"n\",\"o\",\"p\",\"q\"]"},
  };
  for (const auto& b : bad) {
    const std::string rec =
        b.value ? WithField(kCred, b.field, b.value) : WithoutField(kCred, b.field);
    assert_true(rec != kCred);
    Credential c;
    const Status s = DecodeCredential(rec, &c);
    if (s.code() != Status::Code::kUnavailable)
      fail_msg("credential with %s=%s: %s", b.field, b.value ? b.value : "(missing)",
               test::CodeName(s.code()));
  }
  // Absent optional fields are fine.
  Credential c;
  ASSERT_OK(DecodeCredential(WithoutField(WithoutField(kCred, "expires"), "revoked"), &c));
  assert_false(c.expires.has_value());
}

void test_user_and_usage_field_types(void**) {
  struct {
    const char* field;
    const char* value;
  } const bad_user[] = {{"user", "1"},          {"user", nullptr},
                        {"mfa", "\"bogus\""},   {"mfa", "\"Confirmed\""},
                        {"mfa", "2"},           {"mfa", nullptr},
                        {"secret", "1"},        {"secret", nullptr},
                        {"enrolled", "\"x\""},  {"enrolled", nullptr},
                        {"confirmed", "\"x\""}, {"last_step", "1.5"},
                        {"last_step", nullptr}};
  for (const auto& b : bad_user) {
    UserRecord u;
    const std::string rec =
        b.value ? WithField(kUser, b.field, b.value) : WithoutField(kUser, b.field);
    assert_true(rec != kUser);
    if (DecodeUser(rec, &u).code() != Status::Code::kUnavailable)
      fail_msg("user record with %s=%s accepted", b.field, b.value ? b.value : "(missing)");
  }
  struct {
    const char* field;
    const char* value;
  } const bad_usage[] = {{"time", "\"1\""},    {"time", nullptr}, {"service", "1"},
                         {"service", nullptr}, {"rhost", "null"}, {"rhost", nullptr}};
  for (const auto& b : bad_usage) {
    Usage g;
    const std::string rec =
        b.value ? WithField(kUsage, b.field, b.value) : WithoutField(kUsage, b.field);
    assert_true(rec != kUsage);
    if (DecodeUsage(rec, &g).code() != Status::Code::kUnavailable)
      fail_msg("usage record with %s=%s accepted", b.field, b.value ? b.value : "(missing)");
  }
}

void test_size_limit(void**) {
  // Whitespace is valid JSON: pad the record to exactly 64 KiB, then one byte more.
  constexpr std::size_t kLimit = 64 * 1024;
  std::string rec = kCred + std::string(kLimit - kCred.size(), ' ');
  Credential c;
  ASSERT_OK(DecodeCredential(rec, &c));
  rec.push_back(' ');
  ASSERT_CODE(DecodeCredential(rec, &c), kUnavailable);
  std::string user = kUser + std::string(kLimit + 1 - kUser.size(), ' ');
  UserRecord u;
  ASSERT_CODE(DecodeUser(user, &u), kUnavailable);
  std::string usage = kUsage + std::string(1 << 20, ' ');
  Usage g;
  ASSERT_CODE(DecodeUsage(usage, &g), kUnavailable);
  // A big field value is refused the same way.
  ASSERT_CODE(
      DecodeCredential(WithField(kCred, "name", "\"" + std::string(kLimit, 'x') + "\""), &c),
      kUnavailable);
}

void test_forward_compatible(void**) {
  // Fields a later apppass may add are ignored, whatever their type and position.
  const std::string extra = R"({"future":{"x":[1,2,{"y":null}]},)" +
                            kCred.substr(1, kCred.size() - 2) +
                            R"(,"note":"hello","z":1.5,"flags":[true,false]})";
  Credential c;
  ASSERT_OK(DecodeCredential(extra, &c));
  assert_string_equal(c.id.c_str(), "4f2a9c1e");
  assert_string_equal(c.user.c_str(), "alice");
  assert_true(c.scopes.size() == 1 && c.scopes[0] == "imap");
  UserRecord u;
  ASSERT_OK(DecodeUser(WithField(kUser, "last_step", "5,\"webauthn\":[]"), &u));
  assert_int_equal(u.last_step, 5);
  Usage g;
  ASSERT_OK(DecodeUsage(WithField(kUsage, "rhost", "\"h\",\"port\":993"), &g));
  assert_string_equal(g.rhost.c_str(), "h");
}

// Decoding must return a Status for any input, never throw or crash.
template <typename Rec, typename Fn>
void NeverThrows(const std::string& data, Fn decode) {
  Rec r;
  try {
    (void)decode(data, &r);
  } catch (...) {
    fail_msg("decoder threw on %zu bytes", data.size());
  }
}

void DecodeAll(const std::string& data) {
  NeverThrows<Credential>(data, DecodeCredential);
  NeverThrows<UserRecord>(data, DecodeUser);
  NeverThrows<Usage>(data, DecodeUsage);
}

void test_never_throws(void**) {
  // Every prefix and every single-byte change of valid records.
  for (const std::string& rec : {kCred, kUser, kUsage}) {
    for (std::size_t n = 0; n <= rec.size(); ++n) DecodeAll(rec.substr(0, n));
    for (std::size_t i = 0; i < rec.size(); ++i) {
      for (char c : {'\0', '"', '\\', '{', '[', '9', '-', '\xff', 'x'}) {
        std::string m = rec;
        m[i] = c;
        DecodeAll(m);
      }
    }
  }
  // Hostile shapes: deep nesting within the size limit, huge numbers, bad escapes.
  DecodeAll(std::string(60000, '['));
  DecodeAll(std::string(30000, '[') + std::string(30000, ']'));
  DecodeAll("{\"v\":1,\"x\":" + std::string(30000, '{') + "}");
  DecodeAll(R"({"v":1,"created":1e999999})");
  DecodeAll(R"({"v":1,"id":"\ud800","user":"\udfff"})");
  DecodeAll(R"({"v":1,"id":"\u0000"})");
  DecodeAll("{\"v\":1,\"id\":\"\xc0\x80\"}");
  for (const char* v : {"-9223372036854775809", "18446744073709551615", "-0", "1E2"})
    DecodeAll(WithField(kCred, "created", v));
  // Deeply nested value under an unknown field in an otherwise valid record.
  const std::string nested = kCred.substr(0, kCred.size() - 1) +
                             ",\"deep\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  Credential c;
  ASSERT_OK(DecodeCredential(nested, &c));
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credential_round_trip),
      cmocka_unit_test(test_user_round_trip),
      cmocka_unit_test(test_user_throttle_fields),
      cmocka_unit_test(test_user_recovery_field),
      cmocka_unit_test(test_usage_round_trip),
      cmocka_unit_test(test_fixtures_decode),
      cmocka_unit_test(test_refuses_non_records),
      cmocka_unit_test(test_version_field),
      cmocka_unit_test(test_credential_field_types),
      cmocka_unit_test(test_user_and_usage_field_types),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_forward_compatible),
      cmocka_unit_test(test_never_throws),
  };
  return cmocka_run_group_tests_name("records", tests, nullptr, nullptr);
}
