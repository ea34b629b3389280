// The outbound decision (ztunnel's `build_request`, INTEROP §6) as a pure function.
//
// 1. Destination IP is a Service VIP on the source's network:
//    a. the service has a waypoint and the source is not an instance of it
//       -> HBONE to a waypoint instance at IP:15008, `:authority` = original VIP:port,
//          expected identities = the waypoint's;
//    b. load balancing mode PASSTHROUGH -> plain TCP to the original destination;
//    c. the port is not one of the service's ports -> error kUnknownServicePort. Istio's
//       ztunnel finds no upstream for such a port and then fails the connection for a known
//       service rather than passing it through; since a VIP only exists inside the cluster,
//       failing closed is also the only answer that never sends mesh traffic in plaintext;
//    d. pick an endpoint (endpoint_selector.h); none -> error kNoHealthyUpstream;
//    e. endpoint enrolled (HBONE) -> HBONE to endpointIP:15008, `:authority` =
//       endpointIP:targetPort, expected = endpoint identity + service subject_alt_names;
//       not enrolled -> plain TCP to endpointIP:targetPort.
// 2. Destination IP is a known workload:
//    a. it has a workload waypoint and the source is not an instance of it -> HBONE to the
//       waypoint, `:authority` = original IP:port;
//    b. HBONE -> HBONE to IP:15008, `:authority` = IP:port, expected = its identity;
//    c. otherwise (NONE, or sidecar LEGACY_ISTIO_MTLS which Warren does not originate) ->
//       plain TCP to the original destination.
// 3. Anything else is outside the mesh -> plain TCP to the original destination.
// Same-node destinations get no special case: the destination pod's own 15008 listener
// answers (hairpin works because listeners live in each pod netns).
#pragma once

#include "mesh/routing/random_source.h"
#include "mesh/routing/route_decision.h"
#include "mesh/state/state_snapshot.h"

namespace warren::ztunnel {

mesh::RouteDecision buildRequest(const mesh::StateSnapshot& snapshot, const mesh::Workload& source,
                                 const net::SocketAddress& original_destination,
                                 mesh::RandomSource& random);

}  // namespace warren::ztunnel
