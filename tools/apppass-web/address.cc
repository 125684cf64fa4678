// IP addresses and ranges (address.h).
#include "address.h"

#include <arpa/inet.h>

#include <cstring>

namespace apppass::web {

namespace {

constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN;  // 46, with the NUL

bool IsMappedV4(const std::array<std::uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  char buf[kMaxAddressText] = {};
  std::memcpy(buf, text.data(), text.size());  // NUL-terminated; a NUL inside fails below
  if (std::strlen(buf) != text.size()) return std::nullopt;
  IpAddress ip;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, ip.bytes.data()) != 1) return std::nullopt;
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1) return std::nullopt;
  if (IsMappedV4(ip.bytes)) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), ip.bytes.data() + 12, 4);
    return v4;
  }
  ip.v6 = true;
  return ip;
}

std::optional<IpRange> ParseRange(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::optional<IpAddress> ip = ParseIp(text.substr(0, slash));
  if (!ip) return std::nullopt;
  const unsigned max = ip->v6 ? 128 : 32;
  IpRange range{*ip, max};
  if (slash == std::string_view::npos) return range;
  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  unsigned prefix = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  }
  // A v4-mapped address with a v6 prefix ("::ffff:10.0.0.0/104") is not accepted: the
  // address became IPv4, so only 0..32 is meaningful. Write "10.0.0.0/8".
  if (prefix > max) return std::nullopt;
  range.prefix = prefix;
  return range;
}

bool InRange(const IpAddress& ip, const IpRange& range) {
  if (ip.v6 != range.base.v6) return false;
  unsigned bits = range.prefix;
  for (std::size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((ip.bytes[i] & mask) != (range.base.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string FormatIp(const IpAddress& ip) {
  char buf[kMaxAddressText] = {};
  if (inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof buf) == nullptr) {
    return {};
  }
  return buf;
}

bool IsLoopback(const IpAddress& ip) {
  if (!ip.v6) return ip.bytes[0] == 127;
  for (int i = 0; i < 15; ++i) {
    if (ip.bytes[i] != 0) return false;
  }
  return ip.bytes[15] == 1;
}

std::optional<Endpoint> ParseEndpoint(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view digits = text.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  const std::optional<IpAddress> ip = ParseIp(host);
  // An IPv6 address needs its brackets ("[::1]:80"), an IPv4 one has none.
  if (!ip || bracketed != (host.find(':') != std::string_view::npos)) return std::nullopt;
  if (digits.empty() || digits.size() > 5 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  return Endpoint{*ip, static_cast<std::uint16_t>(port)};
}

}  // namespace apppass::web
