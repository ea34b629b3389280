// IpAddress: an IPv4 or IPv6 address as a plain value, the one address type of every layer
// (HBONE authorities, the mesh state and its indexes, RBAC, the eBPF loader, the agent's
// translation). IPv4 is 4 bytes, exactly as the workload xDS `bytes` fields and the kernel
// carry it; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is canonicalised to IPv4 on every
// way in (parse, fromBytes, v6, from a sockaddr), so both spellings compare, hash and print
// the same (ztunnel's `to_canonical`).
#pragma once

#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::net {

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(std::array<uint8_t, 4> bytes);
  // An IPv4-mapped address becomes the IPv4 address.
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  static IpAddress loopbackV4() { return v4({127, 0, 0, 1}); }
  static IpAddress loopbackV6();

  // "10.0.0.1" or "fd00::1" (no brackets, no zone). Errors quote the input.
  static Result<IpAddress> parse(std::string_view text);
  // Network-order bytes as xDS and the BPF maps carry them: 4 or 16, anything else is an error.
  static Result<IpAddress> fromBytes(std::span<const uint8_t> bytes);
  static Result<IpAddress> fromBytes(std::string_view bytes);

  bool isV4() const { return !v6_; }
  bool isV6() const { return v6_; }
  int family() const { return v6_ ? AF_INET6 : AF_INET; }
  // The significant bytes, network order: 4 for IPv4, 16 for IPv6.
  std::span<const uint8_t> bytes() const { return {bytes_.data(), v6_ ? 16u : 4u}; }
  // The same, as the string a protobuf `bytes` field holds.
  std::string wireBytes() const;
  bool isLoopback() const;
  bool isUnspecified() const;
  // Canonical text (inet_ntop): "10.0.0.1", "fd00::1".
  std::string toString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  bool v6_ = false;                  // compared first: every IPv4 address sorts before IPv6
  std::array<uint8_t, 16> bytes_{};  // IPv4 in the first 4 bytes, the rest zero
};

struct IpAddressHash {
  size_t operator()(const IpAddress& ip) const noexcept;
};

}  // namespace warren::net

template <>
struct std::hash<warren::net::IpAddress> : warren::net::IpAddressHash {};
