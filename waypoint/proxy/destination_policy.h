// DestinationSettings: one Istio DestinationRule's trafficPolicy as the waypoint applies it to
// the Service it names (proto warren.l7.v1.DestinationPolicy, translated by the agent from
// networking.istio.io DestinationRule): outlier detection as waypoint/resilience's OutlierSpec,
// the connectionPool limits (http2MaxRequests, tcp.maxConnections, http1MaxPendingRequests)
// as the destination's circuit breakers, and the rule's fields no waypoint
// applies, by name, for /policies. Pure; PolicyConfig keeps one per Service.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "warren/l7/v1/policy.pb.h"
#include "waypoint/resilience/outlier_detector.h"

namespace warren::waypoint {

struct DestinationSettings {
  std::string policy;  // "ns/name" of the DestinationRule
  std::optional<OutlierSpec> outlier;
  // connectionPool; 0: no limit.
  uint32_t max_requests = 0;          // requests active at once
  uint32_t max_connections = 0;       // HTTP/1.1 upstream connections open at once
  uint32_t max_pending_requests = 0;  // requests waiting for a connection
  std::vector<std::string> not_applied;
};

// The proto's values checked again (the agent's decoder should have refused them): a bad one
// goes to `diagnostics`, naming the rule and field, and that part is left out.
DestinationSettings destinationSettingsOf(const l7::v1::DestinationPolicy& p,
                                          std::vector<std::string>& diagnostics);
nlohmann::json destinationSettingsJson(const DestinationSettings& s);

}  // namespace warren::waypoint
