// The wire format of apppassd, the root broker (issue 11): framing, handshake, requests
// and replies, as pure functions over bytes. No sockets, no store: the daemon and its
// clients (PAM module, SASL plugin, `apppass` as a user) do their own I/O and call these.
// docs/design.md ("Broker protocol (apppassd)") is the reference for people; this header
// is the contract for code.
//
//   line     = bytes without '\n' and NUL, at most kMaxLineLength, then '\n'
//   version  = "VERSION" TAB major TAB minor            (both ways, first line)
//   request  = KIND TAB id *(TAB key "=" value)
//   reply    = "OK" TAB id *(TAB key "=" value)
//            / "ITEM" TAB id *(TAB key "=" value)     (zero or more, before the OK)
//            / "FAIL" TAB id TAB code TAB message *(TAB key "=" value)
//   id       = 1..10 decimal digits, no leading zero (0 only in a FAIL for a line
//              whose id could not be read)
//   key      = 1..32 of [a-z_]
//   value    = escaped bytes (EscapeValue): no raw TAB, '\n', NUL or other control byte
//
// Unknown keys are kept by the parser and ignored by whoever reads the message: every
// handler looks up only the fields it knows, by name, and a field it does not know cannot
// change what it does, so a newer peer may add fields without breaking an older one.
// Unknown request kinds are refused ("unknown_request"), never guessed at.
//
// Secrets: the values of the keys IsSecretKey names (password, code, secret, uri,
// recovery_code, signin, session) are
// held only in SecretBuffers, never in a std::string; error messages never quote a value
// (at most a key name or a field's position). Serialized lines go into a SecretBuffer too,
// since they may carry a secret.
//
// No exception leaves these functions (all noexcept): an allocation failure is
// Status::Internal.
// Thread-safety: pure functions are thread-safe; a Fields, Request, Reply or LineReader
// object is not (one per connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "secret.h"
#include "status.h"

