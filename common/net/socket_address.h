// SocketAddress: an IP address and a port, as a value. Text form "10.0.0.1:80" or
// "[fd00::1]:80": brackets are mandatory for IPv6 so the port is unambiguous, and this is also
// the form of an HBONE `:authority` naming an address (INTEROP §4). Converts to and from a
// sockaddr only at the syscall boundary (toSockaddr / fromSockaddr).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/net/ip_address.h"

namespace warren::net {

// A sockaddr for one syscall (bind, connect, an io_uring connect that keeps its own copy).
struct Sockaddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  // "IPv4:port" or "[IPv6]:port"; the port is 1 to 5 digits, 0..65535 (0: "any port" to
  // bind; callers for whom 0 is not a destination check it). Errors quote the input and say
  // what was wrong ("missing port", "bad port", "IPv6 needs brackets", "unclosed '['"...).
  static Result<SocketAddress> parse(std::string_view text);
  // AF_INET / AF_INET6 only; an IPv4-mapped IPv6 peer comes back as IPv4.
  static Result<SocketAddress> fromSockaddr(const sockaddr* sa, socklen_t len);
  static SocketAddress loopbackV4(uint16_t port = 0) { return {IpAddress::loopbackV4(), port}; }
  static SocketAddress loopbackV6(uint16_t port = 0) { return {IpAddress::loopbackV6(), port}; }

  bool isV4() const { return ip.isV4(); }
  bool isV6() const { return ip.isV6(); }
  int family() const { return ip.family(); }
  SocketAddress withPort(uint16_t p) const { return {ip, p}; }
  Sockaddr toSockaddr() const;
  // "10.0.0.1:80", "[fd00::1]:80".
  std::string toString() const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
};

// Parses the port of "host:port" texts (1..5 digits, at most 65535); `whole` names the input
// in the error. Shared with the HBONE authority parser (hostname:port).
Result<uint16_t> parsePort(std::string_view digits, std::string_view whole);

struct SocketAddressHash {
  size_t operator()(const SocketAddress& a) const noexcept {
    return IpAddressHash{}(a.ip) * 31 + a.port;
  }
};

}  // namespace warren::net

template <>
struct std::hash<warren::net::SocketAddress> : warren::net::SocketAddressHash {};
