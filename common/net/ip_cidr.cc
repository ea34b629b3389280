#include "common/net/ip_cidr.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace warren::net {

Result<IpCidr> IpCidr::make(const IpAddress& address, uint32_t prefix_length) {
  uint32_t max = address.isV6() ? 128 : 32;
  if (prefix_length > max) {
    return fail(Error::invalid(fmt::format("prefix length {} too long for {} (at most {})",
                                           prefix_length, address.toString(), max)));
  }
  IpCidr c;
  c.address_ = address;
  c.prefix_length_ = prefix_length;
  return c;
}

Result<IpCidr> IpCidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail(ip.error().wrap(fmt::format("CIDR '{}'", text)));
  if (slash == std::string_view::npos) return make(*ip, ip->isV6() ? 128 : 32);
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size()) {
    return fail(Error::invalid(fmt::format("CIDR '{}': bad prefix length", text)));
  }
  auto c = make(*ip, len);
  if (!c) return fail(c.error().wrap(fmt::format("CIDR '{}'", text)));
  return c;
}

bool IpCidr::contains(const IpAddress& ip) const {
  if (ip.isV6() != address_.isV6()) return false;
  uint32_t full = prefix_length_ / 8;
  auto a = address_.bytes();
  auto b = ip.bytes();
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  uint32_t rest = prefix_length_ % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::string IpCidr::toString() const {
  return fmt::format("{}/{}", address_.toString(), prefix_length_);
}

}  // namespace warren::net
