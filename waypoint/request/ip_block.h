// The one place the waypoint names an IP address type. Today that is common/hbone's
// `IpAddress` (the project's common address type); the mesh layer is unifying the address
// vocabulary (DESIGN.md "Layers": `IpAddress`, `IpCidr` in common/), and when it lands this
// alias and IpBlock below are the only lines to change.
//
// IpBlock is an AuthorizationPolicy `ipBlocks` / `remoteIpBlocks` / `source.ip` value: a
// single address ("10.0.0.1", a /32 or /128) or a CIDR ("10.0.0.0/8"); host bits need not be
// zero (Istio accepts "10.0.0.7/24" and matches on the prefix). An IPv4 block never contains
// an IPv6 address and the reverse (an IPv4-mapped IPv6 address is already IPv4 after parsing).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/hbone/address.h"

namespace warren::waypoint {

using IpAddress = hbone::IpAddress;

class IpBlock {
 public:
  static Result<IpBlock> parse(std::string_view text);

  bool contains(const IpAddress& ip) const;
  std::string toString() const;

 private:
  IpAddress address_;
  uint32_t prefix_length_ = 0;
};

}  // namespace warren::waypoint
