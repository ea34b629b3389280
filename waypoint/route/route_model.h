// Gateway API HTTPRoute and GRPCRoute (gateway.networking.k8s.io/v1) as plain C++ values, in
// mesh (GAMMA) mode: routes attach to Services through parentRefs. The control plane converts
// its `warren.l7.v1` resources into these types; the waypoint compiles them into a RouteTable
// (route_table.h). Every field names its source in the Gateway API v1 types
// (apis/v1/httproute_types.go, grpcroute_types.go, shared_types.go); defaults are the CRD
// defaults, so a value converted from an object the API server admitted needs no fixing up.
//
// Deliberately absent: `hostnames` matching (GAMMA routes are selected by their Service parent,
// GEP-1426; the field is kept and reported but never narrows a match), CORS, ExternalAuth,
// sessionPersistence (not in the MESH profile). ExtensionRef filters are carried so that a
// route using one fails closed (500) instead of silently skipping the filter, as the spec
// requires ("the filter MUST NOT be skipped").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace warren::waypoint {

// spec.parentRefs[] with group "" and kind Service (the only parent a mesh route has). `port`:
// ParentReference.port; unset = every port of the Service (MeshPorts).
struct ServiceParentRef {
  std::string namespace_;  // ParentReference.namespace, defaulted to the route's namespace
  std::string name;        // ParentReference.name
  std::optional<uint16_t> port;
};

// HTTPPathMatch.type (PathMatchType).
enum class PathMatchType { kExact, kPathPrefix, kRegularExpression };
// HeaderMatchType / QueryParamMatchType / GRPCMethodMatchType / GRPCHeaderMatchType.
enum class ValueMatchType { kExact, kRegularExpression };

// HTTPPathMatch; CRD default {type: PathPrefix, value: "/"}.
struct PathMatch {
  PathMatchType type = PathMatchType::kPathPrefix;
  std::string value = "/";
};

// HTTPHeaderMatch / GRPCHeaderMatch: name is case-insensitive; when two entries name the same
// header only the first counts (spec).
struct HeaderMatch {
  ValueMatchType type = ValueMatchType::kExact;
  std::string name;
  std::string value;
};

// HTTPQueryParamMatch: name is case-sensitive ("exact string match"); the first value of a
// repeated parameter is matched (the spec's recommendation).
struct QueryParamMatch {
  ValueMatchType type = ValueMatchType::kExact;
  std::string name;
  std::string value;
};

// HTTPRouteMatch: every present condition must hold.
struct HttpRouteMatch {
  PathMatch path;                             // HTTPRouteMatch.path (defaulted)
  std::vector<HeaderMatch> headers;           // HTTPRouteMatch.headers
  std::vector<QueryParamMatch> query_params;  // HTTPRouteMatch.queryParams
  std::optional<std::string> method;          // HTTPRouteMatch.method ("GET", upper case)
};

// HTTPHeader: one name/value of a header filter.
struct HeaderValue {
  std::string name;
  std::string value;
};

// HTTPHeaderFilter (RequestHeaderModifier / ResponseHeaderModifier).
struct HeaderModifier {
  std::vector<HeaderValue> set;     // overwrite
  std::vector<HeaderValue> add;     // append to existing values
  std::vector<std::string> remove;  // names
};

// HTTPPathModifier.
enum class PathModifierType { kReplaceFullPath, kReplacePrefixMatch };
struct PathModifier {
  PathModifierType type = PathModifierType::kReplaceFullPath;
  std::string value;  // replaceFullPath or replacePrefixMatch
};

// HTTPRequestRedirectFilter. statusCode CRD default 302.
struct RequestRedirect {
  std::optional<std::string> scheme;    // "http" | "https"
  std::optional<std::string> hostname;  // PreciseHostname
  std::optional<PathModifier> path;
  std::optional<uint16_t> port;
  int status_code = 302;  // 301 | 302 | 303 | 307 | 308
};

// HTTPURLRewriteFilter.
struct UrlRewrite {
  std::optional<std::string> hostname;
  std::optional<PathModifier> path;
};

// BackendObjectReference, resolved by the control plane to a Service.
struct BackendObjectRef {
  std::string group;  // "" for core Services
  std::string kind = "Service";
  std::string namespace_;  // defaulted to the route's namespace
  std::string name;
  std::optional<uint16_t> port;  // required for Services (the control plane reports otherwise)
};

