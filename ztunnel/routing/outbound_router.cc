#include "ztunnel/routing/outbound_router.h"

#include <algorithm>

#include "ztunnel/routing/endpoint_selector.h"
#include "ztunnel/routing/waypoint_resolver.h"

namespace warren::ztunnel {

namespace {

HboneRoute toWaypoint(WaypointTarget&& wp, const net::SocketAddress& original_destination) {
  HboneRoute r;
  r.connect_to = wp.connect_to;
  r.authority = original_destination;
  r.expected_identities = std::move(wp.expected_identities);
  r.to_waypoint = true;
  r.destination_workload_uid = wp.workload->uid;
  return r;
}

RouteDecision serviceRoute(const StateSnapshot& snapshot, const Service& svc,
                           const Workload& source, const net::SocketAddress& dst,
                           RandomSource& random) {
  bool v6 = dst.ip.isV6();
  if (svc.waypoint && !isWaypointInstance(snapshot, *svc.waypoint, source)) {
    auto wp = resolveWaypoint(snapshot, *svc.waypoint, source, v6, random);
    if (!wp) return wp.error();
    HboneRoute r = toWaypoint(std::move(*wp), dst);
    r.destination_service = svc.key();
    r.service_hostname = svc.hostname;
    return r;
  }
  if (svc.load_balancing && svc.load_balancing->mode == LoadBalancingMode::kPassthrough) {
    return PassthroughRoute{dst, PassthroughRoute::Reason::kPassthroughService, {}, svc.key()};
  }
  if (!svc.findPort(dst.port)) {
    return RouteError{RouteError::Kind::kUnknownServicePort,
                      "service " + svc.key() + " has no port " + std::to_string(dst.port)};
  }
  auto ep = selectEndpoint(snapshot, svc, dst.port, source, random);
  if (!ep) {
    return RouteError{RouteError::Kind::kNoHealthyUpstream,
                      "no healthy upstream for " + svc.key() + ":" + std::to_string(dst.port)};
  }
  const Workload& w = *ep->workload;
  // selectEndpoint only returns workloads with an address.
  net::SocketAddress target{*pickAddress(w, v6), ep->target_port};
  if (w.tunnel_protocol != TunnelProtocol::kHbone) {
    return PassthroughRoute{target, PassthroughRoute::Reason::kNotEnrolled, w.uid, svc.key()};
  }
  auto id = w.identity();
  if (!id) return RouteError{RouteError::Kind::kNoIdentity, w.uid + ": " + id.error().message()};
  HboneRoute r;
  r.connect_to = net::SocketAddress{target.ip, kHboneMtlsPort};
  r.authority = target;
  r.expected_identities.push_back(std::move(*id));
  for (const auto& san : svc.subject_alt_names) {
    if (std::find(r.expected_identities.begin(), r.expected_identities.end(), san) ==
        r.expected_identities.end()) {
      r.expected_identities.push_back(san);
    }
  }
  r.destination_workload_uid = w.uid;
  r.destination_service = svc.key();
  r.service_hostname = svc.hostname;
  return r;
}

RouteDecision workloadRoute(const StateSnapshot& snapshot, const Workload& w,
                            const Workload& source, const net::SocketAddress& dst,
                            RandomSource& random) {
  if (w.waypoint && !isWaypointInstance(snapshot, *w.waypoint, source)) {
    auto wp = resolveWaypoint(snapshot, *w.waypoint, source, dst.ip.isV6(), random);
    if (!wp) return wp.error();
    return toWaypoint(std::move(*wp), dst);
  }
  if (w.tunnel_protocol != TunnelProtocol::kHbone) {
    return PassthroughRoute{dst, PassthroughRoute::Reason::kNotEnrolled, w.uid, {}};
  }
  auto id = w.identity();
  if (!id) return RouteError{RouteError::Kind::kNoIdentity, w.uid + ": " + id.error().message()};
  HboneRoute r;
  r.connect_to = net::SocketAddress{dst.ip, kHboneMtlsPort};
  r.authority = dst;
  r.expected_identities.push_back(std::move(*id));
  r.destination_workload_uid = w.uid;
  return r;
}

}  // namespace

RouteDecision buildRequest(const StateSnapshot& snapshot, const Workload& source,
                           const net::SocketAddress& original_destination, RandomSource& random) {
  NetworkAddress key{source.network, original_destination.ip};
  if (const Service* svc = snapshot.serviceByVip(key)) {
    return serviceRoute(snapshot, *svc, source, original_destination, random);
  }
  if (const Workload* w = snapshot.workloadByAddress(key)) {
    return workloadRoute(snapshot, *w, source, original_destination, random);
  }
  return PassthroughRoute{original_destination, PassthroughRoute::Reason::kUnknownDestination,
                          {}, {}};
}

}  // namespace warren::ztunnel
