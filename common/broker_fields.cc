// Field values on the wire (broker_protocol.h): escaping and unescaping, the key rules,
// the Fields container, and the LineReader that frames incoming lines. Requests, replies
// and the handshake are in broker_protocol.cc.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "broker_internal.h"
#include "broker_protocol.h"

namespace apppass::broker {
namespace {

using internal::kHex;
using internal::NeedsEscape;
using internal::NoMemory;
using internal::UnescapeTo;

constexpr std::array<std::string_view, 7> kSecretKeys = {"password",      "code",   "secret", "uri",
                                                         "recovery_code", "signin", "session"};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Writes the unescaped bytes of `escaped` (REQUIRES: UnescapedSize(escaped) holds) to out.
void internal::UnescapeTo(std::string_view escaped, unsigned char* out) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '\\') {
      out[n++] = static_cast<unsigned char>(escaped[i]);
      continue;
    }
    const char e = escaped[++i];
    if (e == 't') {
      out[n++] = '\t';
    } else if (e == 'n') {
      out[n++] = '\n';
    } else if (e == '\\') {
      out[n++] = '\\';
    } else {  // 'x'
      out[n++] =
          static_cast<unsigned char>(HexDigit(escaped[i + 1]) * 16 + HexDigit(escaped[i + 2]));
      i += 2;
    }
  }
}

bool IsSecretKey(std::string_view key) noexcept {
  return std::find(kSecretKeys.begin(), kSecretKeys.end(), key) != kSecretKeys.end();
}

bool IsValidKey(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  return std::all_of(key.begin(), key.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

std::optional<std::string> EscapeValue(std::string_view value) noexcept {
  try {
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
      const auto c = static_cast<unsigned char>(ch);
      if (!NeedsEscape(c)) {
        out.push_back(ch);
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\\') {
        out += "\\\\";
      } else {
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
      }
    }
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::size_t> UnescapedSize(std::string_view escaped) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < escaped.size(); ++i, ++n) {
    const auto c = static_cast<unsigned char>(escaped[i]);
    if (c < 0x20 || c == 0x7f) return std::nullopt;  // raw control byte (NUL, TAB, CR, ...)
    if (c != '\\') continue;
    if (++i == escaped.size()) return std::nullopt;  // lone backslash at the end
    const char e = escaped[i];
    if (e == 't' || e == 'n' || e == '\\') continue;
    if (e != 'x' || i + 2 >= escaped.size() || HexDigit(escaped[i + 1]) < 0 ||
        HexDigit(escaped[i + 2]) < 0)
      return std::nullopt;
    i += 2;
  }
  return n;
}

Status Fields::CheckNewKey(std::string_view key) const {
  if (!IsValidKey(key)) return Status::InvalidArgument("a field key is not 1..32 of [a-z_]");
  if (Has(key)) return Status::InvalidArgument("duplicate field '" + std::string(key) + "'");
  if (fields_.size() >= kMaxFields)
    return Status::InvalidArgument("more than " + std::to_string(kMaxFields) + " fields");
  return Status::Ok();
}

Status Fields::Add(std::string_view key, std::string_view value) noexcept {
  try {
    if (Status s = CheckNewKey(key); !s.ok()) return s;
    Field f;
    f.key = std::string(key);
    if (IsSecretKey(key)) {
      f.is_secret = true;
      f.secret = SecretBuffer(std::max<std::size_t>(value.size(), 1));
      if (!f.secret.valid() || !f.secret.assign(value)) return NoMemory();
    } else {
      f.value = std::string(value);
    }
    fields_.push_back(std::move(f));
    return Status::Ok();
  } catch (...) {
    return NoMemory();
  }
}

Status Fields::AddEscaped(std::string_view key, std::string_view escaped) noexcept {
  try {
    if (!IsValidKey(key)) return Status::InvalidArgument("a field key is not 1..32 of [a-z_]");
    const std::optional<std::size_t> size = UnescapedSize(escaped);
    if (!size)
      return Status::InvalidArgument(
          "field '" + std::string(key) +
          "': bad escape or raw control byte in its value (escape as \\t \\n \\\\ \\xHH)");
    if (Status s = CheckNewKey(key); !s.ok()) return s;
    Field f;
    f.key = std::string(key);
    if (IsSecretKey(key)) {
      f.is_secret = true;
      f.secret = SecretBuffer(std::max<std::size_t>(*size, 1));
      if (!f.secret.valid()) return NoMemory();
      UnescapeTo(escaped, f.secret.data());
      f.secret.resize(*size);
    } else {
      f.value.resize(*size);
      UnescapeTo(escaped, reinterpret_cast<unsigned char*>(f.value.data()));
    }
    fields_.push_back(std::move(f));
    return Status::Ok();
  } catch (...) {
    return NoMemory();
  }
}

const std::string* Fields::Get(std::string_view key) const noexcept {
  for (const Field& f : fields_)
    if (f.key == key) return f.is_secret ? nullptr : &f.value;
  return nullptr;
}

const SecretBuffer* Fields::GetSecret(std::string_view key) const noexcept {
  for (const Field& f : fields_)
    if (f.key == key) return f.is_secret ? &f.secret : nullptr;
  return nullptr;
}

bool Fields::Has(std::string_view key) const noexcept {
  return std::any_of(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
}

LineReader::LineReader(std::size_t max_length) noexcept
    : max_length_(max_length), buffer_(std::max<std::size_t>(max_length, 1)) {}

LineReader::State LineReader::Feed(std::string_view chunk, std::size_t* consumed) noexcept {
  *consumed = 0;
  if (!buffer_.valid()) return State::kNoMemory;
  if (too_long_) {
    *consumed = chunk.size();
    return State::kTooLong;
  }
  if (line_ready_) Clear();
  const std::size_t nl = chunk.find('\n');
  const std::size_t take = nl == std::string_view::npos ? chunk.size() : nl;
  if (take > max_length_ - used_) {
    Clear();
    too_long_ = true;
    *consumed = chunk.size();
    return State::kTooLong;
  }
  if (take > 0) std::memcpy(buffer_.data() + used_, chunk.data(), take);
  used_ += take;
  if (nl == std::string_view::npos) {
    *consumed = chunk.size();
    return State::kNeedMore;
  }
  *consumed = nl + 1;
  line_ready_ = true;
  return State::kLine;
}

std::string_view LineReader::line() const noexcept {
  return {reinterpret_cast<const char*>(buffer_.data()), line_ready_ ? used_ : 0};
}

void LineReader::Clear() noexcept {
  if (buffer_.valid() && used_ > 0) sodium_memzero(buffer_.data(), used_);
  used_ = 0;
  line_ready_ = false;
}

}  // namespace apppass::broker
