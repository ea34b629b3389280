// Where an HTTP endpoint lives: a unix socket path (the agent's admin.sock) or an IPv4/IPv6
// address and port (ztunnel's 127.0.0.1:15000/15020/15021).
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/net/socket_address.h"

namespace warren::http {

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kTcp;
  std::string path;                   // kUnix
  net::SocketAddress socket_address;  // kTcp: port 0 picks a free port (tests)

  static ListenAddress unixSocket(std::string path) {
    return ListenAddress{Kind::kUnix, std::move(path), {}};
  }
  static ListenAddress tcp(net::SocketAddress address) {
    return ListenAddress{Kind::kTcp, "", address};
  }

  // "unix:/run/x.sock" or "/run/x.sock" -> unix; "127.0.0.1:15000", "[::1]:15000" -> tcp.
  static Result<ListenAddress> parse(const std::string& text);

  // "unix:/run/x.sock" or "127.0.0.1:15000" / "[::1]:15000".
  std::string toString() const;
};

}  // namespace warren::http
