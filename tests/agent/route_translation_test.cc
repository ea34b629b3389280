// HTTPRoute/GRPCRoute -> warren.l7.v1.ServiceRoutes: Gateway API precedence across routes,
// per-port attachment and protocols, backends (weights, invalid ones kept for their 500s),
// filters, timeouts and retries; and the status each route gets per parent.
#include "agent/translate/route_translation.h"

#include <gtest/gtest.h>

#include "agent/model/cluster_model.h"
#include "agent/translate/xds_resources.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent {
namespace {

namespace l7 = warren::l7::v1;

using testing::snapshotOf;

const char* kMesh = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient, warren.dev/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: shop}
spec:
  clusterIP: 10.96.0.99
  selector: {gateway.networking.k8s.io/gateway-name: waypoint}
  ports: [{name: mesh, port: 15008}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080, appProtocol: http}
  - {name: grpc-api, port: 9000}
  - {name: db, port: 5432, appProtocol: tcp}
  - {name: h2, port: 8081, appProtocol: kubernetes.io/h2c}
---
apiVersion: v1
kind: Service
metadata: {name: api-v2, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  selector: {app: api, version: v2}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: plain}
spec:
  clusterIP: 10.96.0.20
  selector: {app: plain}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: opted-out, namespace: shop, labels: {warren.dev/use-waypoint: none}}
spec:
  clusterIP: 10.96.0.21
  selector: {app: x}
  ports: [{port: 80}]
)";

