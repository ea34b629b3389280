// IP text to wire bytes (4 or 16, network order), and CIDR parsing, for the xDS resources.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace warren::agent {

Result<std::string> ipToBytes(const std::string& ip);

struct Cidr {
  std::string address;  // 4 or 16 bytes
  uint32_t length = 0;
};

// "10.0.0.0/8", "fd00::/64", or a bare address (full length).
Result<Cidr> parseCidr(const std::string& text);

}  // namespace warren::agent
