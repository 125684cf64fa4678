// Unit tests of broker_protocol.h: requests and replies of every kind round-trip, every
// byte survives escaping, the line limit holds at exactly the maximum and fails one byte
// over, malformed and unknown lines get the right FAIL (with the id when it was readable),
// the handshake refuses another major version, and the line reader gives the same lines
// whether fed a byte at a time or all at once. Secrets never appear in error messages.

#include "broker_protocol.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass::broker {
namespace {

using namespace std::string_literals;

// The line without its '\n'.
std::string Body(const SecretBuffer& line) {
  std::string s(line.view());
  if (s.empty() || s.back() != '\n') fail_msg("serialized line does not end in a newline");
  s.pop_back();
  return s;
}

std::string RequestLine(const Request& r) {
  SecretBuffer line;
  ASSERT_OK(SerializeRequest(r, &line));
  return Body(line);
}

std::string ReplyLine(const Reply& r) {
  SecretBuffer line;
  ASSERT_OK(SerializeReply(r, &line));
  return Body(line);
}

// Parses `line`, expecting failure with `code` and reply id `id`; returns the message.
std::string ExpectFail(const std::string& line, ReplyCode code, std::uint64_t id) {
  Request r;
  Reply fail;
  const Status s = ParseRequest(line, &r, &fail);
  if (s.ok()) fail_msg("accepted a bad request (%zu bytes)", line.size());
  if (fail.type != ReplyType::kFail || fail.code != code || fail.id != id)
    fail_msg("request of %zu bytes: expected FAIL %llu %s, got %llu %s (%s)", line.size(),
             static_cast<unsigned long long>(id), std::string(ReplyCodeName(code)).c_str(),
             static_cast<unsigned long long>(fail.id),
             std::string(ReplyCodeName(fail.code)).c_str(), fail.message.c_str());
  assert_string_equal(fail.message.c_str(), s.message().c_str());
  assert_false(fail.message.empty());
  return fail.message;
}

void test_kind_names(void**) {
  std::size_t n = 0;
  for (RequestKind k : kAllRequestKinds) {
    const auto back = RequestKindFromName(RequestKindName(k));
    assert_true(back.has_value());
    assert_true(*back == k);
    ++n;
  }
  assert_int_equal(n, 21);
  // Minor 2 (issue 13): the portal's kinds and the replacement of an authenticator.
  assert_string_equal(std::string(RequestKindName(RequestKind::kSignin)).c_str(), "SIGNIN");
  assert_string_equal(std::string(RequestKindName(RequestKind::kSigninCode)).c_str(),
                      "SIGNIN_CODE");
  assert_string_equal(std::string(RequestKindName(RequestKind::kSignout)).c_str(), "SIGNOUT");
  assert_string_equal(std::string(RequestKindName(RequestKind::kMfaReplaceConfirm)).c_str(),
                      "MFA_REPLACE_CONFIRM");
  assert_string_equal(std::string(RequestKindName(RequestKind::kMfaConfirm)).c_str(),
                      "MFA_CONFIRM");
  // Minor 1 (issue 12): the names are the wire's, and the old kinds kept theirs.
  assert_string_equal(std::string(RequestKindName(RequestKind::kCode)).c_str(), "CODE");
  assert_string_equal(std::string(RequestKindName(RequestKind::kEnrolled)).c_str(), "ENROLLED");
  assert_string_equal(std::string(RequestKindName(RequestKind::kAccount)).c_str(), "ACCOUNT");
  assert_string_equal(std::string(RequestKindName(RequestKind::kMfaRecovery)).c_str(),
                      "MFA_RECOVERY");
  assert_string_equal(std::string(RequestKindName(RequestKind::kPolicySet)).c_str(), "POLICY_SET");
  assert_false(RequestKindFromName("verify").has_value());
  assert_false(RequestKindFromName("").has_value());
  for (int c = 0; c <= static_cast<int>(ReplyCode::kVersion); ++c) {
    const auto code = static_cast<ReplyCode>(c);
    assert_true(ReplyCodeFromName(ReplyCodeName(code)) == code);
  }
  assert_true(ReplyCodeFromName("something_new") == ReplyCode::kInternal);
}

void test_request_round_trip_every_kind(void**) {
  std::uint64_t id = 1;
  for (RequestKind k : kAllRequestKinds) {
    Request r;
    r.kind = k;
    r.id = id;
    ASSERT_OK(r.fields.Add("user", "zo\xc3\xab"));
    ASSERT_OK(r.fields.Add("password", "abcd-efgh\tjkmn\\pqrs"));
    ASSERT_OK(r.fields.Add("code", "123456"));
    ASSERT_OK(r.fields.Add("scopes", "imap smtp"));
    ASSERT_OK(r.fields.Add("empty", ""));
    const std::string line = RequestLine(r);
    assert_true(line.rfind(std::string(RequestKindName(k)) + "\t" + std::to_string(id) + "\t", 0) ==
                0);
    Request back;
    Reply fail;
    ASSERT_OK(ParseRequest(line, &back, &fail));
    assert_true(back.kind == k);
    assert_true(back.id == id);
    assert_int_equal(back.fields.size(), 5);
    assert_string_equal(back.fields.Get("user")->c_str(), "zo\xc3\xab");
    assert_string_equal(back.fields.Get("scopes")->c_str(), "imap smtp");
    assert_string_equal(back.fields.Get("empty")->c_str(), "");
    // Secrets only through GetSecret, and only there.
    assert_null(back.fields.Get("password"));
    assert_null(back.fields.GetSecret("user"));
    assert_true(back.fields.GetSecret("password")->view() == "abcd-efgh\tjkmn\\pqrs");
    assert_true(back.fields.GetSecret("code")->view() == "123456");
    assert_true(back.fields.all()[1].is_secret);
    assert_true(back.fields.all()[1].value.empty());
    // Wire order is kept.
    assert_string_equal(back.fields.all()[3].key.c_str(), "scopes");
    id = id < 1'000'000'000 ? id * 10 + 3 : 7;  // ids of 1 to 10 digits
  }
  // No fields, and the largest id.
  Request r;
  r.kind = RequestKind::kList;
  r.id = kMaxRequestId;
  assert_string_equal(RequestLine(r).c_str(), "LIST\t9999999999");
  r.id = 0;
  SecretBuffer line;
  ASSERT_CODE(SerializeRequest(r, &line), kInvalidArgument);
  r.id = kMaxRequestId + 1;
  ASSERT_CODE(SerializeRequest(r, &line), kInvalidArgument);
}

void test_escape_every_byte(void**) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (const char* key : {"name", "password"}) {
    // All bytes in one value, and each byte alone.
    std::vector<std::string> values{all, all + all};
    for (int c = 0; c < 256; ++c) values.push_back(std::string(1, static_cast<char>(c)));
    for (const std::string& v : values) {
      Request r;
      r.kind = RequestKind::kCreate;
      r.id = 42;
      ASSERT_OK(r.fields.Add(key, v));
      const std::string line = RequestLine(r);
      for (char ch : line) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) fail_msg("raw byte 0x%02x on the wire", c);
      }
      assert_int_equal(std::count(line.begin(), line.end(), '\t'), 2);
      Request back;
      Reply fail;
      ASSERT_OK(ParseRequest(line, &back, &fail));
      const std::string got = back.fields.Get(key) != nullptr
                                  ? *back.fields.Get(key)
                                  : std::string(back.fields.GetSecret(key)->view());
      if (got != v) fail_msg("value of %zu bytes did not round-trip (key %s)", v.size(), key);
    }
  }
  // The scheme itself.
  assert_string_equal(EscapeValue("a\tb\nc\\d\x01\x7f\xc3\xa9 =")->c_str(),
                      "a\\tb\\nc\\\\d\\x01\\x7f\xc3\xa9 =");
  assert_string_equal(EscapeValue("\0"s)->c_str(), "\\x00");
  assert_true(UnescapedSize(*EscapeValue(all)) == all.size());
  // \xHH takes either case and any byte, even one with a short form.
  assert_true(UnescapedSize("\\x4A\\x4a\\x09\\x5c") == 4u);
}

