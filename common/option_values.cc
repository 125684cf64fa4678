#include "option_values.h"

#include <charconv>

#include "text.h"

namespace apppass {

bool ParseStoreDir(std::string_view value, std::string* out) {
  if (value.empty() || value.front() != '/') return false;
  *out = std::string(value);
  return true;
}

bool ParseSocketPath(std::string_view value, std::string* out) {
  // sizeof(sockaddr_un::sun_path) is 108, one byte of it for the NUL.
  if (value.empty() || value.front() != '/' || value.size() > 107) return false;
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  *out = std::string(value);
  return true;
}

bool ParseScope(std::string_view value, std::string* out) {
  if (!ValidateScope(value).ok()) return false;
  *out = std::string(value);
  return true;
}

bool ParseUsageInterval(std::string_view value, std::int64_t* out) {
  // std::from_chars: no sign, no space, no base prefix ("-0" and leading zeros are numbers).
  std::int64_t n = -1;
  const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || p != value.data() + value.size() || n < 0 ||
      n > kMaxUsageInterval)
    return false;
  *out = n;
  return true;
}

bool ParseYesNo(std::string_view value, bool* out) {
  if (value == "yes" || value == "true" || value == "on" || value == "1") {
    *out = true;
  } else if (value == "no" || value == "false" || value == "off" || value == "0") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace apppass
