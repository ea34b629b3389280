// Waypoints: resolving a GatewayAddress to the waypoint instance to dial, and asking whether a
// workload is an instance of a given waypoint (used to avoid loops on the outbound side and
// for the "I am the waypoint of the target" exception of the inbound `:authority` check).
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "mesh/routing/random_source.h"
#include "mesh/routing/route_decision.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

struct WaypointTarget {
  const Workload* workload = nullptr;  // the waypoint instance chosen
  net::SocketAddress connect_to;       // instance IP : hbone_mtls_port
  std::vector<identity::SpiffeId> expected_identities;
};

// A hostname names the waypoint's Service (load balanced over its endpoints); an address is a
// waypoint workload IP or the waypoint Service's VIP.
std::expected<WaypointTarget, RouteError> resolveWaypoint(const StateSnapshot& snapshot,
                                                          const GatewayAddress& waypoint,
                                                          const Workload& source,
                                                          bool prefer_v6, RandomSource& random);

bool isWaypointInstance(const StateSnapshot& snapshot, const GatewayAddress& waypoint,
                        const Workload& workload);

}  // namespace warren::mesh
