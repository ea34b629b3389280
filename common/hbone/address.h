// The ":authority" of an HBONE CONNECT: a socket address ("ip:port", IPv6 bracketed; the one
// net::SocketAddress) or "hostname:port" (double HBONE through an east-west gateway, a
// waypoint addressed by service hostname; INTEROP §4).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.h"
#include "common/net/socket_address.h"

namespace warren::hbone {

// "name.ns.svc.cluster.local:80": a service addressed by hostname.
struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string toString() const;
  auto operator<=>(const HostPort&) const = default;
};

using Authority = std::variant<net::SocketAddress, HostPort>;

// Parses a CONNECT :authority. Errors name what was wrong ("missing port", "bad port '99999'",
// "bad host name").
Result<Authority> parseAuthority(std::string_view text);
std::string authorityToString(const Authority& a);
uint16_t authorityPort(const Authority& a);

}  // namespace warren::hbone
