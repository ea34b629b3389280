// Addresses as HBONE writes them: IP literals, "ip:port" with IPv6 bracketed, and the
// ":authority" of a CONNECT, which is either such a socket address or "hostname:port"
// (double HBONE through an east-west gateway, INTEROP §4).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.h"

namespace warren::hbone {

class IpAddress {
 public:
  // "10.0.0.1" or "fd00::1" (no brackets, no zone). An IPv4-mapped IPv6 address
  // ("::ffff:10.0.0.1") becomes the IPv4 address, so both spellings compare equal (ztunnel
  // canonicalises the same way before its :authority check).
  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(std::array<uint8_t, 4> bytes);
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);

  bool isV4() const { return v4_; }
  // Network-order bytes; IPv4 uses the first 4 (prefix matching needs them).
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Canonical text (inet_ntop): "10.0.0.1", "fd00::1".
  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  bool v4_ = true;
  std::array<uint8_t, 16> bytes_{};  // IPv4 in the first 4 bytes
};

struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  // "10.0.0.1:8080" or "[fd00::1]:8080". The port is required, 0..65535, digits only.
  static Result<SocketAddress> parse(std::string_view text);
  // IPv6 bracketed.
  std::string toString() const;

  auto operator<=>(const SocketAddress&) const = default;
};

// "name.ns.svc.cluster.local:80": a service addressed by hostname.
struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string toString() const;
  auto operator<=>(const HostPort&) const = default;
};

using Authority = std::variant<SocketAddress, HostPort>;

// Parses a CONNECT :authority. Errors name what was wrong ("missing port", "bad port '99999'",
// "bad host name").
Result<Authority> parseAuthority(std::string_view text);
std::string authorityToString(const Authority& a);
uint16_t authorityPort(const Authority& a);

}  // namespace warren::hbone
