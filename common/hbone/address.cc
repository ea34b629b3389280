#include "common/hbone/address.h"

#include <fmt/format.h>

namespace warren::hbone {
namespace {

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

std::string HostPort::toString() const { return fmt::format("{}:{}", host, port); }

Result<Authority> parseAuthority(std::string_view text) {
  if (text.empty()) return fail(Error::invalid("empty :authority"));
  if (text.front() == '[') {
    auto sa = net::SocketAddress::parse(text);
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
  auto port = net::parsePort(text.substr(colon + 1), text);
  if (!port) return fail(port.error());
  if (auto ip = net::IpAddress::parse(host)) return Authority{net::SocketAddress{*ip, *port}};
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
