// AuthorizationPolicy, RequestAuthentication, Warren's TrafficPolicy and Istio's DestinationRule
// (its host resolved to a Service, as a Service targetRef) bound to waypoints, to
// warren.l7.v1 WaypointPolicy resources (proto/warren/l7/v1/policy.proto). Pure: one cluster
// snapshot in, the resources of every waypoint and what each policy is bound to out;
// table-tested in tests/agent/waypoint_policy_translation_test.cc.
//
// Which waypoint enforces a policy (Istio ambient's attachment, with Warren's class name):
//   targetRef kind Gateway (group gateway.networking.k8s.io), in the policy's namespace, of
//     class warren-waypoint               -> that waypoint, for everything through it
//   targetRef kind GatewayClass `warren-waypoint` from the root namespace
//                                          -> every waypoint (mesh-wide), for everything
//   targetRef kind Service (group "" / core) in the policy's namespace
//                                          -> the waypoint that Service uses
//                                             (warren.dev/use-waypoint), for that Service only
// A policy without targetRefs is ztunnel's (authorization_translation.h): Istio requires
// targetRefs for L7 rules, AUDIT, CUSTOM and RequestAuthentication in ambient mode. A
// targetRef that binds nothing (no such Gateway, a Service without a waypoint, another
// GatewayClass) is reported in `errors`, naming the reference: the policy is then enforced
// nowhere, as in Istio, and its status says so.
//
// Values are copied as the API wrote them (the waypoint's compile() validates them with
// Istio's rules and reports per policy); serviceAccounts become principals
// "<td>/ns/<ns>/sa/<sa>".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/workload_translation.h"
#include "warren/l7/v1/policy.pb.h"

namespace warren::agent {

inline constexpr const char* kWaypointPolicyTypeUrl =
    "type.googleapis.com/warren.l7.v1.WaypointPolicy";

struct PolicyBinding {
  std::vector<std::string> waypoints;  // "ns/name" of each waypoint enforcing the policy
  std::vector<std::string> errors;     // targetRefs that bind nothing
};

struct WaypointPolicyTranslation {
  // Resource name "<waypoint ns>/<waypoint>/<kind>/<ns>/<name>" -> resource.
  std::map<std::string, warren::l7::v1::WaypointPolicy> resources;
  // "AuthorizationPolicy/ns/name" (or RequestAuthentication/..., TrafficPolicy/...) -> its binding.
  std::map<std::string, PolicyBinding> bindings;
};

WaypointPolicyTranslation translateWaypointPolicies(const ClusterSnapshot& snapshot,
                                                    const TranslationContext& ctx);

}  // namespace warren::agent
