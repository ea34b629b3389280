// The admin API's waypoint documents (warrenctl/README.md): /api/v1/waypoints (each waypoint
// Gateway with what the controller reported, its instances, and the Services and workloads
// that use it) and /api/v1/routes (the warren.l7.v1.ServiceRoutes each waypoint is served).
// Pure functions of one snapshot, like cluster_documents.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/workload_translation.h"

namespace warren::agent::admin {

// What the agent's controller role is doing, when it runs one.
struct ControllerState {
  bool enabled = false;
  bool leading = false;
  std::string identity;
};

nlohmann::json waypointItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx);
nlohmann::json controllerJson(const ControllerState& state);

// ServiceRoutes as JSON (proto field names), only those of `waypoint` ("ns/name") when set.
nlohmann::json routeItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx,
                          const std::string& waypoint);

}  // namespace warren::agent::admin