namespace apppass::broker {

inline constexpr int kProtocolMajor = 1;
// Minor 1 (issue 12): VERIFY's OK says `enrolled`; CODE, ENROLLED, ACCOUNT, MFA_RECOVERY;
// MFA_CONFIRM may answer recovery codes; MFA_STATUS says `recovery_codes_left`.
// Minor 2 (issue 13): the portal's kinds (SIGNIN ... SIGNOUT), `session=` on self-service
// kinds from the portal, MFA_REPLACE and MFA_REPLACE_CONFIRM; the secret keys signin and
// session.
inline constexpr int kProtocolMinor = 2;

// The longest line (without its '\n') either side sends or accepts. The largest request,
// VERIFY, holds a user name (<= 256 bytes), a password (<= 512 bytes, kMaxPasswordInput),
// a service and a remote host; escaped as \xHH in the worst case (4 bytes per byte) that
// is under 4 KiB. 8 KiB leaves room for fields a later minor version adds while bounding
// what a connection can make the daemon buffer.
inline constexpr std::size_t kMaxLineLength = 8192;
// Fields in one message; more is refused (bounds the work of the duplicate check).
inline constexpr std::size_t kMaxFields = 64;
inline constexpr std::size_t kMaxKeyLength = 32;
// The largest id: ten digits.
inline constexpr std::uint64_t kMaxRequestId = 9'999'999'999;

// The request kinds (issue 11 items 3-5, issue 12). Their fields are in docs/design.md.
// New kinds go at the end (the order is the wire names' order, nothing else).
enum class RequestKind {
  kVerify,      // VERIFY: a group member asks for the outcome of (user, password, service)
  kList,        // LIST: the caller's app passwords, as ITEM lines
  kCreate,      // CREATE: a new app password for the caller (needs a TOTP code)
  kRevoke,      // REVOKE: by id, name or all (needs a TOTP code)
  kMfaStatus,   // MFA_STATUS
  kMfaEnroll,   // MFA_ENROLL: when the policy allows self-enrollment
  kMfaConfirm,  // MFA_CONFIRM (needs a TOTP code)
  kPolicyShow,  // POLICY_SHOW
  kPolicySet,   // POLICY_SET: root only
  // Minor 1 (issue 12):
  kCode,         // CODE: a verifier asks for the outcome of (user, TOTP or recovery code)
  kEnrolled,     // ENROLLED: a verifier asks whether a user has a confirmed enrollment
  kAccount,      // ACCOUNT: a verifier asks for a user's account state (NSS, shadow)
  kMfaRecovery,  // MFA_RECOVERY: new recovery codes for the caller (needs a TOTP code)
  // Minor 2 (issue 13), the first six from the portal's uid only:
  kSignin,             // SIGNIN: a user's password through the portal's PAM service
  kSigninCode,         // SIGNIN_CODE: the second step, a TOTP or recovery code -> a session
  kSigninEnroll,       // SIGNIN_ENROLL: a signed-in user without MFA starts an enrollment
  kSigninConfirm,      // SIGNIN_CONFIRM: confirms it -> recovery codes and a session
  kSession,            // SESSION: is a session valid (touches it)
  kSignout,            // SIGNOUT: ends a session
  kMfaReplace,         // MFA_REPLACE: a new secret beside the confirmed one (needs a code)
  kMfaReplaceConfirm,  // MFA_REPLACE_CONFIRM: a code of the new secret swaps them
};
// Every kind, in declaration order.
inline constexpr RequestKind kAllRequestKinds[] = {
    RequestKind::kVerify,       RequestKind::kList,          RequestKind::kCreate,
    RequestKind::kRevoke,       RequestKind::kMfaStatus,     RequestKind::kMfaEnroll,
    RequestKind::kMfaConfirm,   RequestKind::kPolicyShow,    RequestKind::kPolicySet,
    RequestKind::kCode,         RequestKind::kEnrolled,      RequestKind::kAccount,
    RequestKind::kMfaRecovery,  RequestKind::kSignin,        RequestKind::kSigninCode,
    RequestKind::kSigninEnroll, RequestKind::kSigninConfirm, RequestKind::kSession,
    RequestKind::kSignout,      RequestKind::kMfaReplace,    RequestKind::kMfaReplaceConfirm};
// The wire name ("VERIFY", "MFA_STATUS", ...).
std::string_view RequestKindName(RequestKind kind) noexcept;
// The kind a wire name stands for (exact, case-sensitive), or nullopt.
std::optional<RequestKind> RequestKindFromName(std::string_view name) noexcept;

// The code of a FAIL reply. The first six mirror Status::Code (and so apppass's exit
// codes); the last three are the protocol's own.
enum class ReplyCode {
  kNotFound,        // not_found
  kInvalid,         // invalid: malformed request or bad argument
  kUnavailable,     // unavailable: the store cannot be used
  kDenied,          // denied: refused by a rule (caller not allowed, wrong code, limit)
  kExists,          // exists
  kInternal,        // internal
  kUnknownRequest,  // unknown_request: a request kind this daemon does not know
  kTooLong,         // too_long: a line over kMaxLineLength (the connection is closed)
  kVersion,         // version: unsupported protocol major version (connection closed)
};
std::string_view ReplyCodeName(ReplyCode code) noexcept;
// The code a wire name stands for; a name this side does not know is kInternal (a newer
// daemon's code still fails the request).
ReplyCode ReplyCodeFromName(std::string_view name) noexcept;
// Status::Code -> ReplyCode (kOk maps to kInternal: a caller bug) and back
// (unknown_request and too_long are kInvalidArgument, version is kUnavailable).
ReplyCode ReplyCodeFor(Status::Code code) noexcept;
Status::Code StatusCodeFor(ReplyCode code) noexcept;

// True for the keys whose values are secrets: "password", "code" (a TOTP or recovery
// code), "secret" (a TOTP secret), "uri" (an otpauth:// URI, which holds the secret) and
// "recovery_code" (a new recovery code, in the ITEM lines of MFA_RECOVERY and MFA_CONFIRM),
// and, minor 2, "signin" and "session" (the portal's pending sign-in and session tokens).
bool IsSecretKey(std::string_view key) noexcept;
// A key is 1..kMaxKeyLength bytes of [a-z_].
bool IsValidKey(std::string_view key) noexcept;

// Escaping of values: '\\' -> "\\\\", TAB -> "\\t", '\n' -> "\\n", every other byte below
// 0x20 and 0x7f -> "\\xHH" (lower-case hex); every other byte (UTF-8 included) as itself.
// UnescapeValue accepts exactly "\\\\", "\\t", "\\n" and "\\xHH" (either case, any byte)
// and refuses any other escape, a truncated one, and raw bytes below 0x20 or 0x7f.
// EscapeValue returns a std::string, so it is only for values that are not secret (the
// serializers escape secrets straight into a SecretBuffer); nullopt when memory runs out.
std::optional<std::string> EscapeValue(std::string_view value) noexcept;
// The unescaped size of `escaped`, or nullopt when it is not a valid escaped value.
std::optional<std::size_t> UnescapedSize(std::string_view escaped) noexcept;

// One field of a message. Secret values (IsSecretKey) are in `secret`, `value` empty.
struct Field {
  std::string key;
  std::string value;
  SecretBuffer secret;
  bool is_secret = false;
};

// The fields of a message in wire order, unique keys. Move-only (it may hold secrets).
class Fields {
 public:
  // Adds `key`=`value` (unescaped). InvalidArgument when the key is not valid, is already
  // present, or kMaxFields are there; Internal when memory runs out. A secret key's value
  // is copied into a SecretBuffer only.
  Status Add(std::string_view key, std::string_view value) noexcept;
  // The value of a key that is not secret, or nullptr (absent, or a secret key).
  const std::string* Get(std::string_view key) const noexcept;
  // The value of a secret key, or nullptr (absent, or not a secret key).
  const SecretBuffer* GetSecret(std::string_view key) const noexcept;
  bool Has(std::string_view key) const noexcept;
  // As Add, from the escaped wire form of the value; InvalidArgument also when it is not
  // a valid escaped value (the message names the key, never the value).
  Status AddEscaped(std::string_view key, std::string_view escaped) noexcept;
  const std::vector<Field>& all() const { return fields_; }
  std::size_t size() const { return fields_.size(); }

