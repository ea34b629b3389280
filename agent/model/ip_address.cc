#include "agent/model/ip_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace warren::agent {

Result<std::string> ipToBytes(const std::string& ip) {
  unsigned char buf[16];
  if (::inet_pton(AF_INET, ip.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (::inet_pton(AF_INET6, ip.c_str(), buf) == 1)
    return std::string(reinterpret_cast<char*>(buf), 16);
  return fail(Error::invalid("'" + ip + "' is not an IP address"));
}

Result<Cidr> parseCidr(const std::string& text) {
  auto slash = text.find('/');
  auto addr = ipToBytes(text.substr(0, slash));
  if (!addr) return fail(Error::invalid("'" + text + "' is not an IP address or CIDR"));
  Cidr c{*addr, static_cast<uint32_t>(addr->size() * 8)};
  if (slash == std::string::npos) return c;
  std::string len = text.substr(slash + 1);
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (len.empty() || ec != std::errc() || p != len.data() + len.size() || n > c.length)
    return fail(Error::invalid("'" + text + "' has a bad prefix length"));
  c.length = n;
  return c;
}

}  // namespace warren::agent