void test_bad_escapes(void**) {
  for (const std::string& v : {"\\"s, "a\\"s, "\\x"s, "\\x4"s, "\\xg0"s, "\\x0g"s, "\\q"s, "\\r"s,
                               "\\0"s, "\\X41"s, "a\rb"s, "a\x01"s, "\x7f"s, "a\0b"s}) {
    assert_false(UnescapedSize(v).has_value());
    const std::string msg = ExpectFail("VERIFY\t5\tuser=" + v, ReplyCode::kInvalid, 5);
    assert_non_null(strstr(msg.c_str(), "field 'user'"));
  }
}

void test_line_limit(void**) {
  // "VERIFY\t1\tuser=" is 14 bytes; the value fills the line to exactly the limit.
  const std::string head = "VERIFY\t1\tuser=";
  const std::string at_max = head + std::string(kMaxLineLength - head.size(), 'a');
  assert_int_equal(at_max.size(), kMaxLineLength);
  Request r;
  Reply fail;
  ASSERT_OK(ParseRequest(at_max, &r, &fail));
  ExpectFail(at_max + "a", ReplyCode::kTooLong, 0);

  // The serializer refuses what the peer would refuse; escaping counts.
  Request big;
  big.kind = RequestKind::kVerify;
  big.id = 1;
  ASSERT_OK(big.fields.Add("user", std::string(kMaxLineLength - head.size(), 'a')));
  SecretBuffer line;
  ASSERT_OK(SerializeRequest(big, &line));
  assert_int_equal(line.size(), kMaxLineLength + 1);
  Request over;
  over.kind = RequestKind::kVerify;
  over.id = 1;
  ASSERT_OK(over.fields.Add("user", std::string(kMaxLineLength - head.size() + 1, 'a')));
  ASSERT_CODE(SerializeRequest(over, &line), kInvalidArgument);
  Request escaped;
  escaped.kind = RequestKind::kVerify;
  escaped.id = 1;
  ASSERT_OK(escaped.fields.Add("password", std::string(kMaxLineLength / 4, '\x01')));
  ASSERT_CODE(SerializeRequest(escaped, &line), kInvalidArgument);

  // A VERIFY with the largest user name and password, all escaped, fits.
  Request worst;
  worst.kind = RequestKind::kVerify;
  worst.id = kMaxRequestId;
  ASSERT_OK(worst.fields.Add("user", std::string(256, '\x01')));
  ASSERT_OK(worst.fields.Add("password", std::string(512, '\x01')));
  ASSERT_OK(worst.fields.Add("service", std::string(32, 'a')));
  ASSERT_OK(worst.fields.Add("rhost", std::string(255, '\x01')));
  ASSERT_OK(SerializeRequest(worst, &line));
}

