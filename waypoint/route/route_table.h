// Gateway API routing in mesh mode as a pure function: RouteTable::route(destination, request)
// -> RouteDecision. Built once per configuration push from HttpRoute/GrpcRoute values
// (route_model.h): regexes compiled, invalid rules dropped with a diagnostic naming the field
// (a bad route never takes down the routes that work), and every match sorted by the spec's
// precedence so that routing is "first entry that matches".
//
// Which routes apply: those with a parentRef to the destination Service whose port is unset or
// equal to the port dialled (GEP-1426; MeshPorts). A gRPC request (content-type
// application/grpc) uses the GRPCRoutes attached to the Service, else its HTTPRoutes; a plain
// HTTP request uses the HTTPRoutes, else the GRPCRoutes (the two kinds are never merged,
// grpcroute_types.go "Merging MUST not be done between GRPCRoutes and HTTPRoutes"). No route
// attached: the request goes to the Service itself (MeshBasic); a request to a pod address
// (no Service) goes to the address dialled (MeshFrontend: "Send to pod IP").
//
// Precedence, HTTPRoute (httproute_types.go, HTTPRouteRule.Matches): "Across all rules
// specified on applicable Routes, precedence must be given to the match having:
//   * "Exact" path match.
//   * "Prefix" path match with largest number of characters.
//   * Method match.
//   * Largest number of header matches.
//   * Largest number of query param matches.
// Note: The precedence of RegularExpression path matches are implementation-specific. ...
//   * The oldest Route based on creation timestamp.
//   * The Route appearing first in alphabetical order by "{namespace}/{name}".
// If ties still exist within an HTTPRoute, matching precedence MUST be granted to the FIRST
// matching rule (in list order) with a match meeting the above criteria."
// RegularExpression paths rank after every prefix, longer patterns first (Istio's
// sortHTTPRoutes: Exact > Prefix > Regex, then length). The path length of a prefix ignores its
// trailing "/" (it is ignored when matching too).
//
// Precedence, GRPCRoute (grpcroute_types.go, GRPCRouteRule.Matches): "Precedence MUST be given
// to the rule with the largest number of: * Characters in a matching non-wildcard hostname.
// * Characters in a matching hostname. * Characters in a matching service. * Characters in a
// matching method. * Header matches." (hostnames do not apply in mesh mode), then the same
// route age, name and rule order.
//
// After the match: filters run in the order written ("Wherever possible, implementations
// SHOULD implement filters in the order they are specified"), then one backendRef is drawn by
// weight and its own filters run. 404 when routes apply but no rule matches; 500 for a rule
// without backendRefs, with only weight-0 backendRefs, or when the drawn backendRef is invalid
// (its share of requests gets 500, as the spec requires).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "waypoint/request/http_request.h"
#include "waypoint/route/route_decision.h"
#include "waypoint/route/route_filters.h"
#include "waypoint/route/route_model.h"

namespace warren::waypoint {

// A configuration problem found while building: the route ("HTTPRoute default/web") and a
// message that starts with the field ("rules[1].matches[0].path.value: bad regex ..."). The
// control plane surfaces these as route status conditions.
struct RouteDiagnostic {
  std::string route;
  std::string message;
  std::string toString() const;
};

class RouteTable {
 public:
  struct BuildResult {
    std::shared_ptr<const RouteTable> table;
    std::vector<RouteDiagnostic> diagnostics;
  };
  static BuildResult build(const std::vector<HttpRoute>& http_routes,
                           const std::vector<GrpcRoute>& grpc_routes);

  RouteDecision route(const RouteDestination& destination, const HttpRequest& request,
                      RouteRandom& random) const;

  // Accepted rules (for status and dumps).
  size_t ruleCount() const;

  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

 private:
  RouteTable();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::waypoint
