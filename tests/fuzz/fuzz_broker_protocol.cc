// libFuzzer target: the broker's wire format (common/broker_protocol.h), what apppassd
// reads from any local user and what its clients read back. The first byte of the input
// chooses the part ('0'..'4'); the rest is its input. Each runs twice and must answer the
// same both times, and is compared with an independent statement of the rule:
//   '0'  ParseRequest: an accepted line is as the grammar says (the 21 kinds of protocol
//        1.2, the secret keys password, code, secret, uri, recovery_code, signin,
//        session) and survives Serialize -> Parse unchanged; a refused one has a FAIL with a
//        printable message that quotes no secret value and carries the id exactly when it was
//        readable
//   '1'  ParseReply: the same for replies
//   '2'  LineReader: the input fed in chunks (sizes from the first bytes) against a plain
//        split on '\n' with the same limit (small, so that "too long" is reached)
//   '3'  ParseVersion against the rule "VERSION TAB n TAB n", n 0..999, major 1
//   '4'  EscapeValue / UnescapedSize: escaping round-trips; UnescapedSize against a
//        separate decoder
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker_protocol.h"
#include "fuzz_util.h"

namespace {

namespace bp = apppass::broker;
using fuzzutil::Fail;
using fuzzutil::Show;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

// The request kinds (protocol 1.2) and the secret keys, stated here apart from the code.
constexpr std::string_view kKinds[] = {"VERIFY",        "LIST",           "CREATE",
                                       "REVOKE",        "MFA_STATUS",     "MFA_ENROLL",
                                       "MFA_CONFIRM",   "POLICY_SHOW",    "POLICY_SET",
                                       "CODE",          "ENROLLED",       "ACCOUNT",
                                       "MFA_RECOVERY",  "SIGNIN",         "SIGNIN_CODE",
                                       "SIGNIN_ENROLL", "SIGNIN_CONFIRM", "SESSION",
                                       "SIGNOUT",       "MFA_REPLACE",    "MFA_REPLACE_CONFIRM"};
constexpr std::string_view kSecretKeys[] = {"password",      "code",   "secret", "uri",
                                            "recovery_code", "signin", "session"};

bool IsKind(std::string_view k) {
  return std::find(std::begin(kKinds), std::end(kKinds), k) != std::end(kKinds);
}
bool IsSecret(std::string_view k) {
  return std::find(std::begin(kSecretKeys), std::end(kSecretKeys), k) != std::end(kSecretKeys);
}

bool IsKey(std::string_view k) {
  if (k.empty() || k.size() > 32) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  return true;
}

// Independent decoder of the escaping rule; nullopt when invalid.
std::optional<std::string> Decode(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f) return std::nullopt;
    if (c != '\\') {
      out.push_back(v[i]);
      continue;
    }
    if (i + 1 >= v.size()) return std::nullopt;
    const char e = v[++i];
    if (e == 't') {
      out.push_back('\t');
    } else if (e == 'n') {
      out.push_back('\n');
    } else if (e == '\\') {
      out.push_back('\\');
    } else if (e == 'x' && i + 2 < v.size() &&
               std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::uint64_t> Id(std::string_view s, bool zero_ok) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  if (s[0] == '0') return zero_ok && s == "0" ? std::optional<std::uint64_t>(0) : std::nullopt;
  return std::stoull(std::string(s));
}

// The fields part of a line as (key, decoded value) pairs, or nullopt when the grammar
// refuses it (empty field, no '=', bad key, bad escape, duplicate, too many).
std::optional<std::vector<std::pair<std::string, std::string>>> Fields(
    const std::vector<std::string_view>& parts, std::size_t first) {
  std::vector<std::pair<std::string, std::string>> out;
  if (parts.size() - first > bp::kMaxFields) return std::nullopt;
  for (std::size_t i = first; i < parts.size(); ++i) {
    const std::size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos || !IsKey(parts[i].substr(0, eq))) return std::nullopt;
    const std::string key(parts[i].substr(0, eq));
    for (const auto& [k, v] : out)
      if (k == key) return std::nullopt;
    auto value = Decode(parts[i].substr(eq + 1));
    if (!value) return std::nullopt;
    out.emplace_back(key, *value);
  }
  return out;
}