void test_malformed(void**) {
  struct Case {
    std::string line;
    std::uint64_t id;  // in the FAIL reply
  };
  const Case cases[] = {
      {"", 0},                                         // empty line
      {"\t1", 0},                                      // empty kind
      {"\t", 0},                                       // just a tab
      {"LIST", 0},                                     // missing id
      {"LIST\t", 0},                                   // empty id
      {"LIST\t\t1", 0},                                // stray tab before the id
      {"LIST\t0", 0},                                  // id 0
      {"LIST\t01", 0},                                 // leading zero
      {"LIST\tabc", 0},                                // not a number
      {"LIST\t-1", 0},                                 // sign
      {"LIST\t+1", 0},                                 // sign
      {"LIST\t12345678901", 0},                        // 11 digits
      {"LIST\t1 ", 0},                                 // trailing space in the id
      {"LIST\t1\0"s, 0},                               // NUL in the id
      {"LIST\t7\t", 7},                                // trailing tab
      {"LIST\t7\t\tuser=a", 7},                        // stray tab between fields
      {"LIST\t7\tuser", 7},                            // no '='
      {"LIST\t7\t=a", 7},                              // empty key
      {"LIST\t7\tUser=a", 7},                          // upper case key
      {"LIST\t7\tus-er=a", 7},                         // '-' in key
      {"LIST\t7\tus\0er=a"s, 7},                       // NUL in key
      {"LIST\t7\tuser=a\0b"s, 7},                      // NUL in value
      {"LIST\t7\tuser=a\r"s, 7},                       // CR (socat without crlf handling)
      {"LIST\t7\tuser=a\tuser=b", 7},                  // duplicate key
      {"LIST\t7\tuser=a\tuser=a", 7},                  // duplicate key, same value
      {"LIST\t7\tuser=\\x4", 7},                       // truncated \x
      {"LIST\t7\tuser=\\", 7},                         // lone backslash
      {"LIST\t7\tuser=\\e", 7},                        // unknown escape
      {"LIST\t7\t" + std::string(33, 'k') + "=v", 7},  // key too long
  };
  for (const Case& c : cases) ExpectFail(c.line, ReplyCode::kInvalid, c.id);

  // Too many fields (distinct valid keys "kaa", "kba", ...).
  std::string many = "LIST\t8";
  for (std::size_t j = 0; j <= kMaxFields; ++j)
    many += "\tk"s + static_cast<char>('a' + j % 26) + static_cast<char>('a' + j / 26) + "=";
  Request r;
  Reply fail;
  ASSERT_OK(ParseRequest(many.substr(0, many.rfind('\t')), &r, &fail));  // exactly the max
  assert_int_equal(r.fields.size(), kMaxFields);
  ExpectFail(many, ReplyCode::kInvalid, 8);

  // Messages name the problem.
  assert_non_null(strstr(ExpectFail("LIST", ReplyCode::kInvalid, 0).c_str(), "missing request id"));
  assert_non_null(
      strstr(ExpectFail("LIST\t3\tuser=a\tuser=b", ReplyCode::kInvalid, 3).c_str(), "duplicate"));
  assert_non_null(strstr(ExpectFail("LIST\t3\t", ReplyCode::kInvalid, 3).c_str(), "stray tab"));
}

