// The one conversion between Warren's address vocabulary (common/net) and the ABI's
// struct warren_addr (bpf/include/warren_abi.h: address in network byte order, port in host
// byte order, WARREN_AF_* family) that the maps are keyed by.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/net/ip_address.h"
#include "common/net/socket_address.h"
#include "warren_abi.h"

namespace warren::redirect {

inline warren_addr toBpfAddress(const net::IpAddress& ip, uint16_t port = 0) {
  warren_addr a{};
  a.family = ip.isV6() ? WARREN_AF_INET6 : WARREN_AF_INET;
  a.port = port;
  std::memcpy(a.addr, ip.bytes().data(), ip.bytes().size());
  return a;
}

inline warren_addr toBpfAddress(const net::SocketAddress& sa) {
  return toBpfAddress(sa.ip, sa.port);
}

inline net::SocketAddress fromBpfAddress(const warren_addr& a) {
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), a.addr, sizeof(a.addr));
  if (a.family == WARREN_AF_INET6) return {net::IpAddress::v6(b), a.port};
  return {net::IpAddress::v4({b[0], b[1], b[2], b[3]}), a.port};
}

}  // namespace warren::redirect