// Fraction {numerator, denominator (default 100)}; HTTPRequestMirrorFilter.percent p is the
// fraction p/100. Neither set: every request is mirrored.
struct Fraction {
  uint32_t numerator = 100;
  uint32_t denominator = 100;
};

// HTTPRequestMirrorFilter.
struct RequestMirror {
  BackendObjectRef backend;
  Fraction fraction;
  std::string invalid_reason;  // control plane: why backendRef is unresolved ("" = resolved)
};

// The filter union (HTTPRouteFilter / GRPCRouteFilter), one alternative per type.
struct RequestHeaderModifierFilter {
  HeaderModifier modifier;
};
struct ResponseHeaderModifierFilter {
  HeaderModifier modifier;
};
struct ExtensionRefFilter {  // LocalObjectReference: unsupported, fails closed
  std::string group, kind, name;
};
using RouteFilter = std::variant<RequestHeaderModifierFilter, ResponseHeaderModifierFilter,
                                 RequestRedirect, UrlRewrite, RequestMirror, ExtensionRefFilter>;

// HTTPBackendRef / GRPCBackendRef. weight: CRD default 1, 0 = never chosen.
struct BackendRef {
  BackendObjectRef ref;
  uint32_t weight = 1;
  std::vector<RouteFilter> filters;  // run only when this backend is chosen
  // Set by the control plane when the reference does not resolve (ResolvedRefs=False:
  // BackendNotFound, RefNotPermitted, InvalidKind...); requests sent its way get 500.
  std::string invalid_reason;
};

// HTTPRouteTimeouts (GEP-2257 durations). A zero duration disables the timeout.
struct RouteTimeouts {
  std::optional<std::chrono::milliseconds> request;
  std::optional<std::chrono::milliseconds> backend_request;
};

// HTTPRouteRetry.
struct RouteRetry {
  std::optional<uint32_t> attempts;  // retries after the first try; 0 disables
  std::vector<int> codes;            // 400..599
  std::optional<std::chrono::milliseconds> backoff;
};

// HTTPRouteRule. CRD default when `matches` is empty: one PathPrefix "/" match.
struct HttpRouteRule {
  std::optional<std::string> name;  // HTTPRouteRule.name (named rules)
  std::vector<HttpRouteMatch> matches;
  std::vector<RouteFilter> filters;
  std::vector<BackendRef> backend_refs;
  RouteTimeouts timeouts;
  std::optional<RouteRetry> retry;
};

// What every route carries: identity, age, parents.
struct RouteMeta {
  std::string namespace_;
  std::string name;
  // metadata.creationTimestamp, seconds since the epoch (RFC 3339, second resolution).
  int64_t creation_timestamp = 0;
  std::vector<ServiceParentRef> parent_refs;
  std::vector<std::string> hostnames;  // carried, not matched in mesh mode (see above)
};

struct HttpRoute {
  RouteMeta meta;
  std::vector<HttpRouteRule> rules;
};

// GRPCMethodMatch: at least one of service/method is set (CRD validation).
struct GrpcMethodMatch {
  ValueMatchType type = ValueMatchType::kExact;
  std::optional<std::string> service;  // "pkg.Service"
  std::optional<std::string> method;   // "Method"
};

// GRPCRouteMatch.
struct GrpcRouteMatch {
  std::optional<GrpcMethodMatch> method;  // unset: every service and method
  std::vector<HeaderMatch> headers;
};

// GRPCRouteRule: empty `matches` matches every gRPC request. Filters are limited by the CRD to
// the header modifiers, RequestMirror and ExtensionRef.
struct GrpcRouteRule {
  std::optional<std::string> name;
  std::vector<GrpcRouteMatch> matches;
  std::vector<RouteFilter> filters;
  std::vector<BackendRef> backend_refs;
};

struct GrpcRoute {
  RouteMeta meta;
  std::vector<GrpcRouteRule> rules;
};

// The Service a request is for, as the waypoint resolved it from the HBONE :authority (service
// VIP:port). A request to a workload address has no service: no route applies to it.
struct ServiceKey {
  std::string namespace_;
  std::string name;
  friend bool operator==(const ServiceKey&, const ServiceKey&) = default;
  friend auto operator<=>(const ServiceKey&, const ServiceKey&) = default;
};

struct RouteDestination {
  std::optional<ServiceKey> service;
  uint16_t port = 0;
};

}  // namespace warren::waypoint