void test_unknown_kind_and_key(void**) {
  std::string msg = ExpectFail("FROB\t77\tuser=a", ReplyCode::kUnknownRequest, 77);
  assert_non_null(strstr(msg.c_str(), "FROB"));
  // A kind that is not a name is not quoted back (it could be anything, even a password).
  msg = ExpectFail("hunter2\t77", ReplyCode::kUnknownRequest, 77);
  assert_null(strstr(msg.c_str(), "hunter2"));
  ExpectFail("verify\t1", ReplyCode::kUnknownRequest, 1);
  ExpectFail("VERSION\t1\t0", ReplyCode::kUnknownRequest, 1);
  ExpectFail("OK\t1", ReplyCode::kUnknownRequest, 1);
  // An unknown kind with a bad id: the id is what is wrong.
  ExpectFail("FROB\tx", ReplyCode::kInvalid, 0);

  // Unknown keys are kept and ignored by whoever does not know them.
  Request r;
  Reply fail;
  ASSERT_OK(ParseRequest("MFA_STATUS\t9\tfuture_option=yes\tuser=bob", &r, &fail));
  assert_true(r.kind == RequestKind::kMfaStatus);
  assert_string_equal(r.fields.Get("user")->c_str(), "bob");
  assert_true(r.fields.Has("future_option"));
  assert_null(r.fields.Get("rhost"));
  assert_false(r.fields.Has("rhost"));
}

void test_secrets_stay_out_of_messages(void**) {
  const std::string pw = "SeCrEt-PaSs";
  for (const std::string& line : {
           "VERIFY\t4\tpassword=" + pw + "\tpassword=" + pw,  // duplicate
           "VERIFY\t4\tpassword=" + pw + "\\q",               // bad escape
           "VERIFY\t4\tpassword=" + pw + "\x01",              // raw control byte
           "VERIFY\t4\tcode=" + pw + "\tcode=1",              // duplicate code
           "VERIFY\t4\t" + pw,                                // no '='
           "VERIFY\t4\t" + pw + "=x",                         // bad key
       }) {
    const std::string msg = ExpectFail(line, ReplyCode::kInvalid, 4);
    if (msg.find(pw) != std::string::npos || msg.find("SeCrEt") != std::string::npos)
      fail_msg("the secret is in the message: %s", msg.c_str());
  }
  // Fields::Add refuses without quoting the value either.
  Fields f;
  ASSERT_OK(f.Add("password", pw));
  const Status s = f.Add("password", pw);
  ASSERT_CODE(s, kInvalidArgument);
  assert_true(s.message().find(pw) == std::string::npos);
  ASSERT_CODE(f.Add("Bad", "x"), kInvalidArgument);
  // An empty secret is a present, empty value.
  ASSERT_OK(f.Add("code", ""));
  assert_non_null(f.GetSecret("code"));
  assert_int_equal(f.GetSecret("code")->size(), 0);
}

