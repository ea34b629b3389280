#include "mesh/routing/waypoint_resolver.h"

#include <algorithm>

#include "mesh/routing/endpoint_selector.h"

namespace warren::mesh {

namespace {

std::string describe(const GatewayAddress& gw) {
  if (const auto* h = std::get_if<NamespacedHostname>(&gw.destination)) return h->key();
  return std::get<NetworkAddress>(gw.destination).toString();
}

std::expected<WaypointTarget, RouteError> instanceTarget(const StateSnapshot& snapshot,
                                                         const Workload& w,
                                                         const GatewayAddress& gw,
                                                         const Service* svc, bool prefer_v6) {
  auto ip = pickAddress(w, prefer_v6);
  if (!ip) {
    return std::unexpected(RouteError{RouteError::Kind::kNoRoutableAddress,
                                      "waypoint workload " + w.uid + " has no address"});
  }
  auto id = snapshot.identity(w);
  if (!id) {
    return std::unexpected(RouteError{RouteError::Kind::kNoIdentity,
                                      "waypoint workload " + w.uid + ": " + id.error().message()});
  }
  WaypointTarget t{&w, net::SocketAddress{*ip, gw.hbone_mtls_port}, {std::move(*id)}};
  if (svc) {
    for (const auto& san : svc->subject_alt_names) {
      if (std::find(t.expected_identities.begin(), t.expected_identities.end(), san) ==
          t.expected_identities.end()) {
        t.expected_identities.push_back(san);
      }
    }
  }
  return t;
}

std::expected<WaypointTarget, RouteError> fromService(const StateSnapshot& snapshot,
                                                      const Service& svc,
                                                      const GatewayAddress& gw,
                                                      const Workload& source, bool prefer_v6,
                                                      RandomSource& random) {
  auto ep = selectEndpoint(snapshot, svc, std::nullopt, source, random);
  if (!ep) {
    return std::unexpected(RouteError{RouteError::Kind::kNoHealthyUpstream,
                                      "waypoint " + svc.key() + " has no healthy instance"});
  }
  return instanceTarget(snapshot, *ep->workload, gw, &svc, prefer_v6);
}

}  // namespace

std::expected<WaypointTarget, RouteError> resolveWaypoint(const StateSnapshot& snapshot,
                                                          const GatewayAddress& waypoint,
                                                          const Workload& source,
                                                          bool prefer_v6, RandomSource& random) {
  if (const auto* h = std::get_if<NamespacedHostname>(&waypoint.destination)) {
    const Service* svc = snapshot.serviceByHostname(h->namespace_, h->hostname);
    if (!svc) {
      return std::unexpected(
          RouteError{RouteError::Kind::kUnknownWaypoint, "waypoint service " + h->key()});
    }
    return fromService(snapshot, *svc, waypoint, source, prefer_v6, random);
  }
  const auto& addr = std::get<NetworkAddress>(waypoint.destination);
  if (const Workload* w = snapshot.workloadByAddress(addr)) {
    return instanceTarget(snapshot, *w, waypoint, nullptr, prefer_v6);
  }
  if (const Service* svc = snapshot.serviceByVip(addr)) {
    return fromService(snapshot, *svc, waypoint, source, prefer_v6, random);
  }
  return std::unexpected(
      RouteError{RouteError::Kind::kUnknownWaypoint, "waypoint address " + describe(waypoint)});
}

bool isWaypointInstance(const StateSnapshot& snapshot, const GatewayAddress& waypoint,
                        const Workload& workload) {
  if (const auto* h = std::get_if<NamespacedHostname>(&waypoint.destination)) {
    return workload.services.contains(h->key());
  }
  const auto& addr = std::get<NetworkAddress>(waypoint.destination);
  if (workload.network == addr.network &&
      std::find(workload.addresses.begin(), workload.addresses.end(), addr.address) !=
          workload.addresses.end()) {
    return true;
  }
  if (const Service* svc = snapshot.serviceByVip(addr)) {
    return workload.services.contains(svc->key());
  }
  return false;
}

}  // namespace warren::mesh
