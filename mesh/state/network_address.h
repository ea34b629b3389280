// The key of every IP lookup in the mesh state: addresses are scoped by network ("" = the
// default network), as the workload xDS NetworkAddress does.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/net/address_json.h"
#include "common/net/ip_address.h"
#include "common/net/ip_cidr.h"
#include "common/net/socket_address.h"

namespace warren::mesh {

struct NetworkAddress {
  std::string network;
  net::IpAddress address;
  std::string toString() const { return network + "/" + address.toString(); }
  friend bool operator==(const NetworkAddress&, const NetworkAddress&) = default;
};

struct NetworkAddressHash {
  size_t operator()(const NetworkAddress& a) const noexcept {
    return std::hash<std::string>{}(a.network) * 31 + net::IpAddressHash{}(a.address);
  }
};

inline void to_json(nlohmann::json& j, const NetworkAddress& a) { j = a.toString(); }

}  // namespace warren::mesh