// The secret keys, exactly: a new recovery code (minor 1) is one, the fields around it not;
// the portal's tokens (minor 2) are, the client address and the session's times not.
void test_secret_keys(void**) {
  for (const char* key :
       {"password", "code", "secret", "uri", "recovery_code", "signin", "session"})
    assert_true(IsSecretKey(key));
  for (const char* key : {"user", "service", "outcome", "codes_left", "recovery_codes_left",
                          "enrolled", "state", "detail", "recovery", "recovery_codes", "client",
                          "next", "reason", "idle_left", "expires_in", "sessions", ""})
    assert_false(IsSecretKey(key));
  // An ITEM with a recovery code: parsed into a SecretBuffer only, and back.
  Reply r;
  ASSERT_OK(ParseReply("ITEM\t3\trecovery_code=abcd-efgh-jkmn", &r));
  assert_null(r.fields.Get("recovery_code"));
  assert_true(r.fields.GetSecret("recovery_code")->view() == "abcd-efgh-jkmn");
  assert_true(r.fields.all()[0].value.empty());
}

void test_version(void**) {
  assert_string_equal(std::string(VersionLine()).c_str(), "VERSION\t1\t2\n");
  int major = -1, minor = -1;
  std::string line(VersionLine());
  line.pop_back();
  ASSERT_OK(ParseVersion(line, &major, &minor));
  assert_int_equal(major, kProtocolMajor);
  assert_int_equal(minor, kProtocolMinor);
  // A newer minor is fine.
  ASSERT_OK(ParseVersion("VERSION\t1\t7", &major, &minor));
  assert_int_equal(minor, 7);
  // Another major is refused as unavailable, naming both versions.
  for (const char* other : {"VERSION\t2\t0", "VERSION\t0\t9", "VERSION\t999\t999"}) {
    const Status s = ParseVersion(other, &major, &minor);
    ASSERT_CODE(s, kUnavailable);
    assert_non_null(strstr(s.message().c_str(), "this side speaks 1.2"));
  }
  for (const std::string& bad :
       {""s, "VERSION"s, "VERSION\t1"s, "VERSION\t1\t"s, "VERSION\t1\t0\t"s, "VERSION\t1\t0\tx"s,
        "version\t1\t0"s, "VERSION\t01\t0"s, "VERSION\t1\t1000"s, "VERSION\t-1\t0"s,
        "VERSION\t1\t0\r"s, "VERSION 1 0"s, "VERSION\t1\0\t0"s}) {
    ASSERT_CODE(ParseVersion(bad, &major, &minor), kInvalidArgument);
  }
  // The daemon's answer to a version it does not speak.
  const Reply r = FailReply(0, ParseVersion("VERSION\t2\t0", &major, &minor));
  assert_true(r.code == ReplyCode::kUnavailable);
  const Reply v = FailReply(0, ReplyCode::kVersion, "protocol version 2.0 is not supported");
  const std::string wire = ReplyLine(v);
  assert_string_equal(wire.c_str(), "FAIL\t0\tversion\tprotocol version 2.0 is not supported");
  Reply back;
  ASSERT_OK(ParseReply(wire, &back));
  ASSERT_CODE(ReplyStatus(back), kUnavailable);
}

