#include "common/hbone/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace warren::hbone {
namespace {

Result<uint16_t> parsePort(std::string_view text, std::string_view whole) {
  if (text.empty()) return fail(Error::invalid(fmt::format("'{}': missing port", whole)));
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535 || text.size() > 5) {
    return fail(Error::invalid(fmt::format("'{}': bad port '{}'", whole, text)));
  }
  return static_cast<uint16_t>(value);
}

// RFC 1123 host name: labels of letters, digits and '-', not starting or ending with '-'.
bool validHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}

}  // namespace

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) {
    return fail(Error::invalid(fmt::format("'{}': not an IP address", text)));
  }
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<uint8_t, 4> v4bytes;
  if (inet_pton(AF_INET, buf, v4bytes.data()) == 1) return v4(v4bytes);
  std::array<uint8_t, 16> v6bytes;
  if (inet_pton(AF_INET6, buf, v6bytes.data()) == 1) return v6(v6bytes);
  return fail(Error::invalid(fmt::format("'{}': not an IP address", text)));
}

IpAddress IpAddress::v4(std::array<uint8_t, 4> bytes) {
  IpAddress a;
  a.v4_ = true;
  std::memcpy(a.bytes_.data(), bytes.data(), 4);
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMappedPrefix, 12) == 0) {
    return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  IpAddress a;
  a.v4_ = false;
  a.bytes_ = bytes;
  return a;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(Error::invalid(fmt::format("'{}': unclosed '['", text)));
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return fail(Error::invalid(fmt::format("'{}': missing port", text)));
    if (rest.front() != ':') {
      return fail(Error::invalid(fmt::format("'{}': expected ':' after ']'", text)));
    }
    port = rest.substr(1);
    if (host.find(':') == std::string_view::npos) {
      return fail(Error::invalid(fmt::format("'{}': brackets around an IPv4 address", text)));
    }
    auto ip = IpAddress::parse(host);
    if (!ip) return fail(ip.error());
    auto p = parsePort(port, text);
    if (!p) return fail(p.error());
    return SocketAddress{*ip, *p};
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(Error::invalid(fmt::format("'{}': missing port", text)));
  }
  if (text.find(':') != colon) {
    return fail(Error::invalid(fmt::format("'{}': IPv6 address must be in brackets", text)));
  }
  auto ip = IpAddress::parse(text.substr(0, colon));
  if (!ip) return fail(ip.error());
  auto p = parsePort(text.substr(colon + 1), text);
  if (!p) return fail(p.error());
  return SocketAddress{*ip, *p};
}

std::string SocketAddress::toString() const {
  return ip.isV4() ? fmt::format("{}:{}", ip.toString(), port)
                   : fmt::format("[{}]:{}", ip.toString(), port);
}

std::string HostPort::toString() const { return fmt::format("{}:{}", host, port); }

Result<Authority> parseAuthority(std::string_view text) {
  if (text.empty()) return fail(Error::invalid("empty :authority"));
  if (text.front() == '[') {
    auto sa = SocketAddress::parse(text);
    if (!sa) return fail(sa.error());
    return Authority{*sa};
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(Error::invalid(fmt::format("'{}': missing port", text)));
  }
  if (text.find(':') != colon) {
    return fail(Error::invalid(fmt::format("'{}': IPv6 address must be in brackets", text)));
  }
  std::string_view host = text.substr(0, colon);
  auto port = parsePort(text.substr(colon + 1), text);
  if (!port) return fail(port.error());
  if (auto ip = IpAddress::parse(host)) return Authority{SocketAddress{*ip, *port}};
  // A dotted-decimal lookalike that inet_pton refused ("10.0.0.300") is a bad IP, not a host.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    return fail(Error::invalid(fmt::format("'{}': bad IPv4 address", text)));
  }
  if (!validHostName(host)) {
    return fail(Error::invalid(fmt::format("'{}': bad host name", text)));
  }
  return Authority{HostPort{std::string(host), *port}};
}

std::string authorityToString(const Authority& a) {
  return std::visit([](const auto& v) { return v.toString(); }, a);
}

uint16_t authorityPort(const Authority& a) {
  return std::visit([](const auto& v) { return v.port; }, a);
}

}  // namespace warren::hbone
