// IP addresses and CIDR ranges as apppass-web reads them: the client address behind a
// trusted proxy (http.h ClientAddress), the `trusted_proxies` setting (config.h) and the
// listen address (server.h). Numeric addresses only (inet_pton): a host name is never
// resolved. An IPv4-mapped IPv6 address (::ffff:192.0.2.7) is the IPv4 address.
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace apppass::web {

// One address: 4 bytes (IPv4) or 16 (IPv6), network order.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const IpAddress&) const = default;
};

// A range: the address and the prefix length (0..32 or 0..128).
struct IpRange {
  IpAddress base;
  unsigned prefix = 0;
};

// "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7" (-> IPv4). No brackets, no port, no
// zone ("%eth0"), no surrounding spaces. nullopt for anything else.
std::optional<IpAddress> ParseIp(std::string_view text);
// "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). The prefix is
// 0..32 (IPv4) or 0..128 (IPv6) in decimal without leading zeros; bits set beyond the
// prefix are allowed (ignored). nullopt for anything else.
std::optional<IpRange> ParseRange(std::string_view text);
// True when `ip` is inside `range` (never across families).
bool InRange(const IpAddress& ip, const IpRange& range);
// The canonical text (inet_ntop): "192.0.2.7", "2001:db8::1".
std::string FormatIp(const IpAddress& ip);
// 127.0.0.0/8 or ::1.
bool IsLoopback(const IpAddress& ip);

// Where to listen: an address and a port.
struct Endpoint {
  IpAddress ip;
  std::uint16_t port = 0;
};
// "127.0.0.1:8080" or "[::1]:8080"; the port 0..65535 in decimal (0: the system picks a
// free one). nullopt for anything else (host names included).
std::optional<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace apppass::web