void test_replies(void**) {
  // OK and ITEM with fields, secrets included (CREATE answers with the new password).
  for (ReplyType t : {ReplyType::kOk, ReplyType::kItem}) {
    Reply r;
    r.type = t;
    r.id = 12;
    ASSERT_OK(r.fields.Add("id", "a1b2c3"));
    ASSERT_OK(r.fields.Add("name", "iPhone\tmail\n"));
    ASSERT_OK(r.fields.Add("password", "abcd-efgh-jkmn-pqrs-tuvw"));
    const std::string line = ReplyLine(r);
    assert_string_equal(
        line.c_str(),
        t == ReplyType::kOk
            ? "OK\t12\tid=a1b2c3\tname=iPhone\\tmail\\n\tpassword=abcd-efgh-jkmn-pqrs-tuvw"
            : "ITEM\t12\tid=a1b2c3\tname=iPhone\\tmail\\n\tpassword=abcd-efgh-jkmn-pqrs-tuvw");
    Reply back;
    ASSERT_OK(ParseReply(line, &back));
    assert_true(back.type == t);
    assert_true(back.id == 12);
    assert_string_equal(back.fields.Get("name")->c_str(), "iPhone\tmail\n");
    assert_true(back.fields.GetSecret("password")->view() == "abcd-efgh-jkmn-pqrs-tuvw");
    ASSERT_OK(ReplyStatus(back));
  }
  // FAIL of every code, from a Status and back; the message may hold any byte.
  const std::pair<Status, ReplyCode> from_status[] = {
      {Status::NotFound("no such app password"), ReplyCode::kNotFound},
      {Status::InvalidArgument("bad\tlabel\n\\"), ReplyCode::kInvalid},
      {Status::Unavailable("store"), ReplyCode::kUnavailable},
      {Status::PermissionDenied("wrong code"), ReplyCode::kDenied},
      {Status::AlreadyExists("name taken"), ReplyCode::kExists},
      {Status::Internal("oops"), ReplyCode::kInternal},
  };
  for (const auto& [status, code] : from_status) {
    const Reply r = FailReply(99, status);
    assert_true(r.code == code);
    Reply back;
    ASSERT_OK(ParseReply(ReplyLine(r), &back));
    assert_true(back.type == ReplyType::kFail);
    assert_true(back.code == code);
    assert_true(back.id == 99);
    assert_string_equal(back.message.c_str(), status.message().c_str());
    const Status again = ReplyStatus(back);
    assert_true(again.code() == status.code());
    assert_string_equal(again.message().c_str(), status.message().c_str());
  }
  for (ReplyCode c : {ReplyCode::kUnknownRequest, ReplyCode::kTooLong})
    assert_true(StatusCodeFor(c) == Status::Code::kInvalidArgument);
  // A FAIL may carry fields after the message; an unknown code is internal.
  Reply back;
  ASSERT_OK(ParseReply("FAIL\t3\tbrand_new\tsomething\tretry_after=5", &back));
  assert_true(back.code == ReplyCode::kInternal);
  assert_string_equal(back.fields.Get("retry_after")->c_str(), "5");
  ASSERT_OK(ParseReply("FAIL\t3\tinvalid\t", &back));
  assert_string_equal(back.message.c_str(), "");

  // Malformed replies: a client fails closed.
  for (const std::string& bad :
       {""s, "OK"s, "OK\t"s, "OK\t0"s, "ok\t1"s, "DONE\t1"s, "OK\t1\t"s, "OK\t1\tx"s,
        "OK\t1\ta=1\ta=2"s, "ITEM\t0"s, "FAIL\t1"s, "FAIL\t1\tinvalid"s, "FAIL\t1\t\tmsg"s,
        "FAIL\t1\tNOT-A-CODE\tmsg"s, "FAIL\t1\tinvalid\tbad\\escape"s, "FAIL\tx\tinvalid\tm"s,
        "OK\t1\tpassword=a\0b"s, "OK\t1\t" + std::string(kMaxLineLength, 'a')}) {
    Reply r;
    ASSERT_CODE(ParseReply(bad, &r), kInvalidArgument);
  }
  // Serializing: OK and ITEM need a real id; FAIL may use 0.
  Reply ok;
  SecretBuffer line;
  ASSERT_CODE(SerializeReply(ok, &line), kInvalidArgument);
  ASSERT_OK(SerializeReply(FailReply(0, ReplyCode::kTooLong, "too long"), &line));
}

// Feeds `stream` to a reader in chunks of `chunk` bytes (0: all at once) and returns
// the lines, then "<too long>" if the reader said so.
std::vector<std::string> ReadLines(const std::string& stream, std::size_t chunk,
                                   std::size_t max = kMaxLineLength) {
  LineReader reader(max);
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t n = chunk == 0 ? stream.size() - pos : std::min(chunk, stream.size() - pos);
    std::string_view piece(stream.data() + pos, n);
    while (!piece.empty()) {
      std::size_t used = 0;
      const LineReader::State st = reader.Feed(piece, &used);
      assert_true(used <= piece.size());
      assert_true(reader.pending() <= max);
      if (st == LineReader::State::kLine) {
        lines.emplace_back(reader.line());
      } else if (st == LineReader::State::kTooLong) {
        assert_int_equal(used, piece.size());
        lines.emplace_back("<too long>");
        return lines;
      } else {
        assert_true(st == LineReader::State::kNeedMore);
        assert_int_equal(used, piece.size());
      }
      piece.remove_prefix(used);
    }
    pos += n;
  }
  if (reader.pending() > 0) lines.emplace_back("<partial>");
  return lines;
}

