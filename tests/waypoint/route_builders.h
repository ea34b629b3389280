// Small builders for route tables and requests, so each test row reads like the YAML it
// mirrors.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "waypoint/route/route_table.h"

namespace warren::waypoint::testing {

inline const std::string kMeshNs = "gateway-conformance-mesh";

inline ServiceParentRef parent(std::string name, std::optional<uint16_t> port = std::nullopt,
                               std::string ns = kMeshNs) {
  return ServiceParentRef{std::move(ns), std::move(name), port};
}

inline BackendRef backend(std::string name, uint16_t port, uint32_t weight = 1,
                          std::vector<RouteFilter> filters = {}) {
  BackendRef b;
  b.ref.namespace_ = kMeshNs;
  b.ref.name = std::move(name);
  b.ref.port = port;
  b.weight = weight;
  b.filters = std::move(filters);
  return b;
}

inline HttpRouteMatch prefix(std::string v) {
  HttpRouteMatch m;
  m.path = {PathMatchType::kPathPrefix, std::move(v)};
  return m;
}
inline HttpRouteMatch exact(std::string v) {
  HttpRouteMatch m;
  m.path = {PathMatchType::kExact, std::move(v)};
  return m;
}
inline HttpRouteMatch regex(std::string v) {
  HttpRouteMatch m;
  m.path = {PathMatchType::kRegularExpression, std::move(v)};
  return m;
}
inline HttpRouteMatch withHeader(HttpRouteMatch m, std::string name, std::string value,
                                 ValueMatchType type = ValueMatchType::kExact) {
  m.headers.push_back({type, std::move(name), std::move(value)});
  return m;
}
inline HttpRouteMatch withQuery(HttpRouteMatch m, std::string name, std::string value,
                                ValueMatchType type = ValueMatchType::kExact) {
  m.query_params.push_back({type, std::move(name), std::move(value)});
  return m;
}
inline HttpRouteMatch withMethod(HttpRouteMatch m, std::string method) {
  m.method = std::move(method);
  return m;
}

inline HttpRouteRule rule(std::vector<HttpRouteMatch> matches, std::vector<BackendRef> backends,
                          std::vector<RouteFilter> filters = {}) {
  HttpRouteRule r;
  r.matches = std::move(matches);
  r.backend_refs = std::move(backends);
  r.filters = std::move(filters);
  return r;
}

inline HttpRoute httpRoute(std::string name, std::vector<ServiceParentRef> parents,
                           std::vector<HttpRouteRule> rules, int64_t created = 1000,
                           std::string ns = kMeshNs) {
  HttpRoute r;
  r.meta.namespace_ = std::move(ns);
  r.meta.name = std::move(name);
  r.meta.creation_timestamp = created;
  r.meta.parent_refs = std::move(parents);
  r.rules = std::move(rules);
  return r;
}

inline RequestHeaderModifierFilter requestHeaders(std::vector<HeaderValue> set,
                                                  std::vector<HeaderValue> add,
                                                  std::vector<std::string> remove) {
  return RequestHeaderModifierFilter{
      HeaderModifier{std::move(set), std::move(add), std::move(remove)}};
}
inline ResponseHeaderModifierFilter responseSet(std::string name, std::string value) {
  return ResponseHeaderModifierFilter{
      HeaderModifier{{{std::move(name), std::move(value)}}, {}, {}}};
}

inline HttpRequest get(std::string target, std::string host = "echo",
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.method = "GET";
  r.authority = std::move(host);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  for (const auto& [k, v] : headers) r.headers.add(k, v);
  return r;
}

inline HttpRequest grpcCall(std::string service, std::string method, std::string host = "echo:7070",
                            std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.protocol = HttpProtocol::kHttp2;
  r.method = "POST";
  r.authority = std::move(host);
  r.path = "/" + service + "/" + method;
  r.headers.add("content-type", "application/grpc");
  for (const auto& [k, v] : headers) r.headers.add(k, v);
  return r;
}

inline RouteDestination toService(std::string name, uint16_t port, std::string ns = kMeshNs) {
  return RouteDestination{ServiceKey{std::move(ns), std::move(name)}, port};
}

// Hands out the given draws in order (each must be below the bound asked for), then zeros.
class ScriptedRandom final : public RouteRandom {
 public:
  explicit ScriptedRandom(std::deque<uint64_t> draws = {}) : draws_(std::move(draws)) {}
  uint64_t below(uint64_t bound) override {
    uint64_t v = 0;
    if (!draws_.empty()) {
      v = draws_.front();
      draws_.pop_front();
    }
    EXPECT_LT(v, bound) << "scripted draw out of range";
    ++calls_;
    return v % bound;
  }
  int calls() const { return calls_; }

 private:
  std::deque<uint64_t> draws_;
  int calls_ = 0;
};

inline std::shared_ptr<const RouteTable> buildOrDie(const std::vector<HttpRoute>& http,
                                                    const std::vector<GrpcRoute>& grpc = {}) {
  auto built = RouteTable::build(http, grpc);
  for (const auto& d : built.diagnostics) ADD_FAILURE() << d.toString();
  return built.table;
}

// "name:port" of the forwarded backend, or "status N" / "redirect N location".
inline std::string outcome(const RouteDecision& d) {
  if (const auto* f = d.forward()) {
    if (f->backend.kind == BackendTarget::Kind::kOriginalDestination) {
      return "original:" + std::to_string(f->backend.port);
    }
    return f->backend.name + ":" + std::to_string(f->backend.port);
  }
  if (const auto* r = d.redirect())
    return "redirect " + std::to_string(r->status) + " " + r->location;
  return "status " + std::to_string(d.direct()->status);
}

}  // namespace warren::waypoint::testing
