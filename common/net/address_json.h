// JSON forms of the address vocabulary (nlohmann's ADL hook): each is its canonical text, as
// /config_dump and the admin documents show it.
#pragma once

#include <nlohmann/json.hpp>

#include "common/net/ip_address.h"
#include "common/net/ip_cidr.h"
#include "common/net/socket_address.h"

namespace warren::net {

inline void to_json(nlohmann::json& j, const IpAddress& ip) { j = ip.toString(); }
inline void to_json(nlohmann::json& j, const SocketAddress& a) { j = a.toString(); }
inline void to_json(nlohmann::json& j, const IpCidr& c) { j = c.toString(); }

}  // namespace warren::net
