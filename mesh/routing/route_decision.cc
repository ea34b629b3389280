#include "mesh/routing/route_decision.h"

namespace warren::mesh {

const char* toString(PassthroughRoute::Reason r) {
  switch (r) {
    case PassthroughRoute::Reason::kUnknownDestination: return "unknown_destination";
    case PassthroughRoute::Reason::kNotEnrolled: return "not_enrolled";
    case PassthroughRoute::Reason::kPassthroughService: return "passthrough_service";
  }
  return "?";
}

const char* toString(RouteError::Kind k) {
  switch (k) {
    case RouteError::Kind::kNoHealthyUpstream: return "no_healthy_upstream";
    case RouteError::Kind::kUnknownServicePort: return "unknown_service_port";
    case RouteError::Kind::kUnknownWaypoint: return "unknown_waypoint";
    case RouteError::Kind::kNoRoutableAddress: return "no_routable_address";
    case RouteError::Kind::kNoIdentity:
      return "no_identity";
  }
  return "?";
}

namespace {
nlohmann::json identityUris(const std::vector<identity::SpiffeId>& ids) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& id : ids) out.push_back(id.uri());
  return out;
}
}  // namespace

nlohmann::json toJson(const RouteDecision& decision) {
  if (const auto* h = std::get_if<HboneRoute>(&decision)) {
    return {{"type", "hbone"},
            {"connectTo", h->connect_to.toString()},
            {"authority", hbone::authorityToString(h->authority)},
            {"expectedIdentities", identityUris(h->expected_identities)},
            {"toWaypoint", h->to_waypoint},
            {"destinationWorkload", h->destination_workload_uid},
            {"destinationService", h->destination_service}};
  }
  if (const auto* p = std::get_if<PassthroughRoute>(&decision)) {
    return {{"type", "passthrough"},
            {"connectTo", p->connect_to.toString()},
            {"reason", toString(p->reason)},
            {"destinationWorkload", p->destination_workload_uid},
            {"destinationService", p->destination_service}};
  }
  const auto& e = std::get<RouteError>(decision);
  return {{"type", "error"}, {"kind", toString(e.kind)}, {"detail", e.detail}};
}

}  // namespace warren::mesh
