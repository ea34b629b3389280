// SocketAddress: an IPv4 or IPv6 address with a port, as a value. Text form is "1.2.3.4:80" or
// "[::1]:80" (the bracket form is mandatory for IPv6 so the port is unambiguous).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::net {

class SocketAddress {
 public:
  SocketAddress() = default;  // AF_UNSPEC, only useful as a placeholder

  // "IPv4:port" or "[IPv6]:port"; port 0..65535.
  static Result<SocketAddress> parse(std::string_view text);
  // A bare IP literal ("10.0.0.1", "::1", no brackets) with a separate port.
  static Result<SocketAddress> fromIp(std::string_view ip, uint16_t port);
  static Result<SocketAddress> fromSockaddr(const sockaddr* sa, socklen_t len);
  static SocketAddress loopbackV4(uint16_t port = 0);
  static SocketAddress loopbackV6(uint16_t port = 0);

  int family() const { return storage_.ss_family; }
  bool isV4() const { return family() == AF_INET; }
  bool isV6() const { return family() == AF_INET6; }
  uint16_t port() const;
  SocketAddress withPort(uint16_t port) const;
  std::string ip() const;        // "10.0.0.1", "::1"
  std::string toString() const;  // "10.0.0.1:80", "[::1]:80", "unspec"

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return len_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) {
    return a.toString() == b.toString();
  }

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace warren::net
