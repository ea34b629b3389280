// Status documents the controller writes (Gateway API conditions), as pure functions of what
// it wants to say and what the object says now. A condition keeps its lastTransitionTime while
// its status stays the same, so an unchanged answer renders to the very same document and the
// controller writes nothing: status writes settle instead of looping through the informer.
//
// Gateway: conditions Accepted and Programmed (reasons as Gateway API defines them), the
// waypoint Service's ClusterIP as an IPAddress in status.addresses, one status per listener.
// Routes: status.parents keeps other controllers' entries and replaces Warren's
// (controllerName warren.dev/waypoint-controller) with one per parent Warren answers for.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/gateway_kinds.h"
#include "agent/translate/route_translation.h"

namespace warren::agent {

// `desired` with observedGeneration and lastTransitionTime: kept from `existing` (a
// status.conditions array, or null) when the same type has the same status, else `now`.
nlohmann::json renderConditions(const std::vector<Condition>& desired,
                                const nlohmann::json& existing, int64_t generation,
                                const std::string& now);

struct GatewayOutcome {
  std::string listener_problem;  // waypointListenerProblem(): Accepted=False when set
  std::string conflict;          // a generated object exists and is not ours: Programmed=False
  std::string error;             // writing the generated objects failed: Programmed=False
  std::string address;           // the waypoint Service's ClusterIP, "" while unassigned
  bool deployed = false;         // ServiceAccount, Service and Deployment exist and match
};

// The desired Gateway status: `existing` is the object's current status (or null).
nlohmann::json gatewayStatus(const Gateway& gateway, const GatewayOutcome& outcome,
                             const nlohmann::json& existing, const std::string& now);
// The status of a waypoint Gateway that did not decode (the decoder's message).
nlohmann::json rejectedGatewayStatus(const std::string& error, int64_t generation,
                                     const nlohmann::json& existing, const std::string& now);

// The desired route status; nullopt when Warren has nothing to say and nothing to remove.
std::optional<nlohmann::json> routeStatus(const RouteStatus& status, int64_t generation,
                                          const nlohmann::json& existing, const std::string& now);

// A ParentRef as it appears in status.parents[].parentRef.
nlohmann::json parentRefJson(const ParentRef& ref);

}  // namespace warren::agent
