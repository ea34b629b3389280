#include "common/net/socket_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace warren::net {

namespace {

Result<uint16_t> parsePort(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535)
    return fail(Error::invalid("address '" + std::string(whole) + "': bad port '" +
                               std::string(text) + "' (want 0..65535)"));
  return static_cast<uint16_t>(value);
}

}  // namespace

Result<SocketAddress> SocketAddress::fromIp(std::string_view ip, uint16_t port) {
  std::string text(ip);
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  a.storage_ = {};
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return fail(Error::invalid("'" + text + "' is not an IPv4 or IPv6 address"));
}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string whole(text);
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(Error::invalid("address '" + whole + "': want [IPv6]:port"));
    auto port = parsePort(text.substr(close + 2), text);
    if (!port) return fail(port.error());
    auto ip = text.substr(1, close - 1);
    auto a = fromIp(ip, *port);
    if (!a || !a->isV6()) return fail(Error::invalid("address '" + whole + "': bad IPv6 address"));
    return a;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail(Error::invalid("address '" + whole + "': missing ':port'"));
  if (text.find(':') != colon)
    return fail(Error::invalid("address '" + whole + "': IPv6 needs brackets, [addr]:port"));
  auto port = parsePort(text.substr(colon + 1), text);
  if (!port) return fail(port.error());
  auto a = fromIp(text.substr(0, colon), *port);
  if (!a || !a->isV4()) return fail(Error::invalid("address '" + whole + "': bad IPv4 address"));
  return a;
}

Result<SocketAddress> SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return fail(Error::invalid("socket address family " + std::to_string(sa->sa_family) +
                             " is not IPv4 or IPv6"));
}

SocketAddress SocketAddress::loopbackV4(uint16_t port) { return *fromIp("127.0.0.1", port); }
SocketAddress SocketAddress::loopbackV6(uint16_t port) { return *fromIp("::1", port); }

uint16_t SocketAddress::port() const {
  if (isV4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (isV6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

SocketAddress SocketAddress::withPort(uint16_t port) const {
  SocketAddress a = *this;
  if (isV4()) reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  if (isV6()) reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  return a;
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (isV4())
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                sizeof(buf));
  else if (isV6())
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                sizeof(buf));
  return buf;
}

std::string SocketAddress::toString() const {
  if (isV4()) return ip() + ":" + std::to_string(port());
  if (isV6()) return "[" + ip() + "]:" + std::to_string(port());
  return "unspec";
}

}  // namespace warren::net