const char* kRoutes = R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: old, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /a}}, {path: {type: PathPrefix, value: /a}, headers: [{name: x, value: "1"}]}]
    backendRefs: [{name: api, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: new, namespace: shop, creationTimestamp: "2026-02-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: api, sectionName: http}]
  rules:
  - name: exact
    matches: [{path: {type: Exact, value: /a}}]
    backendRefs: [{name: api-v2, port: 80, weight: 3}, {name: missing, port: 80, weight: 1}]
    timeouts: {request: 5s}
    retry: {codes: [503], attempts: 2, backoff: 50ms}
  - name: regex
    matches: [{path: {type: RegularExpression, value: "/a/[0-9]+"}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 308, path: {type: ReplaceFullPath, replaceFullPath: /z}}}]
  - name: longer
    matches: [{path: {type: PathPrefix, value: /a/b}, method: POST}, {path: {type: PathPrefix, value: /a}, queryParams: [{name: q, value: "1"}]}]
    backendRefs:
    - name: api-v2
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-v, value: "2"}]}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 9000}]
  rules: [{matches: [{method: {service: pkg.Svc, method: Get}}], backendRefs: [{name: api, port: 9000}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: shop}
spec:
  parentRefs:
  - {group: "", kind: Service, name: nope}
  - {group: "", kind: Service, name: api, port: 81}
  - {group: "", kind: Service, name: opted-out}
  - {name: waypoint}
  - {name: some-ingress}
  - {group: "", kind: Service, name: api, port: 80}
  rules:
  - matches: [{path: {value: /cross}}]
    backendRefs: [{name: plain, namespace: plain, port: 80}, {kind: ServiceImport, group: multicluster.x-k8s.io, name: x, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api}]
  rules: [{matches: [{path: {type: RegularExpression, value: "/(x"}}]}]
)";

// "<route name>#<rule>: <TYPE> <value>[ m=METHOD][ h=N][ q=N]" per match, in order.
std::vector<std::string> matchOrder(const l7::PortRoutes& port) {
  std::vector<std::string> out;
  for (const auto& m : port.matches()) {
    const l7::RouteRule& rule = port.rules(static_cast<int>(m.rule()));
    std::string route = rule.route().substr(rule.route().rfind('/') + 1);
    std::string s = route + "#" + std::to_string(rule.index()) + ": " +
                    l7::PathMatch::Type_Name(m.path().type()) + " " + m.path().value();
    if (!m.method().empty()) s += " m=" + m.method();
    if (m.headers_size()) s += " h=" + std::to_string(m.headers_size());
    if (m.query_params_size()) s += " q=" + std::to_string(m.query_params_size());
    out.push_back(s);
  }
  return out;
}

const l7::PortRoutes& port(const l7::ServiceRoutes& sr, uint32_t p) {
  for (const auto& pr : sr.ports())
    if (pr.port() == p) return pr;
  static l7::PortRoutes none;
  ADD_FAILURE() << "no port " << p;
  return none;
}

TEST(RouteTranslation, PrecedenceAcrossRoutes) {
  auto snap = snapshotOf(std::string(kMesh) + kRoutes, 1);
  RouteTranslation t = translateRoutes(*snap, TranslationContext{});
  ASSERT_TRUE(t.services.contains("shop/api.shop.svc.cluster.local"));
  const l7::ServiceRoutes& api = t.services.at("shop/api.shop.svc.cluster.local");
  EXPECT_EQ(api.waypoint(), "shop/waypoint");
  EXPECT_EQ(api.addresses(0), std::string("\x0a\x60\x00\x0a", 4));
  // Exact first; then PathPrefix by length (a method beats none, then headers, then queries);
  // the older route wins the remaining tie; RegularExpression last.
  EXPECT_EQ(matchOrder(port(api, 80)), (std::vector<std::string>{
                                           "new#0: EXACT /a",
                                           "elsewhere#0: PATH_PREFIX /cross",
                                           "new#2: PATH_PREFIX /a/b m=POST",
                                           "old#0: PATH_PREFIX /a h=1",
                                           "new#2: PATH_PREFIX /a q=1",
                                           "old#0: PATH_PREFIX /a",
                                           "new#1: REGULAR_EXPRESSION /a/[0-9]+",
                                       }));
  EXPECT_TRUE(port(api, 80).routes_attached());
  // Protocols from appProtocol, else the port name's prefix.
  EXPECT_EQ(port(api, 80).protocol(), l7::HTTP1);
  EXPECT_EQ(port(api, 9000).protocol(), l7::GRPC);
  EXPECT_EQ(port(api, 5432).protocol(), l7::TCP);
  EXPECT_EQ(port(api, 8081).protocol(), l7::HTTP2);
  // The GRPCRoute attaches to 9000 only; 5432 and 8081 have no routes (forward to the Service).
  EXPECT_EQ(matchOrder(port(api, 9000)), std::vector<std::string>{"rpc#0: EXACT /pkg.Svc/Get"});
  EXPECT_FALSE(port(api, 5432).routes_attached());
  EXPECT_EQ(port(api, 5432).matches_size(), 0);
  // Services bound to no waypoint, or opted out, get no routes at all.
  EXPECT_FALSE(t.services.contains("plain/plain.plain.svc.cluster.local"));
  EXPECT_FALSE(t.services.contains("shop/opted-out.shop.svc.cluster.local"));
  // api-v2 is bound (namespace label) but nothing attaches to it.
  ASSERT_TRUE(t.services.contains("shop/api-v2.shop.svc.cluster.local"));
  EXPECT_FALSE(port(t.services.at("shop/api-v2.shop.svc.cluster.local"), 80).routes_attached());
}

TEST(RouteTranslation, RulesCarryBackendsFiltersTimeoutsRetry) {
  auto snap = snapshotOf(std::string(kMesh) + kRoutes, 1);
  RouteTranslation t = translateRoutes(*snap, TranslationContext{});
  const l7::PortRoutes& p = port(t.services.at("shop/api.shop.svc.cluster.local"), 80);
  const l7::RouteRule* exact = nullptr;
  const l7::RouteRule* regex = nullptr;
  const l7::RouteRule* longer = nullptr;
  const l7::RouteRule* cross = nullptr;
  for (const auto& r : p.rules()) {
    if (r.name() == "exact") exact = &r;
    if (r.name() == "regex") regex = &r;
    if (r.name() == "longer") longer = &r;
    if (r.route() == "HTTPRoute/shop/elsewhere") cross = &r;
  }
  ASSERT_TRUE(exact && regex && longer && cross);
  EXPECT_EQ(exact->route(), "HTTPRoute/shop/new");
  ASSERT_EQ(exact->backends_size(), 2);
  EXPECT_EQ(exact->backends(0).service(), "shop/api-v2.shop.svc.cluster.local");
  EXPECT_EQ(exact->backends(0).port(), 80u);
  EXPECT_EQ(exact->backends(0).weight(), 3u);
  EXPECT_EQ(exact->backends(0).invalid(), "");
  EXPECT_EQ(exact->backends(1).invalid(), "BackendNotFound");  // its quarter gets 500
  EXPECT_EQ(exact->request_timeout().seconds(), 5);
  EXPECT_FALSE(exact->has_backend_request_timeout());
  EXPECT_EQ(exact->retry().codes(0), 503u);
  EXPECT_EQ(exact->retry().attempts().value(), 2u);
  EXPECT_EQ(exact->retry().backoff().nanos(), 50'000'000);
  ASSERT_EQ(regex->filters_size(), 1);
  EXPECT_EQ(regex->filters(0).request_redirect().status_code(), 308u);
  EXPECT_EQ(regex->filters(0).request_redirect().path().value(), "/z");
  EXPECT_EQ(regex->backends_size(), 0);
  EXPECT_EQ(longer->backends(0).filters(0).request_header_modifier().add(0).name(), "x-v");
  EXPECT_EQ(cross->backends(0).invalid(), "RefNotPermitted");
  EXPECT_EQ(cross->backends(1).invalid(), "InvalidKind");
}

std::string conditionsText(const RouteParentStatus& p) {
  std::string s = p.parent.describe() + ":";
  for (const auto& c : p.conditions)
    s += " " + c.type + "=" + (c.status ? "True" : "False") + "/" + c.reason;
  return s;
}

TEST(RouteTranslation, StatusPerParent) {
  auto snap = snapshotOf(std::string(kMesh) + kRoutes, 1);
  RouteTranslation t = translateRoutes(*snap, TranslationContext{});
  const RouteStatus& old = t.statuses.at("HTTPRoute/shop/old");
  ASSERT_EQ(old.parents.size(), 1u);
  EXPECT_EQ(conditionsText(old.parents[0]),
            "Service shop/api:80: Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs");
  const RouteStatus& fresh = t.statuses.at("HTTPRoute/shop/new");
  EXPECT_EQ(conditionsText(fresh.parents[0]),
            "Service shop/api (http): Accepted=True/Accepted ResolvedRefs=False/BackendNotFound");
  EXPECT_NE(fresh.parents[0].conditions[1].message.find("Service shop/missing not found"),
            std::string::npos);
  // One status per parent Warren answers for; some-ingress (another Gateway) gets none.
  const RouteStatus& e = t.statuses.at("HTTPRoute/shop/elsewhere");
  std::vector<std::string> got;
  for (const auto& p : e.parents) got.push_back(conditionsText(p));
  EXPECT_EQ(
      got,
      (std::vector<std::string>{
          "Service shop/nope: Accepted=False/NoMatchingParent ResolvedRefs=False/RefNotPermitted",
          "Service shop/api:81: Accepted=False/NoMatchingParent ResolvedRefs=False/RefNotPermitted",
          "Service shop/opted-out: Accepted=False/NoMatchingParent "
          "ResolvedRefs=False/RefNotPermitted",
          "Gateway shop/waypoint: Accepted=False/UnsupportedValue "
          "ResolvedRefs=False/RefNotPermitted",
          "Service shop/api:80: Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted",
      }));
  EXPECT_NE(e.parents[2].conditions[0].message.find("not bound to a waypoint"), std::string::npos);
  EXPECT_EQ(t.statuses.at("GRPCRoute/shop/rpc").kind, RouteKind::kGrpc);
  // The route that never decoded: Accepted=False with the decoder's message, naming the field.
  const RouteStatus& broken = t.statuses.at("HTTPRoute/shop/broken");
  ASSERT_EQ(broken.parents.size(), 1u);
  EXPECT_EQ(conditionsText(broken.parents[0]), "Service shop/api: Accepted=False/UnsupportedValue");
  EXPECT_NE(broken.parents[0].conditions[0].message.find(
                "spec.rules[0].matches[0].path.value: invalid regular expression"),
            std::string::npos)
      << broken.parents[0].conditions[0].message;
}

// The xDS build carries ServiceRoutes scoped to their waypoint.
TEST(RouteTranslation, XdsResourcesAreScopedToTheirWaypoint) {
  auto snap = snapshotOf(std::string(kMesh) + kRoutes, 1);
  XdsBuild b = buildXdsResources(*snap, TranslationContext{});
  const auto& routes = b.resources.at(kServiceRoutesTypeUrl);
  ASSERT_TRUE(routes.contains("shop/api.shop.svc.cluster.local"));
  const XdsResource& r = routes.at("shop/api.shop.svc.cluster.local");
  EXPECT_EQ(r.scope, "shop/waypoint");
  l7::ServiceRoutes sr;
  ASSERT_TRUE(r.body->UnpackTo(&sr));
  EXPECT_EQ(sr.hostname(), "api.shop.svc.cluster.local");
  // Address and Authorization resources stay unscoped.
  for (const auto& [name, res] : b.resources.at(kAddressTypeUrl)) EXPECT_EQ(res.scope, "") << name;
}

}  // namespace
}  // namespace warren::agent