void SameFields(const bp::Fields& got, const std::vector<std::pair<std::string, std::string>>& want,
                const char* what) {
  if (got.size() != want.size()) Fail(std::string(what) + ": field count differs");
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bp::Field& f = got.all()[i];
    if (f.key != want[i].first) Fail(std::string(what) + ": key " + Show(f.key));
    if (f.is_secret != IsSecret(f.key) || f.is_secret != bp::IsSecretKey(f.key))
      Fail(std::string(what) + ": secret flag of " + f.key);
    const std::string_view v = f.is_secret ? f.secret.view() : std::string_view(f.value);
    if (v != want[i].second) Fail(std::string(what) + ": value of " + f.key);
    if (f.is_secret && (!f.value.empty() || got.Get(f.key) != nullptr))
      Fail(std::string(what) + ": secret " + f.key + " outside its SecretBuffer");
  }
}

std::vector<std::pair<std::string, std::string>> Plain(const bp::Fields& f) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const bp::Field& x : f.all())
    out.emplace_back(x.key, x.is_secret ? std::string(x.secret.view()) : x.value);
  return out;
}

// A refused line's message is printable, short, and quotes no secret value: a value of
// a secret key of 8 bytes or more with a lower-case letter, a digit and no space (no part
// of a fixed message text, echoed kind name or key looks like that) must not appear in it.
void CheckMessage(std::string_view line, const std::string& msg) {
  if (msg.empty() || msg.size() > 200) Fail("message length " + std::to_string(msg.size()));
  for (char ch : msg) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) Fail("unprintable message " + Show(msg));
  }
  for (std::string_view part : Split(line, '\t')) {
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || !IsSecret(part.substr(0, eq))) continue;
    const std::string_view v = part.substr(eq + 1);
    const bool lower = std::any_of(v.begin(), v.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    const bool digit = std::any_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool space = v.find(' ') != std::string_view::npos;
    if (v.size() >= 8 && lower && digit && !space && msg.find(v) != std::string::npos)
      Fail("a secret value is in the message " + Show(msg));
  }
}

void Request(std::string_view line) {
  bp::Request a, b;
  bp::Reply fa, fb;
  const apppass::Status sa = bp::ParseRequest(line, &a, &fa);
  const apppass::Status sb = bp::ParseRequest(line, &b, &fb);
  if (sa.ok() != sb.ok() || sa.message() != sb.message()) Fail("ParseRequest differs twice");

  // The rule, stated separately.
  const std::vector<std::string_view> parts = Split(line, '\t');
  std::optional<std::uint64_t> id = parts.size() >= 2 ? Id(parts[1], false) : std::nullopt;
  if (parts[0].empty()) id.reset();
  const auto kind = bp::RequestKindFromName(parts[0]);
  if (kind.has_value() != IsKind(parts[0]) || (kind && bp::RequestKindName(*kind) != parts[0]))
    Fail("RequestKindFromName disagrees on " + Show(parts[0]));
  const bool fits = line.size() <= bp::kMaxLineLength;
  const auto fields = fits && id && kind ? Fields(parts, 2) : std::nullopt;
  const bool valid = fits && id && kind && fields;
  if (sa.ok() != valid)
    Fail(std::string("ParseRequest ") + (sa.ok() ? "accepted " : "refused ") + Show(line));

  if (!sa.ok()) {
    if (fa.type != bp::ReplyType::kFail || fa.message != sa.message())
      Fail("FAIL reply does not match the status");
    const std::uint64_t want_id = fits && id ? *id : 0;
    if (fa.id != want_id) Fail("FAIL id " + std::to_string(fa.id) + " for " + Show(line));
    const bp::ReplyCode want = !fits         ? bp::ReplyCode::kTooLong
                               : id && !kind ? bp::ReplyCode::kUnknownRequest
                                             : bp::ReplyCode::kInvalid;
    if (fa.code != want) Fail("FAIL code " + std::string(bp::ReplyCodeName(fa.code)));
    CheckMessage(line, fa.message);
    apppass::SecretBuffer wire;
    if (!bp::SerializeReply(fa, &wire).ok()) Fail("the FAIL reply does not serialize");
    return;
  }
  if (a.kind != *kind || a.id != *id) Fail("kind or id differs");
  SameFields(a.fields, *fields, "request");
  // Serialize -> Parse gives the same request.
  apppass::SecretBuffer wire;
  // The canonical escaping is the shortest, so what was accepted serializes.
  if (!bp::SerializeRequest(a, &wire).ok()) Fail("an accepted request does not serialize");
  std::string_view w = wire.view();
  if (w.empty() || w.back() != '\n') Fail("serialized request without newline");
  w.remove_suffix(1);
  if (w.find('\n') != std::string_view::npos || w.find('\0') != std::string_view::npos)
    Fail("raw newline or NUL in a serialized request");
  bp::Request again;
  bp::Reply f2;
  if (!bp::ParseRequest(w, &again, &f2).ok()) Fail("re-serialized request refused " + Show(w));
  if (again.kind != a.kind || again.id != a.id) Fail("round trip changed kind or id");
  SameFields(again.fields, Plain(a.fields), "round trip");
}

