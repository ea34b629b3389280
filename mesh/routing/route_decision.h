// What the outbound router decides for one intercepted connection (INTEROP §6). The doing
// half (pool, TLS, HTTP/2) acts on it; nothing here performs I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "common/hbone/address.h"
#include "common/identity/spiffe_id.h"
#include "mesh/state/network_address.h"

namespace warren::mesh {

// HBONE: mTLS to `connect_to` (always port 15008 or the gateway's hbone_mtls_port), then
// HTTP/2 CONNECT with `authority`. The peer certificate must carry one of
// `expected_identities` in its URI SAN.
struct HboneRoute {
  net::SocketAddress connect_to;
  hbone::Authority authority;
  std::vector<identity::SpiffeId> expected_identities;
  bool to_waypoint = false;
  std::string destination_workload_uid;  // the workload actually connected to
  std::string destination_service;       // "ns/hostname" when service-addressed
  std::string service_hostname;          // for `forwarded: ...;host=` (INTEROP §4)
};

// Plain TCP to `connect_to`, no tunnel: the destination is outside the mesh.
struct PassthroughRoute {
  enum class Reason {
    kUnknownDestination,  // neither a service VIP nor a known workload
    kNotEnrolled,         // a known workload with tunnel protocol NONE
    kPassthroughService,  // a Service with load balancing mode PASSTHROUGH
  };
  net::SocketAddress connect_to;
  Reason reason = Reason::kUnknownDestination;
  std::string destination_workload_uid;
  std::string destination_service;
};

struct RouteError {
  enum class Kind {
    kNoHealthyUpstream,   // a mesh service with no usable endpoint
    kUnknownServicePort,  // the VIP is a service, but not on this port
    kUnknownWaypoint,     // the waypoint named by the service/workload is not in the state
    kNoRoutableAddress,   // the chosen workload has no IP usable from the source network
    kNoIdentity,          // the chosen workload's identity is not a valid SPIFFE ID
  };
  Kind kind;
  std::string detail;
};

using RouteDecision = std::variant<HboneRoute, PassthroughRoute, RouteError>;

const char* toString(PassthroughRoute::Reason r);
const char* toString(RouteError::Kind k);
nlohmann::json toJson(const RouteDecision& decision);

}  // namespace warren::mesh
