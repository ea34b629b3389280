// IpCidr: an address prefix, "10.0.0.0/8" or "fd00::/64", as a value. Host bits need not be
// zero (xDS sends e.g. 10.0.0.7/24 verbatim, and the agent passes manifests' CIDRs on as
// written); containment only looks at the prefix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/net/ip_address.h"

namespace warren::net {

class IpCidr {
 public:
  IpCidr() = default;  // 0.0.0.0/0
  // Errors when the prefix is longer than the family allows (32 / 128).
  static Result<IpCidr> make(const IpAddress& address, uint32_t prefix_length);
  // "10.0.0.0/8", "fd00::/64", or a bare address (a host prefix: /32 or /128).
  static Result<IpCidr> parse(std::string_view text);

  // Families never match across (an IPv4 prefix does not contain an IPv6 address).
  bool contains(const IpAddress& ip) const;
  const IpAddress& address() const { return address_; }
  uint32_t prefixLength() const { return prefix_length_; }
  std::string toString() const;
  friend bool operator==(const IpCidr&, const IpCidr&) = default;

 private:
  IpAddress address_;
  uint32_t prefix_length_ = 0;
};

}  // namespace warren::net
