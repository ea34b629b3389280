// HTTPRoute/GRPCRoute (GAMMA) to warren.l7.v1.ServiceRoutes, and what each route's status
// should say. Pure: one cluster snapshot in, the routes of every waypoint-bound Service and
// one status per route out; table-tested in tests/agent/route_translation_test.cc. The xDS
// build and the controller's status writer share it, so what the status says is exactly what
// the waypoint is given.
//
// Attachment: a parentRef of kind Service (group "" or "core") attaches a route to that
// Service, to the port it names (`port`, or `sectionName` = a port name) or to all its ports.
// It is Accepted when the Service exists, has that port and is bound to a waypoint that takes
// service traffic (warren.dev/use-waypoint on the Service or its namespace). parentRefs to a
// warren-waypoint Gateway are refused (UnsupportedValue: attach to a Service); parentRefs to
// other Gateways are another controller's and get no status from Warren. Route `hostnames`
// are not used for Service parents: the request was already addressed to the Service.
//
// Backends: a backendRef resolves when it is a Service in the route's own namespace with that
// port (cross-namespace references need ReferenceGrant, which Warren does not read yet:
// RefNotPermitted). An unresolved backend stays in the rule, marked `invalid`, so the waypoint
// answers 500 for its share (Gateway API), and the route says ResolvedRefs=False.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/workload_translation.h"
#include "warren/l7/v1/routes.pb.h"

namespace warren::agent {

inline constexpr const char* kServiceRoutesTypeUrl =
    "type.googleapis.com/warren.l7.v1.ServiceRoutes";

// One Gateway API condition (type, status, reason, message), without times: the writer adds
// observedGeneration and lastTransitionTime.
struct Condition {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
  bool operator==(const Condition&) const = default;
};

struct RouteParentStatus {
  ParentRef parent;
  std::vector<Condition> conditions;  // Accepted, ResolvedRefs
};

struct RouteStatus {
  std::string route;  // "HTTPRoute/ns/name"
  RouteKind kind = RouteKind::kHttp;
  std::string namespace_, name;
  std::vector<RouteParentStatus> parents;  // only parents Warren answers for
};

struct RouteTranslation {
  // Keyed by the Service's Address resource name "<ns>/<hostname>".
  std::map<std::string, warren::l7::v1::ServiceRoutes> services;
  // Keyed by route key; routes that did not decode (snapshot.rejected) are here too.
  std::map<std::string, RouteStatus> statuses;
};

RouteTranslation translateRoutes(const ClusterSnapshot& snapshot, const TranslationContext& ctx);

// How the waypoint speaks on a Service port (appProtocol, else the port name's prefix).
warren::l7::v1::Protocol portProtocol(const k8s::ServicePort& port);

// The waypoint Gateway ("ns/name") a Service's traffic goes to, "" when none takes it.
std::string serviceWaypoint(const ClusterSnapshot& snapshot, const k8s::Service& svc);

}  // namespace warren::agent
