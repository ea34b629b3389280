#include "ztunnel/state/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace warren::ztunnel {

IpAddress IpAddress::v4(std::array<uint8_t, 4> b) {
  IpAddress ip;
  std::memcpy(ip.bytes_.data(), b.data(), 4);
  return ip;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& b) {
  IpAddress ip;
  ip.v6_ = true;
  ip.bytes_ = b;
  return ip;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short, so a stack copy suffices.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return fail(Error::invalid("invalid IP address '" + std::string(text) + "'"));
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  if (inet_pton(AF_INET, buf, ip.bytes_.data()) == 1) return ip;
  if (inet_pton(AF_INET6, buf, ip.bytes_.data()) == 1) {
    ip.v6_ = true;
    return ip;
  }
  return fail(Error::invalid("invalid IP address '" + std::string(text) + "'"));
}

Result<IpAddress> IpAddress::fromBytes(std::string_view bytes) {
  IpAddress ip;
  if (bytes.size() == 4) {
    std::memcpy(ip.bytes_.data(), bytes.data(), 4);
    return ip;
  }
  if (bytes.size() == 16) {
    ip.v6_ = true;
    std::memcpy(ip.bytes_.data(), bytes.data(), 16);
    return ip;
  }
  return fail(Error::invalid("IP address must be 4 or 16 bytes, got " +
                             std::to_string(bytes.size())));
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), buf, sizeof(buf));
  return buf;
}

size_t IpAddressHash::operator()(const IpAddress& ip) const noexcept {
  // FNV-1a over the significant bytes: cheap, and good enough for map keys.
  uint64_t h = ip.isV6() ? 0xcbf29ce484222325ULL : 0x84222325cbf29ce4ULL;
  for (size_t i = 0; i < ip.byteLength(); ++i) {
    h ^= ip.bytes()[i];
    h *= 0x100000001b3ULL;
  }
  return static_cast<size_t>(h);
}

std::string SocketAddress::toString() const {
  if (ip.isV6()) return "[" + ip.toString() + "]:" + std::to_string(port);
  return ip.toString() + ":" + std::to_string(port);
}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(Error::invalid("invalid socket address '" + std::string(text) +
                                 "': expected [v6]:port"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return fail(Error::invalid("invalid socket address '" + std::string(text) +
                                 "': expected ip:port"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return fail(Error::invalid("invalid port in '" + std::string(text) + "'"));
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return fail(ip.error().wrap("socket address '" + std::string(text) + "'"));
  return SocketAddress{*ip, static_cast<uint16_t>(port)};
}

Result<IpCidr> IpCidr::make(const IpAddress& address, uint32_t prefix_length) {
  uint32_t max = address.isV6() ? 128 : 32;
  if (prefix_length > max) {
    return fail(Error::invalid("prefix length " + std::to_string(prefix_length) +
                               " too long for " + address.toString()));
  }
  IpCidr c;
  c.address_ = address;
  c.prefix_length_ = prefix_length;
  return c;
}

Result<IpCidr> IpCidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail(ip.error().wrap("CIDR '" + std::string(text) + "'"));
  if (slash == std::string_view::npos) return make(*ip, ip->isV6() ? 128 : 32);
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || ptr != len_text.data() + len_text.size()) {
    return fail(Error::invalid("invalid prefix length in CIDR '" + std::string(text) + "'"));
  }
  return make(*ip, len);
}

bool IpCidr::contains(const IpAddress& ip) const {
  if (ip.isV6() != address_.isV6()) return false;
  uint32_t full = prefix_length_ / 8;
  const auto& a = address_.bytes();
  const auto& b = ip.bytes();
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  uint32_t rest = prefix_length_ % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::string IpCidr::toString() const {
  return address_.toString() + "/" + std::to_string(prefix_length_);
}

}  // namespace warren::ztunnel
