// The client messages of PLAIN (RFC 4616) and LOGIN, checked for shape before anything
// else looks at them.
//
//   PLAIN:  [authzid] NUL authcid NUL passwd     exactly two NULs; authcid and passwd
//                                                 non-empty; authzid may be empty
//   LOGIN:  the user name, then the password, each in its own message, without NUL
//
// Every field is bounded (identities kMaxIdentityBytes, the password kMaxSecretBytes,
// both above RFC 4616's 255 octets) and a longer one is refused whole, never truncated.
// Results are views into the caller's buffer: nothing is copied, in particular not the
// password. Error texts are fixed strings and never contain input. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "password.h"
#include "text.h"

namespace apppass {

inline constexpr std::size_t kMaxIdentityBytes = kMaxUserLength;   // 256
inline constexpr std::size_t kMaxSecretBytes = kMaxPasswordInput;  // 512
inline constexpr std::size_t kMaxPlainMessage = 2 * kMaxIdentityBytes + kMaxSecretBytes + 2;

// Why a message was refused, for the decision log line.
struct MessageError {
  std::string_view reason;  // "bad-input", "no-user" or "no-password" (decision_log.h)
  std::string_view detail;  // a fixed description
};

struct PlainMessage {
  std::string_view authzid;  // may be empty
  std::string_view authcid;
  std::string_view password;
};

// Splits a PLAIN message. On error `*out` is left empty: a malformed message's fields
// cannot be told apart (a client that forgot the leading NUL puts its password where the
// user name belongs), so none of them may be logged.
std::optional<MessageError> ParsePlain(std::string_view message, PlainMessage* out);

// LOGIN's user name and password: non-empty, bounded, no NUL.
std::optional<MessageError> CheckLoginUser(std::string_view user);
std::optional<MessageError> CheckLoginPassword(std::string_view password);

}  // namespace apppass
