// Requests, replies and the handshake of apppassd's wire format (broker_protocol.h): the
// names of request kinds and reply codes, ids, the version line, and the serializing and
// parsing of lines. Field values and line framing are in broker_fields.cc.
#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

#include "broker_internal.h"
#include "broker_protocol.h"

namespace apppass::broker {
namespace {

using internal::kHex;
using internal::NeedsEscape;
using internal::NoMemory;
using internal::UnescapeTo;

constexpr std::array<std::string_view, 21> kKindNames = {
    "VERIFY", "LIST", "CREATE", "REVOKE", "MFA_STATUS", "MFA_ENROLL", "MFA_CONFIRM", "POLICY_SHOW",
    "POLICY_SET", "CODE", "ENROLLED", "ACCOUNT", "MFA_RECOVERY",
    // Minor 2 (issue 13):
    "SIGNIN", "SIGNIN_CODE", "SIGNIN_ENROLL", "SIGNIN_CONFIRM", "SESSION", "SIGNOUT", "MFA_REPLACE",
    "MFA_REPLACE_CONFIRM"};
constexpr std::array<std::string_view, 9> kCodeNames = {
    "not_found", "invalid",         "unavailable", "denied", "exists",
    "internal",  "unknown_request", "too_long",    "version"};
static_assert(kKindNames.size() == std::size(kAllRequestKinds), "one name per request kind");
static_assert(kCodeNames.size() == static_cast<std::size_t>(ReplyCode::kVersion) + 1,
              "one name per reply code");

constexpr std::string_view kVersionLine = "VERSION\t1\t2\n";
static_assert(kProtocolMajor == 1 && kProtocolMinor == 2, "update kVersionLine");

// "1".."9999999999" without leading zero; "0" too when `allow_zero`.
std::optional<std::uint64_t> ParseId(std::string_view s, bool allow_zero) {
  if (s == "0") return allow_zero ? std::optional<std::uint64_t>(0) : std::nullopt;
  if (s.empty() || s.size() > 10 || s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// 0..999, no leading zero.
std::optional<int> ParseVersionNumber(std::string_view s) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// The tab-separated parts of a line.
std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t tab = line.find('\t');
    parts.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return parts;
}

bool IsUpperName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

// Builds one line in a SecretBuffer of kMaxLineLength + 1 bytes; remembers an overflow.
class LineWriter {
 public:
  LineWriter() : buf_(kMaxLineLength + 1) {}
  bool valid() const { return buf_.valid(); }
  void Raw(std::string_view s) {
    for (char c : s) Put(static_cast<unsigned char>(c));
  }
  void Escaped(std::string_view s) {
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (!NeedsEscape(c)) {
        Put(c);
      } else if (c == '\t') {
        Raw("\\t");
      } else if (c == '\n') {
        Raw("\\n");
      } else if (c == '\\') {
        Raw("\\\\");
      } else {
        Put('\\');
        Put('x');
        Put(static_cast<unsigned char>(kHex[c >> 4]));
        Put(static_cast<unsigned char>(kHex[c & 0xf]));
      }
    }
  }
  void Number(std::uint64_t v) { Raw(std::to_string(v)); }
  void Fields(const broker::Fields& fields) {
    for (const Field& f : fields.all()) {
      Put('\t');
      Raw(f.key);
      Put('=');
      Escaped(f.is_secret ? f.secret.view() : std::string_view(f.value));
    }
  }
  // The finished line, '\n' added, moved to *out.
  Status Finish(SecretBuffer* out) {
    // The '\n' always fits in the extra byte unless the content already overflowed.
    if (overflow_ || buf_.size() > kMaxLineLength)
      return Status::InvalidArgument("the message would be longer than " +
                                     std::to_string(kMaxLineLength) + " bytes");
    buf_.push_back('\n');
    *out = std::move(buf_);
    return Status::Ok();
  }

 private:
  void Put(unsigned char c) {
    if (!overflow_ && (buf_.size() >= kMaxLineLength || !buf_.push_back(c))) overflow_ = true;
  }
  SecretBuffer buf_;
  bool overflow_ = false;
};

Status MakeStatus(Status::Code code, std::string msg) {
  switch (code) {
    case Status::Code::kOk: return Status::Ok();
    case Status::Code::kNotFound: return Status::NotFound(std::move(msg));
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(std::move(msg));
    case Status::Code::kUnavailable: return Status::Unavailable(std::move(msg));
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(std::move(msg));
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(std::move(msg));
    case Status::Code::kInternal: break;
  }
  return Status::Internal(std::move(msg));
}

// Fields from parts[first..]; messages name fields by position (1 = the first field).
Status ParseFields(const std::vector<std::string_view>& parts, std::size_t first, Fields* out) {
  if (parts.size() - first > kMaxFields)
    return Status::InvalidArgument("more than " + std::to_string(kMaxFields) + " fields");
  for (std::size_t i = first; i < parts.size(); ++i) {
    const std::string where = "field " + std::to_string(i - first + 1);
    const std::string_view part = parts[i];
    if (part.empty()) return Status::InvalidArgument(where + " is empty (a stray tab?)");
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Status::InvalidArgument(where + " has no '='");
    if (!IsValidKey(part.substr(0, eq)))
      return Status::InvalidArgument(where + ": the key is not 1..32 of [a-z_]");
    Status s = out->AddEscaped(part.substr(0, eq), part.substr(eq + 1));
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

std::string_view RequestKindName(RequestKind kind) noexcept {
  const auto i = static_cast<std::size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : std::string_view("?");
}

std::optional<RequestKind> RequestKindFromName(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == name) return static_cast<RequestKind>(i);
  return std::nullopt;
}

std::string_view ReplyCodeName(ReplyCode code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < kCodeNames.size() ? kCodeNames[i] : std::string_view("internal");
}

ReplyCode ReplyCodeFromName(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kCodeNames.size(); ++i)
    if (kCodeNames[i] == name) return static_cast<ReplyCode>(i);
  return ReplyCode::kInternal;
}

ReplyCode ReplyCodeFor(Status::Code code) noexcept {
  switch (code) {
    case Status::Code::kNotFound: return ReplyCode::kNotFound;
    case Status::Code::kInvalidArgument: return ReplyCode::kInvalid;
    case Status::Code::kUnavailable: return ReplyCode::kUnavailable;
    case Status::Code::kPermissionDenied: return ReplyCode::kDenied;
    case Status::Code::kAlreadyExists: return ReplyCode::kExists;
    case Status::Code::kOk:
    case Status::Code::kInternal: break;
  }
  return ReplyCode::kInternal;
}

Status::Code StatusCodeFor(ReplyCode code) noexcept {
  switch (code) {
    case ReplyCode::kNotFound: return Status::Code::kNotFound;
    case ReplyCode::kInvalid:
    case ReplyCode::kUnknownRequest:
    case ReplyCode::kTooLong: return Status::Code::kInvalidArgument;
    case ReplyCode::kUnavailable:
    case ReplyCode::kVersion: return Status::Code::kUnavailable;
    case ReplyCode::kDenied: return Status::Code::kPermissionDenied;
    case ReplyCode::kExists: return Status::Code::kAlreadyExists;
    case ReplyCode::kInternal: break;
  }
  return Status::Code::kInternal;
}

Reply FailReply(std::uint64_t id, ReplyCode code, std::string message) noexcept {
  Reply r;
  r.type = ReplyType::kFail;
  r.id = id;
  r.code = code;
  r.message = std::move(message);
  return r;
}

Reply FailReply(std::uint64_t id, const Status& s) noexcept {
  std::string message;
  try {
    message = s.message();
  } catch (...) {
    message.clear();  // out of memory: the code alone still says what happened
  }
  return FailReply(id, ReplyCodeFor(s.code()), std::move(message));
}

Status ReplyStatus(const Reply& reply) noexcept {
  try {
    if (reply.type != ReplyType::kFail) return Status::Ok();
    return MakeStatus(StatusCodeFor(reply.code), reply.message);
  } catch (...) {
    return NoMemory();
  }
}

std::string_view VersionLine() noexcept { return kVersionLine; }

Status ParseVersion(std::string_view line, int* major, int* minor) noexcept {
  try {
    if (line.size() > kMaxLineLength) return Status::InvalidArgument("version line too long");
    const std::vector<std::string_view> parts = SplitTabs(line);
    if (parts.size() != 3 || parts[0] != "VERSION")
      return Status::InvalidArgument("expected \"VERSION<TAB>major<TAB>minor\"");
    const std::optional<int> ma = ParseVersionNumber(parts[1]);
    const std::optional<int> mi = ParseVersionNumber(parts[2]);
    if (!ma || !mi) return Status::InvalidArgument("bad version number (0..999)");
    *major = *ma;
    *minor = *mi;
    if (*ma != kProtocolMajor)
      return Status::Unavailable("protocol version " + std::to_string(*ma) + "." +
                                 std::to_string(*mi) + " is not supported (this side speaks " +
                                 std::to_string(kProtocolMajor) + "." +
                                 std::to_string(kProtocolMinor) + ")");
    return Status::Ok();
  } catch (...) {
    return NoMemory();
  }
}

Status SerializeRequest(const Request& request, SecretBuffer* line) noexcept {
  try {
    if (request.id < 1 || request.id > kMaxRequestId)
      return Status::InvalidArgument("request id out of range");
    LineWriter w;
    if (!w.valid()) return NoMemory();
    w.Raw(RequestKindName(request.kind));
    w.Raw("\t");
    w.Number(request.id);
    w.Fields(request.fields);
    return w.Finish(line);
  } catch (...) {
    return NoMemory();
  }
}

Status SerializeReply(const Reply& reply, SecretBuffer* line) noexcept {
  try {
    const bool fail = reply.type == ReplyType::kFail;
    if (reply.id > kMaxRequestId || (reply.id == 0 && !fail))
      return Status::InvalidArgument("reply id out of range");
    LineWriter w;
    if (!w.valid()) return NoMemory();
    w.Raw(fail ? "FAIL" : reply.type == ReplyType::kItem ? "ITEM" : "OK");
    w.Raw("\t");
    w.Number(reply.id);
    if (fail) {
      w.Raw("\t");
      w.Raw(ReplyCodeName(reply.code));
      w.Raw("\t");
      w.Escaped(reply.message);
    }
    w.Fields(reply.fields);
    return w.Finish(line);
  } catch (...) {
    return NoMemory();
  }
}

Status ParseRequest(std::string_view line, Request* out, Reply* fail) noexcept {
  auto failed = [fail](std::uint64_t id, ReplyCode code, Status s) {
    *fail = FailReply(id, code, s.message());
    return s;
  };
  try {
    if (line.size() > kMaxLineLength)
      return failed(0, ReplyCode::kTooLong,
                    Status::InvalidArgument("request longer than " +
                                            std::to_string(kMaxLineLength) + " bytes"));
    const std::vector<std::string_view> parts = SplitTabs(line);
    if (parts[0].empty())
      return failed(
          0, ReplyCode::kInvalid,
          Status::InvalidArgument(line.empty() ? "empty request line" : "empty request kind"));
    if (parts.size() < 2)
      return failed(0, ReplyCode::kInvalid, Status::InvalidArgument("missing request id"));
    const std::optional<std::uint64_t> id = ParseId(parts[1], false);
    if (!id)
      return failed(0, ReplyCode::kInvalid,
                    Status::InvalidArgument("bad request id (1..10 digits, no leading zero)"));
    const std::optional<RequestKind> kind = RequestKindFromName(parts[0]);
    if (!kind)
      return failed(
          *id, ReplyCode::kUnknownRequest,
          Status::InvalidArgument(IsUpperName(parts[0])
                                      ? "unknown request kind " + std::string(parts[0])
                                      : std::string("unknown request kind (not [A-Z_]{1,32})")));
    Request r;
    r.kind = *kind;
    r.id = *id;
    Status s = ParseFields(parts, 2, &r.fields);
    if (!s.ok()) return failed(*id, ReplyCodeFor(s.code()), s);
    *out = std::move(r);
    return Status::Ok();
  } catch (...) {
    Status s = NoMemory();
    fail->type = ReplyType::kFail;
    fail->id = 0;
    fail->code = ReplyCode::kInternal;
    fail->message.clear();  // no allocation: an empty message is still a valid FAIL
    return s;
  }
}

Status ParseReply(std::string_view line, Reply* out) noexcept {
  try {
    if (line.size() > kMaxLineLength) return Status::InvalidArgument("reply line too long");
    const std::vector<std::string_view> parts = SplitTabs(line);
    Reply r;
    if (parts[0] == "OK") {
      r.type = ReplyType::kOk;
    } else if (parts[0] == "ITEM") {
      r.type = ReplyType::kItem;
    } else if (parts[0] == "FAIL") {
      r.type = ReplyType::kFail;
    } else {
      return Status::InvalidArgument("reply is not OK, ITEM or FAIL");
    }
    if (parts.size() < 2) return Status::InvalidArgument("reply without id");
    const std::optional<std::uint64_t> id = ParseId(parts[1], r.type == ReplyType::kFail);
    if (!id) return Status::InvalidArgument("bad reply id");
    r.id = *id;
    std::size_t first_field = 2;
    if (r.type == ReplyType::kFail) {
      if (parts.size() < 4) return Status::InvalidArgument("FAIL reply without code and message");
      if (!IsValidKey(parts[2])) return Status::InvalidArgument("bad FAIL code");
      r.code = ReplyCodeFromName(parts[2]);
      const std::optional<std::size_t> size = UnescapedSize(parts[3]);
      if (!size) return Status::InvalidArgument("bad escape in FAIL message");
      r.message.resize(*size);
      UnescapeTo(parts[3], reinterpret_cast<unsigned char*>(r.message.data()));
      first_field = 4;
    }
    Status s = ParseFields(parts, first_field, &r.fields);
    if (!s.ok()) return s;
    *out = std::move(r);
    return Status::Ok();
  } catch (...) {
    return NoMemory();
  }
}

}  // namespace apppass::broker
