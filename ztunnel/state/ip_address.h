// IP addresses, socket addresses and CIDR prefixes as plain values: what routing, RBAC and the
// state indexes compare and hash. IPv4 is kept as 4 bytes (not v4-mapped v6), exactly as the
// workload xDS `bytes` fields carry it (4 or 16 bytes).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::ztunnel {

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(std::array<uint8_t, 4> b);
  static IpAddress v6(const std::array<uint8_t, 16>& b);
  // "10.0.0.1" or "fd00::1" (no brackets, no zone).
  static Result<IpAddress> parse(std::string_view text);
  // Raw bytes as xDS carries them: 4 or 16 bytes, anything else is an error.
  static Result<IpAddress> fromBytes(std::string_view bytes);

  bool isV6() const { return v6_; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }  // v4 uses the first 4
  size_t byteLength() const { return v6_ ? 16 : 4; }
  std::string toString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
};

struct IpAddressHash {
  size_t operator()(const IpAddress& ip) const noexcept;
};

struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  // "ip:port", IPv6 bracketed "[fd00::1]:8080" (the HBONE `:authority` form).
  std::string toString() const;
  // Inverse of toString; a missing or zero port is an error.
  static Result<SocketAddress> parse(std::string_view text);
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

// A CIDR prefix, host bits need not be zero (xDS sends e.g. 10.0.0.7/24 verbatim).
class IpCidr {
 public:
  IpCidr() = default;
  static Result<IpCidr> make(const IpAddress& address, uint32_t prefix_length);
  // "10.0.0.0/8", "fd00::/64", or a bare address (a host prefix).
  static Result<IpCidr> parse(std::string_view text);

  // Families never match across (an IPv4 prefix does not contain a v6 address).
  bool contains(const IpAddress& ip) const;
  const IpAddress& address() const { return address_; }
  uint32_t prefixLength() const { return prefix_length_; }
  std::string toString() const;
  friend bool operator==(const IpCidr&, const IpCidr&) = default;

 private:
  IpAddress address_;
  uint32_t prefix_length_ = 0;
};

// The key of every IP lookup: ztunnel scopes addresses by network ("" = the default network).
struct NetworkAddress {
  std::string network;
  IpAddress address;
  std::string toString() const { return network + "/" + address.toString(); }
  friend bool operator==(const NetworkAddress&, const NetworkAddress&) = default;
};

struct NetworkAddressHash {
  size_t operator()(const NetworkAddress& a) const noexcept {
    return std::hash<std::string>{}(a.network) * 31 + IpAddressHash{}(a.address);
  }
};

inline void to_json(nlohmann::json& j, const IpAddress& ip) { j = ip.toString(); }
inline void to_json(nlohmann::json& j, const IpCidr& c) { j = c.toString(); }
inline void to_json(nlohmann::json& j, const NetworkAddress& a) { j = a.toString(); }

}  // namespace warren::ztunnel