 private:
  // Whether a field `key` may be added: a valid key, not there yet, room for one more.
  Status CheckNewKey(std::string_view key) const;
  std::vector<Field> fields_;
};

struct Request {
  RequestKind kind = RequestKind::kVerify;
  std::uint64_t id = 0;  // 1..kMaxRequestId
  Fields fields;
};

enum class ReplyType { kOk, kItem, kFail };

struct Reply {
  ReplyType type = ReplyType::kOk;
  std::uint64_t id = 0;  // the request's; 0 in a FAIL for a line whose id was unreadable
  ReplyCode code = ReplyCode::kInternal;  // kFail only
  std::string message;                    // kFail only: for people, never a secret
  Fields fields;
};

// A FAIL reply for `id` from a failed Status (code and message). REQUIRES: !s.ok().
// When memory runs out the message is left empty (still a valid FAIL).
Reply FailReply(std::uint64_t id, const Status& s) noexcept;
Reply FailReply(std::uint64_t id, ReplyCode code, std::string message) noexcept;
// What a reply means to a client: Ok for OK and ITEM, else the Status of its code with
// its message (a message from the daemon: pass it through TerminalSafe before showing).
Status ReplyStatus(const Reply& reply) noexcept;

// --- Handshake ---
// "VERSION\t<kProtocolMajor>\t<kProtocolMinor>\n", the first line each side sends.
std::string_view VersionLine() noexcept;
// Reads the peer's version line (without '\n'): exactly "VERSION", a major and a minor
// (0..999, no leading zero). InvalidArgument when malformed; Unavailable when the major
// differs from kProtocolMajor (the daemon then replies FAIL 0 version and closes; a
// client gives up). A different minor is fine: fields it adds are ignored.
Status ParseVersion(std::string_view line, int* major, int* minor) noexcept;

// --- Serializing (the '\n' included) ---
// The line for `request` or `reply`, in a SecretBuffer (it may carry a secret).
// InvalidArgument when the id is out of range or the line would exceed kMaxLineLength
// (the peer would refuse it); Internal when memory runs out.
Status SerializeRequest(const Request& request, SecretBuffer* line) noexcept;
Status SerializeReply(const Reply& reply, SecretBuffer* line) noexcept;

// --- Parsing one line (without its '\n') ---
// Ok and *out filled, or an error and *fail set to the FAIL reply the daemon sends: id
// 0 when the id could not be read, code kUnknownRequest for a well-formed line of an
// unknown kind (with its id), kTooLong over kMaxLineLength, kInvalid for anything else
// malformed (empty line or kind, missing or bad id, empty field from a stray tab, field
// without '=', bad key, bad escape, raw control byte or NUL, duplicate key, too many
// fields), kInternal when memory runs out. The returned Status has the same message.
Status ParseRequest(std::string_view line, Request* out, Reply* fail) noexcept;
// A reply line (client side): InvalidArgument when malformed (a broken or hostile
// daemon: fail closed).
Status ParseReply(std::string_view line, Reply* out) noexcept;

// --- Framing ---
// Splits a byte stream into lines of at most kMaxLineLength bytes, never holding more.
// The line is kept in a SecretBuffer and wiped by Clear() and by the next Feed. Bytes
// read from a socket pass through the caller's buffer: the caller wipes it
// (sodium_memzero) after Feed, since it may hold a password.
class LineReader {
 public:
  enum class State {
    kNeedMore,  // all of `chunk` was consumed; no complete line yet
    kLine,      // line() holds a complete line; the rest of `chunk` is not consumed
    kTooLong,   // more than kMaxLineLength bytes without '\n': reply too_long and close;
                // the reader stays in this state
    kNoMemory,  // the buffer could not be allocated
  };
  // `max_length` bytes per line (tests use smaller limits).
  explicit LineReader(std::size_t max_length = kMaxLineLength) noexcept;
  // Consumes bytes of `chunk` up to and including the first '\n' and sets *consumed to
  // how many. The line handed out by the previous kLine is wiped first.
  State Feed(std::string_view chunk, std::size_t* consumed) noexcept;
  // REQUIRES: the last Feed returned kLine. The line without '\n'.
  std::string_view line() const noexcept;
  // Bytes of an unfinished line held (0 after kLine until the next Feed).
  std::size_t pending() const { return line_ready_ ? 0 : used_; }
  // Wipes what is held.
  void Clear() noexcept;

 private:
  std::size_t max_length_;
  SecretBuffer buffer_;
  std::size_t used_ = 0;
  bool line_ready_ = false;
  bool too_long_ = false;
};

}  // namespace apppass::broker
