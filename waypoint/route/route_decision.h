// What the router decides for one request: forward it (to which backend, with which request
// and response edits, mirrors, timeouts and retry policy), redirect it, or answer it directly
// (404 no route, 500 bad backend...). The proxy acts on it; nothing here performs I/O.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "waypoint/request/http_request.h"
#include "waypoint/route/route_model.h"

namespace warren::waypoint {

// Which route rule decided (for access logs, metrics and /config_dump).
struct RouteRef {
  enum class Kind { kHttpRoute, kGrpcRoute };
  Kind kind = Kind::kHttpRoute;
  std::string namespace_;
  std::string name;
  size_t rule_index = 0;
  std::optional<std::string> rule_name;  // HTTPRouteRule.name
  // toString() made once: the route table fills it, so a request routed by this rule copies
  // the name instead of formatting it.
  std::string text;
  std::string toString() const;  // "HTTPRoute default/web rule 1 (named)"
};

// Where the request goes. kService: a Service port the proxy load-balances over (backendRef,
// or the destination Service itself when no route applies). kOriginalDestination: the address
// the client dialled (a pod IP, which no route applies to).
struct BackendTarget {
  enum class Kind { kService, kOriginalDestination };
  Kind kind = Kind::kService;
  std::string namespace_;
  std::string name;
  uint16_t port = 0;
  std::string toString() const;  // "default/echo-v1:8080", "original-destination:8080"
  friend bool operator==(const BackendTarget&, const BackendTarget&) = default;
};

struct ForwardAction {
  BackendTarget backend;
  HttpRequest request;  // after every request filter (headers, path and host rewrites)
  std::vector<HeaderModifier> response_header_edits;  // apply in order (applyHeaderModifier)
  std::vector<BackendTarget> mirrors;                 // already sampled: send a copy to each
  RouteTimeouts timeouts;
  std::optional<RouteRetry> retry;
};

struct RedirectAction {
  int status = 302;
  std::string location;  // absolute URI
};

struct DirectResponse {
  enum class Reason {
    kNoRouteMatched,     // 404: routes attach to the service, no rule matches
    kNoBackends,         // 500: the rule has no backendRefs and does not redirect
    kAllWeightsZero,     // 500: every backendRef has weight 0
    kInvalidBackend,     // 500: the chosen backendRef does not resolve
    kUnsupportedFilter,  // 500: an ExtensionRef filter (the spec forbids skipping it)
  };
  Reason reason = Reason::kNoRouteMatched;
  int status = 404;
  // For gRPC requests, the grpc-status to send (GRPCRoute spec: UNAVAILABLE for invalid
  // backends; UNIMPLEMENTED for no route, as Envoy maps 404); 0 for plain HTTP.
  int grpc_status = 0;
  std::string detail;  // names the backend or rule
};

struct RouteDecision {
  // The rule that applied, shared with the route table (no copy per request); null: no route
  // applies (default forwarding or 404).
  std::shared_ptr<const RouteRef> route;
  std::variant<ForwardAction, RedirectAction, DirectResponse> action;

  const ForwardAction* forward() const { return std::get_if<ForwardAction>(&action); }
  const RedirectAction* redirect() const { return std::get_if<RedirectAction>(&action); }
  const DirectResponse* direct() const { return std::get_if<DirectResponse>(&action); }

  nlohmann::json toJson() const;
};

const char* toString(DirectResponse::Reason r);

}  // namespace warren::waypoint