void ReplyLine(std::string_view line) {
  bp::Reply a, b;
  const apppass::Status sa = bp::ParseReply(line, &a);
  const apppass::Status sb = bp::ParseReply(line, &b);
  if (sa.ok() != sb.ok() || sa.message() != sb.message()) Fail("ParseReply differs twice");

  const std::vector<std::string_view> parts = Split(line, '\t');
  bool valid = line.size() <= bp::kMaxLineLength && parts.size() >= 2;
  const bool fail = parts[0] == "FAIL";
  valid = valid && (fail || parts[0] == "OK" || parts[0] == "ITEM");
  const auto id = valid ? Id(parts[1], fail) : std::nullopt;
  valid = valid && id.has_value();
  std::optional<std::string> message;
  if (valid && fail) {
    valid = parts.size() >= 4 && IsKey(parts[2]);
    if (valid) message = Decode(parts[3]);
    valid = valid && message.has_value();
  }
  const auto fields = valid ? Fields(parts, fail ? 4 : 2) : std::nullopt;
  valid = valid && fields.has_value();
  if (sa.ok() != valid)
    Fail(std::string("ParseReply ") + (sa.ok() ? "accepted " : "refused ") + Show(line));
  if (!sa.ok()) return;
  if (a.id != *id) Fail("reply id differs");
  if (fail && (a.type != bp::ReplyType::kFail || a.message != *message))
    Fail("FAIL reply parsed wrong");
  if (fail && bp::ReplyStatus(a).ok()) Fail("a FAIL reply reads as Ok");
  if (!fail && !bp::ReplyStatus(a).ok()) Fail("an OK reply reads as a failure");
  SameFields(a.fields, *fields, "reply");
  apppass::SecretBuffer wire;
  if (!bp::SerializeReply(a, &wire).ok()) Fail("an accepted reply does not serialize");
  std::string_view w = wire.view();
  w.remove_suffix(1);
  bp::Reply again;
  if (!bp::ParseReply(w, &again).ok()) Fail("re-serialized reply refused " + Show(w));
  if (again.type != a.type || again.id != a.id || again.code != a.code ||
      again.message != a.message)
    Fail("reply round trip changed it");
  SameFields(again.fields, Plain(a.fields), "reply round trip");
}

