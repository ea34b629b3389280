// Gateway API HTTPRoute and GRPCRoute (gateway.networking.k8s.io/v1) in mesh mode (GAMMA:
// parentRefs to a Service), decoded into one Route type: a GRPCRoute's method matches become
// the equivalent path matches (Exact "/svc/method", prefix "/svc/", a regex otherwise), which
// is what gRPC puts on the wire, so one matching engine serves both kinds.
//
// The decoder enforces what the Gateway API schema and its CEL rules enforce at admission
// (paths, header and query names, methods, weights 0..1,000,000, Service backends need a port,
// filter combinations, durations, list sizes) plus what an implementation must check itself:
// every regular expression compiles with RE2. An error names the file, the object and the
// field ("HTTPRoute shop/api: spec.rules[0].matches[1].path.value: ..."); the model then
// keeps the route's last good version and the controller writes the error into its status.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/gateway_kinds.h"
#include "common/k8s/object.h"

namespace warren::agent {

enum class RouteKind { kHttp, kGrpc };
const char* kindName(RouteKind k);  // "HTTPRoute", "GRPCRoute"

enum class PathMatchType { kExact, kPathPrefix, kRegularExpression };
enum class ValueMatchType { kExact, kRegularExpression };

struct PathMatch {
  PathMatchType type = PathMatchType::kPathPrefix;
  std::string value = "/";
  bool operator==(const PathMatch&) const = default;
};

struct ValueMatch {  // a header or query parameter match
  ValueMatchType type = ValueMatchType::kExact;
  std::string name, value;
  bool operator==(const ValueMatch&) const = default;
};

struct RouteMatch {
  PathMatch path;  // HTTPRoute default: PathPrefix "/"
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> query_params;
  std::string method;  // "" = any
  bool operator==(const RouteMatch&) const = default;
};

struct HttpHeader {
  std::string name, value;
  bool operator==(const HttpHeader&) const = default;
};

struct HeaderModifier {
  std::vector<HttpHeader> set, add;
  std::vector<std::string> remove;
  bool operator==(const HeaderModifier&) const = default;
};

enum class PathModifierType { kReplaceFullPath, kReplacePrefixMatch };
struct PathModifier {
  PathModifierType type = PathModifierType::kReplaceFullPath;
  std::string value;
  bool operator==(const PathModifier&) const = default;
};

struct RequestRedirect {
  std::string scheme;    // "" = keep the request's
  std::string hostname;  // "" = keep
  std::optional<PathModifier> path;
  std::optional<uint16_t> port;
  int status_code = 302;
  bool operator==(const RequestRedirect&) const = default;
};

struct UrlRewrite {
  std::string hostname;
  std::optional<PathModifier> path;
  bool operator==(const UrlRewrite&) const = default;
};

// A reference to a Service (the only backend kind Warren resolves).
struct BackendObjectRef {
  std::string group;  // "" (core)
  std::string kind = "Service";
  std::string namespace_;  // defaults to the route's namespace
  std::string name;
  std::optional<uint16_t> port;
  bool operator==(const BackendObjectRef&) const = default;
};

struct RequestMirror {
  BackendObjectRef backend;
  // Share of requests mirrored, numerator/denominator (`percent: P` is P/100). Default: all.
  uint32_t numerator = 100, denominator = 100;
  bool operator==(const RequestMirror&) const = default;
};

enum class FilterType {
  kRequestHeaderModifier,
  kResponseHeaderModifier,
  kRequestRedirect,
  kUrlRewrite,
  kRequestMirror,
};
const char* filterTypeName(FilterType t);  // the Gateway API spelling

struct RouteFilter {
  FilterType type = FilterType::kRequestHeaderModifier;
  HeaderModifier header_modifier;  // request or response, by type
  RequestRedirect redirect;
  UrlRewrite rewrite;
  RequestMirror mirror;
  bool operator==(const RouteFilter&) const = default;
};

struct BackendRef {
  BackendObjectRef ref;
  uint32_t weight = 1;  // 0..1,000,000
  std::vector<RouteFilter> filters;
  bool operator==(const BackendRef&) const = default;
};

struct RouteRetry {
  std::vector<uint32_t> codes;  // 400..599
  std::optional<uint32_t> attempts;
  std::optional<std::chrono::milliseconds> backoff;
  bool operator==(const RouteRetry&) const = default;
};

struct RouteRule {
  std::string name;                 // "" when unnamed
  std::vector<RouteMatch> matches;  // never empty: a rule without matches gets PathPrefix "/"
  std::vector<RouteFilter> filters;
  std::vector<BackendRef> backend_refs;
  // timeouts.request / timeouts.backendRequest; a zero duration disables the timeout.
  std::optional<std::chrono::milliseconds> request_timeout, backend_request_timeout;
  std::optional<RouteRetry> retry;
  bool operator==(const RouteRule&) const = default;
};

struct Route {
  RouteKind kind = RouteKind::kHttp;
  k8s::ObjectMeta meta;
  std::vector<ParentRef> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<RouteRule> rules;
  k8s::Object object;  // the whole document, with its status

  // "HTTPRoute/shop/api": the object key, also what xDS route entries name.
  std::string key() const;
};

Result<Route> decodeHttpRoute(const k8s::Object& obj);
Result<Route> decodeGrpcRoute(const k8s::Object& obj);

// Gateway API Duration (GEP-2257): 1 to 4 "<digits 1-5><h|m|s|ms>" groups, e.g. "1h30m", "500ms".
Result<std::chrono::milliseconds> parseGatewayDuration(const std::string& text);
// An RE2 syntax check; the error is RE2's own message.
Status checkRegex(const std::string& pattern);

}  // namespace warren::agent
