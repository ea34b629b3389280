// networking.istio.io DestinationRule: what a waypoint does to the traffic of one Service once
// routed (waypoint/README.md "DestinationRule"). Gateway API has no field for outlier detection
// or connection limits, so Istio ambient users write them here; Warren reads the same kind:
//
//   apiVersion: networking.istio.io/v1      # v1beta1, v1alpha3 too
//   kind: DestinationRule
//   metadata: {name: reviews, namespace: shop}
//   spec:
//     host: reviews                         # a Service in the rule's namespace: its name,
//                                           # name.ns, name.ns.svc[.cluster.local]
//     targetRefs: [{kind: Service, group: "", name: reviews}]   # instead of host (optional)
//     trafficPolicy:
//       outlierDetection:
//         consecutive5xxErrors: 5           # default 5; 0 off
//         consecutiveGatewayErrors: 0       # 502/503/504 and connect failures; default off
//         interval: 10s                     # default 10s
//         baseEjectionTime: 30s             # default 30s
//         maxEjectionPercent: 10            # default 10
//         minHealthPercent: 0               # default 0
//       connectionPool:
//         http: {http2MaxRequests: 100, http1MaxPendingRequests: 10}  # applied
//         tcp: {maxConnections: 10}         # applied; the other fields are reported
//
// The decoder rejects wrong types and values out of range naming the field (the model keeps
// the last good version, the admin API shows the error); fields the waypoint does not apply
// (subsets, loadBalancer, tls, portLevelSettings, the other connectionPool fields...) are kept
// by name in `not_applied`, so `warrenctl policies` and the waypoint's /policies say so.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/security_kinds.h"
#include "common/k8s/object.h"

namespace warren::agent {

struct OutlierDetectionSpec {
  uint32_t consecutive_5xx_errors = 5;
  uint32_t consecutive_gateway_errors = 0;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds base_ejection_time{30000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;
};

struct DestinationRule {
  k8s::ObjectMeta meta;
  std::string host;
  std::vector<PolicyTargetRef> target_refs;  // from spec.targetRefs, else from host
  std::optional<OutlierDetectionSpec> outlier_detection;
  uint32_t max_requests = 0;     // connectionPool.http.http2MaxRequests; 0: no limit
  uint32_t max_connections = 0;  // connectionPool.tcp.maxConnections; 0: no limit
  uint32_t max_pending_requests = 0;  // connectionPool.http.http1MaxPendingRequests; 0: none
  std::vector<std::string> not_applied;  // "trafficPolicy.loadBalancer", ...
};

bool isIstioDestinationRule(const k8s::Object& obj);
Result<DestinationRule> decodeDestinationRule(const k8s::Object& obj);

// The Service name a DestinationRule host names in `rule_ns` ("reviews", "reviews.shop",
// "reviews.shop.svc", "reviews.shop.svc.<domain>"); an error for a host in another namespace, a
// wildcard or an empty host.
Result<std::string> serviceOfHost(const std::string& host, const std::string& rule_ns);

}  // namespace warren::agent
