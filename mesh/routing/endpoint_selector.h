// Load balancing over a service's endpoints (INTEROP §6 step 2): which workload, and which
// target port on it. Pure: the snapshot and an injected RandomSource decide everything.
//
// Rules, after ztunnel's `load_balance`:
// - health: only HEALTHY endpoints, unless the service's health policy is ALLOW_ALL;
// - target port: the endpoint's own mapping for the service port (named target ports are
//   resolved per endpoint by the control plane), else the Service's numeric target port; an
//   endpoint with neither is skipped;
// - only endpoints with an address on the source's network (cross-network HBONE through an
//   east-west gateway is not implemented);
// - routing preference: STRICT keeps endpoints matching every listed scope; FAILOVER (and an
//   unspecified mode with preferences) keeps those matching the longest prefix of the list;
// - weighted random by Workload.capacity (0 weights everywhere: uniform).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "mesh/routing/random_source.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

struct SelectedEndpoint {
  const Workload* workload = nullptr;
  uint16_t target_port = 0;  // 0 when selecting without a service port (waypoints)
};

// `service_port` empty: any endpoint will do, no port mapping (used for waypoint services).
std::optional<SelectedEndpoint> selectEndpoint(const StateSnapshot& snapshot,
                                               const Service& service,
                                               std::optional<uint16_t> service_port,
                                               const Workload& source, RandomSource& random);

// Requests in flight to a workload, as the caller counts them (the waypoint, per worker).
using ActiveRequests = std::function<uint32_t(const Workload&)>;
// Endpoints the caller takes out of the choice (the waypoint's outlier detection); empty: none.
using SkipEndpoint = std::function<bool(const Workload&)>;

// Least request over the same candidates (Envoy's LEAST_REQUEST with its default
// choice_count 2, "power of two choices"): two distinct endpoints are drawn as selectEndpoint
// draws one, and the one with fewer active requests wins (the first drawn on a tie). Cheap
// (two lookups), and it avoids the herd a global minimum causes when several workers choose
// at once.
std::optional<SelectedEndpoint> selectEndpointLeastRequest(
    const StateSnapshot& snapshot, const Service& service, std::optional<uint16_t> service_port,
    const Workload& source, RandomSource& random, const ActiveRequests& active,
    const SkipEndpoint& skip = {});

// The workload address to dial: the first one of the preferred family, else the first.
std::optional<net::IpAddress> pickAddress(const Workload& workload, bool prefer_v6);

}  // namespace warren::mesh