void Reader(std::string_view in) {
  if (in.size() < 2) return;
  const std::size_t max = 1 + static_cast<unsigned char>(in[0]) % 64;
  const std::size_t step = 1 + static_cast<unsigned char>(in[1]) % 16;
  in.remove_prefix(2);
  // Expected: the complete lines until the first one over `max`.
  std::vector<std::string> want;
  bool want_too_long = false;
  std::string_view rest = in;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view l = rest.substr(0, nl);
    if (l.size() > max) {
      want_too_long = true;
      break;
    }
    if (nl == std::string_view::npos) break;
    want.emplace_back(l);
    rest.remove_prefix(nl + 1);
  }
  for (int round = 0; round < 2; ++round) {
    bp::LineReader reader(max);
    std::vector<std::string> got;
    bool too_long = false;
    for (std::size_t pos = 0; pos < in.size() && !too_long;) {
      std::string_view chunk = in.substr(pos, round == 0 ? step : in.size());
      pos += chunk.size();
      while (!chunk.empty()) {
        std::size_t used = 0;
        const auto st = reader.Feed(chunk, &used);
        if (used == 0 || used > chunk.size()) Fail("Feed consumed " + std::to_string(used));
        if (reader.pending() > max) Fail("reader holds more than the limit");
        if (st == bp::LineReader::State::kLine) {
          got.emplace_back(reader.line());
        } else if (st == bp::LineReader::State::kTooLong) {
          too_long = true;
          break;
        } else if (st != bp::LineReader::State::kNeedMore || used != chunk.size()) {
          Fail("unexpected reader state");
        }
        chunk.remove_prefix(used);
      }
    }
    if (got != want || too_long != want_too_long)
      Fail("LineReader lines differ (limit " + std::to_string(max) + ", chunks " +
           std::to_string(round == 0 ? step : in.size()) + ")");
  }
}

void Version(std::string_view line) {
  int ma = -1, mi = -1, ma2 = -1, mi2 = -1;
  const apppass::Status s = bp::ParseVersion(line, &ma, &mi);
  const apppass::Status s2 = bp::ParseVersion(line, &ma2, &mi2);
  if (s.code() != s2.code() || s.message() != s2.message()) Fail("ParseVersion differs twice");
  const auto parts = Split(line, '\t');
  auto num = [](std::string_view n) -> std::optional<int> {
    if (n.empty() || n.size() > 3 || (n.size() > 1 && n[0] == '0')) return std::nullopt;
    for (char c : n)
      if (c < '0' || c > '9') return std::nullopt;
    return std::stoi(std::string(n));
  };
  std::optional<int> a, b;
  if (parts.size() == 3 && parts[0] == "VERSION") {
    a = num(parts[1]);
    b = num(parts[2]);
  }
  if (!a || !b) {
    if (s.code() != apppass::Status::Code::kInvalidArgument) Fail("ParseVersion took a bad line");
  } else if (*a != bp::kProtocolMajor) {
    if (s.code() != apppass::Status::Code::kUnavailable) Fail("ParseVersion took another major");
  } else if (!s.ok() || ma != *a || mi != *b) {
    Fail("ParseVersion refused or misread " + Show(line));
  }
}

void Escaping(std::string_view in) {
  const std::optional<std::string> escaped = bp::EscapeValue(in);
  if (!escaped || escaped != bp::EscapeValue(in)) Fail("EscapeValue failed or differs twice");
  const std::string& e = *escaped;
  for (char ch : e) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) Fail("EscapeValue left a control byte");
  }
  const auto d = Decode(e);
  if (!d || *d != in) Fail("escaping does not round-trip " + Show(in));
  if (bp::UnescapedSize(e) != in.size()) Fail("UnescapedSize of an escaped value");
  // The input itself as an escaped value, against the separate decoder.
  const auto mine = Decode(in);
  const auto theirs = bp::UnescapedSize(in);
  if (mine.has_value() != theirs.has_value() || (mine && mine->size() != *theirs))
    Fail("UnescapedSize disagrees on " + Show(in));
  if (mine) {
    bp::Fields f;
    if (!f.AddEscaped("password", in).ok() || f.GetSecret("password")->view() != *mine)
      Fail("AddEscaped decoded differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) Fail("sodium_init");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  // '0'..'4' (48..52) pick parts 0..4, as the seeds are written ("0VERIFY\t1...");
  // every other byte picks one too.
  switch ((data[0] + 2) % 5) {
    case 0: Request(in); break;
    case 1: ReplyLine(in); break;
    case 2: Reader(in); break;
    case 3: Version(in); break;
    default: Escaping(in); break;
  }
  return 0;
}
