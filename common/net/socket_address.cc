#include "common/net/socket_address.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace warren::net {

Result<uint16_t> parsePort(std::string_view digits, std::string_view whole) {
  if (digits.empty()) {
    return fail(Error::invalid(fmt::format("address '{}': missing port", whole)));
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.size() > 5 || ec != std::errc() || end != digits.data() + digits.size() ||
      value > 65535) {
    return fail(
        Error::invalid(fmt::format("address '{}': bad port '{}' (want 0..65535)", whole, digits)));
  }
  return static_cast<uint16_t>(value);
}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(Error::invalid(fmt::format("address '{}': unclosed '['", text)));
    }
    if (close + 1 == text.size()) {
      return fail(Error::invalid(fmt::format("address '{}': missing port", text)));
    }
    if (text[close + 1] != ':') {
      return fail(Error::invalid(fmt::format("address '{}': expected ':' after ']'", text)));
    }
    std::string_view host = text.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos) {
      return fail(Error::invalid(
          fmt::format("address '{}': bad IPv6 address (brackets around IPv4)", text)));
    }
    auto port = parsePort(text.substr(close + 2), text);
    if (!port) return fail(port.error());
    auto ip = IpAddress::parse(host);
    if (!ip) return fail(Error::invalid(fmt::format("address '{}': bad IPv6 address", text)));
    return SocketAddress{*ip, *port};
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(Error::invalid(fmt::format("address '{}': missing port", text)));
  }
  if (text.find(':') != colon) {
    return fail(
        Error::invalid(fmt::format("address '{}': IPv6 needs brackets, [addr]:port", text)));
  }
  auto port = parsePort(text.substr(colon + 1), text);
  if (!port) return fail(port.error());
  std::string_view host = text.substr(0, colon);
  auto ip = IpAddress::parse(host);
  if (!ip || !ip->isV4()) {
    return fail(Error::invalid(fmt::format("address '{}': bad IPv4 address", text)));
  }
  return SocketAddress{*ip, *port};
}

Result<SocketAddress> SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    std::array<uint8_t, 4> b;
    std::memcpy(b.data(), &in.sin_addr, 4);
    return SocketAddress{IpAddress::v4(b), ntohs(in.sin_port)};
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    return SocketAddress{IpAddress::v6(b), ntohs(in6.sin6_port)};
  }
  return fail(Error::invalid(
      fmt::format("socket address family {} is not IPv4 or IPv6", int(sa->sa_family))));
}

Sockaddr SocketAddress::toSockaddr() const {
  Sockaddr out;
  if (ip.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, ip.bytes().data(), 4);
    out.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, ip.bytes().data(), 16);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

std::string SocketAddress::toString() const {
  std::string out = ip.isV6() ? "[" + ip.toString() + "]:" : ip.toString() + ":";
  char digits[8];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, port).ptr);
  return out;
}

}  // namespace warren::net
