#include "common/net/ip_address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace warren::net {

namespace {
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

IpAddress IpAddress::v4(std::array<uint8_t, 4> bytes) {
  IpAddress ip;
  std::memcpy(ip.bytes_.data(), bytes.data(), 4);
  return ip;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  if (std::memcmp(bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  IpAddress ip;
  ip.v6_ = true;
  ip.bytes_ = bytes;
  return ip;
}

IpAddress IpAddress::loopbackV6() {
  std::array<uint8_t, 16> b{};
  b[15] = 1;
  return v6(b);
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short, so a stack copy suffices.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return fail(Error::invalid(fmt::format("'{}' is not an IP address", text)));
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<uint8_t, 16> b{};
  if (inet_pton(AF_INET, buf, b.data()) == 1) return v4({b[0], b[1], b[2], b[3]});
  if (inet_pton(AF_INET6, buf, b.data()) == 1) return v6(b);
  return fail(Error::invalid(fmt::format("'{}' is not an IP address", text)));
}

Result<IpAddress> IpAddress::fromBytes(std::span<const uint8_t> bytes) {
  if (bytes.size() == 4) return v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  if (bytes.size() == 16) {
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), bytes.data(), 16);
    return v6(b);
  }
  return fail(
      Error::invalid(fmt::format("IP address must be 4 or 16 bytes, got {}", bytes.size())));
}

Result<IpAddress> IpAddress::fromBytes(std::string_view bytes) {
  return fromBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string IpAddress::wireBytes() const {
  auto b = bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool IpAddress::isLoopback() const {
  if (isV4()) return bytes_[0] == 127;
  return *this == loopbackV6();
}

bool IpAddress::isUnspecified() const {
  for (uint8_t b : bytes()) {
    if (b != 0) return false;
  }
  return true;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (!v6_) {
    // Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and the waypoint prints
    // addresses on every request (x-forwarded-for, the access log, its pools' keys).
    char* p = buf;
    for (size_t i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      p = std::to_chars(p, buf + sizeof buf, bytes_[i]).ptr;
    }
    return std::string(buf, p);
  }
  inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

size_t IpAddressHash::operator()(const IpAddress& ip) const noexcept {
  // FNV-1a over the significant bytes: cheap, and good enough for map keys.
  uint64_t h = ip.isV6() ? 0xcbf29ce484222325ULL : 0x84222325cbf29ce4ULL;
  for (uint8_t b : ip.bytes()) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return static_cast<size_t>(h);
}

}  // namespace warren::net
