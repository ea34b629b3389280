#include "ztunnel/routing/outbound_router.h"

#include <algorithm>

#include "mesh/routing/endpoint_selector.h"
#include "mesh/routing/waypoint_resolver.h"

namespace warren::ztunnel {

namespace {

mesh::HboneRoute toWaypoint(mesh::WaypointTarget&& wp,
                            const net::SocketAddress& original_destination) {
  mesh::HboneRoute r;
  r.connect_to = wp.connect_to;
  r.authority = original_destination;
  r.expected_identities = std::move(wp.expected_identities);
  r.to_waypoint = true;
  r.destination_workload_uid = wp.workload->uid;
  return r;
}

mesh::RouteDecision serviceRoute(const mesh::StateSnapshot& snapshot, const mesh::Service& svc,
                                 const mesh::Workload& source, const net::SocketAddress& dst,
                                 mesh::RandomSource& random) {
  bool v6 = dst.ip.isV6();
  if (svc.waypoint && !mesh::isWaypointInstance(snapshot, *svc.waypoint, source)) {
    auto wp = mesh::resolveWaypoint(snapshot, *svc.waypoint, source, v6, random);
    if (!wp) return wp.error();
    mesh::HboneRoute r = toWaypoint(std::move(*wp), dst);
    r.destination_service = svc.key();
    r.service_hostname = svc.hostname;
    return r;
  }
  if (svc.load_balancing && svc.load_balancing->mode == mesh::LoadBalancingMode::kPassthrough) {
    return mesh::PassthroughRoute{
        dst, mesh::PassthroughRoute::Reason::kPassthroughService, {}, svc.key()};
  }
  if (!svc.findPort(dst.port)) {
    return mesh::RouteError{mesh::RouteError::Kind::kUnknownServicePort,
                            "service " + svc.key() + " has no port " + std::to_string(dst.port)};
  }
  auto ep = mesh::selectEndpoint(snapshot, svc, dst.port, source, random);
  if (!ep) {
    return mesh::RouteError{
        mesh::RouteError::Kind::kNoHealthyUpstream,
        "no healthy upstream for " + svc.key() + ":" + std::to_string(dst.port)};
  }
  const mesh::Workload& w = *ep->workload;
  // selectEndpoint only returns workloads with an address.
  net::SocketAddress target{*mesh::pickAddress(w, v6), ep->target_port};
  if (w.tunnel_protocol != mesh::TunnelProtocol::kHbone) {
    return mesh::PassthroughRoute{target, mesh::PassthroughRoute::Reason::kNotEnrolled, w.uid,
                                  svc.key()};
  }
  auto id = snapshot.identity(w);
  if (!id)
    return mesh::RouteError{mesh::RouteError::Kind::kNoIdentity,
                            w.uid + ": " + id.error().message()};
  mesh::HboneRoute r;
  r.connect_to = net::SocketAddress{target.ip, mesh::kHboneMtlsPort};
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

mesh::RouteDecision workloadRoute(const mesh::StateSnapshot& snapshot, const mesh::Workload& w,
                                  const mesh::Workload& source, const net::SocketAddress& dst,
                                  mesh::RandomSource& random) {
  if (w.waypoint && !mesh::isWaypointInstance(snapshot, *w.waypoint, source)) {
    auto wp = mesh::resolveWaypoint(snapshot, *w.waypoint, source, dst.ip.isV6(), random);
    if (!wp) return wp.error();
    return toWaypoint(std::move(*wp), dst);
  }
  if (w.tunnel_protocol != mesh::TunnelProtocol::kHbone) {
    return mesh::PassthroughRoute{dst, mesh::PassthroughRoute::Reason::kNotEnrolled, w.uid, {}};
  }
  auto id = snapshot.identity(w);
  if (!id)
    return mesh::RouteError{mesh::RouteError::Kind::kNoIdentity,
                            w.uid + ": " + id.error().message()};
  mesh::HboneRoute r;
  r.connect_to = net::SocketAddress{dst.ip, mesh::kHboneMtlsPort};
  r.authority = dst;
  r.expected_identities.push_back(std::move(*id));
  r.destination_workload_uid = w.uid;
  return r;
}

}  // namespace

mesh::RouteDecision buildRequest(const mesh::StateSnapshot& snapshot, const mesh::Workload& source,
                                 const net::SocketAddress& original_destination,
                                 mesh::RandomSource& random) {
  mesh::NetworkAddress key{source.network, original_destination.ip};
  if (const mesh::Service* svc = snapshot.serviceByVip(key)) {
    return serviceRoute(snapshot, *svc, source, original_destination, random);
  }
  if (const mesh::Workload* w = snapshot.workloadByAddress(key)) {
    return workloadRoute(snapshot, *w, source, original_destination, random);
  }
  return mesh::PassthroughRoute{
      original_destination, mesh::PassthroughRoute::Reason::kUnknownDestination, {}, {}};
}

}  // namespace warren::ztunnel
