// Where an HTTP endpoint lives: a unix socket path (the agent's admin.sock) or an IPv4/IPv6
// address and port (ztunnel's 127.0.0.1:15000/15020/15021).
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace warren::http {

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kTcp;
  std::string path;   // kUnix
  std::string host;   // kTcp: numeric IPv4 or IPv6 (no brackets)
  uint16_t port = 0;  // kTcp: 0 picks a free port (tests)

  static ListenAddress unixSocket(std::string path) {
    return ListenAddress{Kind::kUnix, std::move(path), "", 0};
  }
  static ListenAddress tcp(std::string host, uint16_t port) {
    return ListenAddress{Kind::kTcp, "", std::move(host), port};
  }

  // "unix:/run/x.sock" or "/run/x.sock" -> unix; "127.0.0.1:15000", "[::1]:15000" -> tcp.
  static Result<ListenAddress> parse(const std::string& text);

  // "unix:/run/x.sock" or "127.0.0.1:15000" / "[::1]:15000".
  std::string toString() const;
};

}  // namespace warren::http
