#include "waypoint/request/ip_block.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace warren::waypoint {

Result<IpBlock> IpBlock::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return fail(Error::invalid(fmt::format("bad IP block '{}': not an address", text)));
  uint32_t max = address->isV4() ? 32 : 128;
  IpBlock block;
  block.address_ = *address;
  block.prefix_length_ = max;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || value > max) {
      return fail(
          Error::invalid(fmt::format("bad IP block '{}': prefix length must be 0..{}", text, max)));
    }
    block.prefix_length_ = value;
  }
  return block;
}

bool IpBlock::contains(const IpAddress& ip) const {
  if (ip.isV4() != address_.isV4()) return false;
  const auto& a = address_.bytes();
  const auto& b = ip.bytes();
  uint32_t full = prefix_length_ / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  uint32_t rest = prefix_length_ % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::string IpBlock::toString() const {
  return fmt::format("{}/{}", address_.toString(), prefix_length_);
}

}  // namespace warren::waypoint