void test_line_reader(void**) {
  std::string hello(VersionLine());
  std::string verify = "VERIFY\t1\tuser=alice\tpassword=abcd\\x00efgh\tservice=imap\n";
  std::string at_max = "LIST\t2\tpad=" + std::string(kMaxLineLength - 11, 'p') + "\n";
  assert_int_equal(at_max.size(), kMaxLineLength + 1);
  const std::string stream = hello + verify + "\n" + at_max + "POLICY_SHOW\t3\n";
  const std::vector<std::string> want = {hello.substr(0, hello.size() - 1),
                                         verify.substr(0, verify.size() - 1), "",
                                         at_max.substr(0, at_max.size() - 1), "POLICY_SHOW\t3"};
  for (std::size_t chunk :
       {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}, std::size_t{0}}) {
    const auto got = ReadLines(stream, chunk);
    if (got != want) fail_msg("chunks of %zu: %zu lines instead of 5", chunk, got.size());
  }
  // Every line read parses.
  for (std::size_t i = 1; i < want.size(); ++i) {
    if (want[i].empty()) continue;
    Request r;
    Reply fail;
    ASSERT_OK(ParseRequest(want[i], &r, &fail));
  }

  // One byte over the limit, in one chunk or byte by byte: "too long", and nothing after.
  const std::string over = "LIST\t2\tpad=" + std::string(kMaxLineLength - 10, 'p') + "\nLIST\t3\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{0}}) {
    const auto got = ReadLines(over, chunk);
    assert_int_equal(got.size(), 1);
    assert_string_equal(got[0].c_str(), "<too long>");
  }
  // A stream without '\n' is cut at the limit, not buffered (a small limit for speed).
  assert_string_equal(ReadLines(std::string(1 << 20, 'x'), 1000, 64)[0].c_str(), "<too long>");
  assert_string_equal(ReadLines("abc", 1, 64)[0].c_str(), "<partial>");

  // The line is wiped when the next Feed starts; the reader stays too long once it was.
  LineReader reader(16);
  std::size_t used = 0;
  assert_true(reader.Feed("password=x\nLI", &used) == LineReader::State::kLine);
  assert_int_equal(used, 11);
  const char* held = reader.line().data();
  assert_true(reader.Feed("ST", &used) == LineReader::State::kNeedMore);
  assert_int_equal(reader.pending(), 2);
  assert_memory_equal(held, "ST\0\0\0\0\0\0\0\0", 10);
  assert_true(reader.Feed(std::string(15, 'a'), &used) == LineReader::State::kTooLong);
  assert_int_equal(reader.pending(), 0);
  assert_true(reader.Feed("\n", &used) == LineReader::State::kTooLong);
  assert_int_equal(used, 1);
  // Exactly at the limit, then one over.
  LineReader small(4);
  assert_true(small.Feed("abcd\n", &used) == LineReader::State::kLine);
  assert_string_equal(std::string(small.line()).c_str(), "abcd");
  assert_true(small.Feed("abcde\n", &used) == LineReader::State::kTooLong);
  // An empty chunk changes nothing.
  LineReader empty;
  assert_true(empty.Feed("", &used) == LineReader::State::kNeedMore);
  assert_int_equal(used, 0);
}

}  // namespace
}  // namespace apppass::broker

int main() {
  using namespace apppass::broker;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_request_round_trip_every_kind),
      cmocka_unit_test(test_escape_every_byte),
      cmocka_unit_test(test_bad_escapes),
      cmocka_unit_test(test_line_limit),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unknown_kind_and_key),
      cmocka_unit_test(test_secrets_stay_out_of_messages),
      cmocka_unit_test(test_secret_keys),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_replies),
      cmocka_unit_test(test_line_reader),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
