#include "messages.h"

namespace apppass {

std::optional<MessageError> ParsePlain(std::string_view message, PlainMessage* out) {
  *out = PlainMessage{};
  // Bounded before it is scanned.
  if (message.size() > kMaxPlainMessage)
    return MessageError{"bad-input", "PLAIN message longer than its fields allow"};
  const std::size_t first = message.find('\0');
  const std::size_t second =
      first == std::string_view::npos ? first : message.find('\0', first + 1);
  if (second == std::string_view::npos)
    return MessageError{"bad-input", "PLAIN message without two NUL separators"};
  if (message.find('\0', second + 1) != std::string_view::npos)
    return MessageError{"bad-input", "PLAIN message with more than two NUL separators"};
  PlainMessage m;
  m.authzid = message.substr(0, first);
  m.authcid = message.substr(first + 1, second - first - 1);
  m.password = message.substr(second + 1);
  if (m.authzid.size() > kMaxIdentityBytes)
    return MessageError{"bad-input", "PLAIN authorization identity longer than 256 bytes"};
  if (m.authcid.size() > kMaxIdentityBytes)
    return MessageError{"bad-input", "PLAIN user name longer than 256 bytes"};
  if (m.password.size() > kMaxSecretBytes)
    return MessageError{"bad-input", "PLAIN password longer than 512 bytes"};
  if (m.authcid.empty()) return MessageError{"no-user", "PLAIN message with an empty user name"};
  if (m.password.empty())
    return MessageError{"no-password", "PLAIN message with an empty password"};
  *out = m;
  return std::nullopt;
}

std::optional<MessageError> CheckLoginUser(std::string_view user) {
  if (user.empty()) return MessageError{"no-user", "LOGIN with an empty user name"};
  if (user.size() > kMaxIdentityBytes)
    return MessageError{"bad-input", "LOGIN user name longer than 256 bytes"};
  if (user.find('\0') != std::string_view::npos)
    return MessageError{"bad-input", "LOGIN user name with a NUL byte"};
  return std::nullopt;
}

std::optional<MessageError> CheckLoginPassword(std::string_view password) {
  if (password.empty()) return MessageError{"no-password", "LOGIN with an empty password"};
  if (password.size() > kMaxSecretBytes)
    return MessageError{"bad-input", "LOGIN password longer than 512 bytes"};
  if (password.find('\0') != std::string_view::npos)
    return MessageError{"bad-input", "LOGIN password with a NUL byte"};
  return std::nullopt;
}

}  // namespace apppass
