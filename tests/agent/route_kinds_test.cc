// Gateway API decoding: every field of HTTPRoute/GRPCRoute issue 13 lists decodes into the
// model, and each admission rule Gateway API validates (plus RE2 syntax) rejects a route with
// an error naming the field. Gateways: waypoint-for label, listeners, infrastructure.
#include "agent/model/route_kinds.h"

#include <gtest/gtest.h>

#include "agent/model/cluster_model.h"
#include "agent/model/gateway_kinds.h"

namespace warren::agent {
namespace {

using std::chrono::milliseconds;

k8s::Object objectOf(const std::string& yaml) {
  auto objs = k8s::parseManifests(yaml, "r.yaml");
  EXPECT_TRUE(objs) << objs.error().message();
  EXPECT_EQ(objs->size(), 1u);
  return objs->front();
}

std::string httpRoute(const std::string& spec) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, "
         "namespace: shop}\nspec:\n" +
         spec;
}

TEST(RouteKinds, FullHttpRoute) {
  auto r = decodeHttpRoute(objectOf(httpRoute(R"(
  parentRefs: [{group: "", kind: Service, name: api, port: 8080}]
  hostnames: [api.shop]
  rules:
  - name: v2
    matches:
    - path: {type: Exact, value: /v2/items}
      headers: [{name: X-Version, value: "2"}, {type: RegularExpression, name: x-user, value: "a.*"}]
      queryParams: [{name: debug, value: "1"}]
      method: GET
    - path: {type: RegularExpression, value: "/v[0-9]+/.*"}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-a, value: "1"}]
        add: [{name: x-b, value: "2"}]
        remove: [x-c]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-r, value: r}]}
    - type: URLRewrite
      urlRewrite: {hostname: v2.internal, path: {type: ReplaceFullPath, replaceFullPath: /items}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, percent: 10}
    backendRefs:
    - name: api-v2
      port: 8080
      weight: 90
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-be, value: v2}]}}]
    - {name: api-v1, port: 8080, weight: 10}
    timeouts: {request: 10s, backendRequest: 2s}
    retry: {codes: [503, 504], attempts: 3, backoff: 100ms}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.shop, port: 8443, statusCode: 301,
                        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
)")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->key(), "HTTPRoute/shop/r");
  ASSERT_EQ(r->parent_refs.size(), 1u);
  EXPECT_TRUE(r->parent_refs[0].isService());
  EXPECT_EQ(r->parent_refs[0].namespace_, "shop");
  EXPECT_EQ(r->parent_refs[0].port, 8080);
  ASSERT_EQ(r->rules.size(), 2u);
  const RouteRule& v2 = r->rules[0];
  EXPECT_EQ(v2.name, "v2");
  ASSERT_EQ(v2.matches.size(), 2u);
  EXPECT_EQ(v2.matches[0].path, (PathMatch{PathMatchType::kExact, "/v2/items"}));
  ASSERT_EQ(v2.matches[0].headers.size(), 2u);
  EXPECT_EQ(v2.matches[0].headers[0].name, "x-version");  // header names are case-insensitive
  EXPECT_EQ(v2.matches[0].headers[1].type, ValueMatchType::kRegularExpression);
  EXPECT_EQ(v2.matches[0].query_params[0], (ValueMatch{ValueMatchType::kExact, "debug", "1"}));
  EXPECT_EQ(v2.matches[0].method, "GET");
  EXPECT_EQ(v2.matches[1].path.type, PathMatchType::kRegularExpression);
  ASSERT_EQ(v2.filters.size(), 4u);
  EXPECT_EQ(v2.filters[0].header_modifier.set[0], (HttpHeader{"x-a", "1"}));
  EXPECT_EQ(v2.filters[0].header_modifier.remove, std::vector<std::string>{"x-c"});
  EXPECT_EQ(v2.filters[1].type, FilterType::kResponseHeaderModifier);
  EXPECT_EQ(v2.filters[2].rewrite.hostname, "v2.internal");
  EXPECT_EQ(v2.filters[2].rewrite.path->value, "/items");
  EXPECT_EQ(v2.filters[3].mirror.backend.name, "shadow");
  EXPECT_EQ(v2.filters[3].mirror.numerator, 10u);
  ASSERT_EQ(v2.backend_refs.size(), 2u);
  EXPECT_EQ(v2.backend_refs[0].weight, 90u);
  EXPECT_EQ(v2.backend_refs[0].ref.namespace_, "shop");
  EXPECT_EQ(v2.backend_refs[0].filters[0].header_modifier.set[0].value, "v2");
  EXPECT_EQ(v2.request_timeout, milliseconds(10000));
  EXPECT_EQ(v2.backend_request_timeout, milliseconds(2000));
  ASSERT_TRUE(v2.retry);
  EXPECT_EQ(v2.retry->codes, (std::vector<uint32_t>{503, 504}));
  EXPECT_EQ(v2.retry->attempts, 3u);
  EXPECT_EQ(v2.retry->backoff, milliseconds(100));
  const RouteFilter& redirect = r->rules[1].filters[0];
  EXPECT_EQ(redirect.redirect.scheme, "https");
  EXPECT_EQ(redirect.redirect.port, 8443);
  EXPECT_EQ(redirect.redirect.status_code, 301);
  EXPECT_EQ(redirect.redirect.path->type, PathModifierType::kReplacePrefixMatch);
}

TEST(RouteKinds, DefaultsWhenOmitted) {
  auto r = decodeHttpRoute(objectOf(httpRoute(R"(
  parentRefs: [{kind: Service, group: "", name: api}]
  rules: [{backendRefs: [{name: api, port: 80}]}]
)")));
  ASSERT_TRUE(r) << r.error().message();
  // A rule without matches matches everything (PathPrefix "/"); weight defaults to 1.
  ASSERT_EQ(r->rules[0].matches.size(), 1u);
  EXPECT_EQ(r->rules[0].matches[0], RouteMatch{});
  EXPECT_EQ(r->rules[0].backend_refs[0].weight, 1u);
  // A route without rules gets one that matches everything, with no backend (500s).
  auto empty = decodeHttpRoute(
      objectOf(httpRoute("  parentRefs: [{kind: Service, group: \"\", name: api}]\n")));
  ASSERT_TRUE(empty);
  ASSERT_EQ(empty->rules.size(), 1u);
  EXPECT_TRUE(empty->rules[0].backend_refs.empty());
}

TEST(RouteKinds, GrpcMethodMatchesBecomePathMatches) {
  auto r = decodeGrpcRoute(objectOf(R"(apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: echo}]
  rules:
  - matches:
    - method: {service: grpc.Echo, method: Say}
    - method: {service: grpc.Echo}
    - method: {method: Say}
    - method: {type: RegularExpression, service: "grpc\\..*", method: "S.*"}
      headers: [{name: X-Tenant, value: a}]
    backendRefs: [{name: echo-v2, port: 9000}]
)"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->kind, RouteKind::kGrpc);
  EXPECT_EQ(r->key(), "GRPCRoute/shop/g");
  const auto& m = r->rules[0].matches;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].path, (PathMatch{PathMatchType::kExact, "/grpc.Echo/Say"}));
  EXPECT_EQ(m[1].path, (PathMatch{PathMatchType::kPathPrefix, "/grpc.Echo"}));
  EXPECT_EQ(m[2].path, (PathMatch{PathMatchType::kRegularExpression, "/[^/]+/Say"}));
  EXPECT_EQ(m[3].path, (PathMatch{PathMatchType::kRegularExpression, "/(grpc\\..*)/(S.*)"}));
  EXPECT_EQ(m[3].headers[0].name, "x-tenant");
}

struct BadCase {
  std::string spec;
  std::string field;  // the path the error must name
  std::string what;   // and a piece of its message
};

TEST(RouteKinds, AdmissionRulesNameTheField) {
  const std::string parent = "  parentRefs: [{kind: Service, group: \"\", name: api}]\n";
  const BadCase cases[] = {
      {"  rules: [{matches: [{path: {type: Exact, value: no-slash}}]}]",
       "spec.rules[0].matches[0].path.value", "must be an absolute path"},
      {"  rules: [{matches: [{path: {type: PathPrefix, value: /a//b}}]}]",
       "spec.rules[0].matches[0].path.value", "must not contain '//'"},
      {"  rules: [{matches: [{path: {value: /a/../b}}]}]", "path.value", "'/../'"},
      {"  rules: [{matches: [{path: {value: /a%2Fb}}]}]", "path.value", "'%2F'"},
      {"  rules: [{matches: [{path: {value: /a/.}}]}]", "path.value", "must not end with"},
      {"  rules: [{matches: [{path: {value: \"/a b\"}}]}]", "path.value", "may only contain"},
      {"  rules: [{matches: [{path: {type: Glob, value: /a}}]}]", "path.type", "'Glob'"},
      {"  rules: [{matches: [{path: {type: RegularExpression, value: \"/(unclosed\"}}]}]",
       "spec.rules[0].matches[0].path.value", "invalid regular expression: missing )"},
      {"  rules: [{matches: [{headers: [{name: \"bad header\", value: x}]}]}]",
       "matches[0].headers[0].name", "not a valid name"},
      {"  rules: [{matches: [{headers: [{type: RegularExpression, name: x, value: \"[\"}]}]}]",
       "matches[0].headers[0].value", "invalid regular expression"},
      {"  rules: [{matches: [{queryParams: [{name: q, value: \"\"}]}]}]",
       "matches[0].queryParams[0].value", "missing"},
      {"  rules: [{matches: [{method: FETCH}]}]", "matches[0].method", "'FETCH'"},
      {"  rules: [{backendRefs: [{name: a, port: 80, weight: 1000001}]}]", "backendRefs[0].weight",
       "out of range [0, 1000000]"},
      {"  rules: [{backendRefs: [{name: a, port: 80, weight: -1}]}]", "backendRefs[0].weight",
       "out of range"},
      {"  rules: [{backendRefs: [{name: a}]}]", "backendRefs[0].port",
       "a Service backend needs a port"},
      {"  rules: [{backendRefs: [{name: a, port: 70000}]}]", "backendRefs[0].port", "out of range"},
      {"  rules: [{filters: [{type: RequestHeaderModifier}]}]", "filters[0].requestHeaderModifier",
       "missing"},
      {"  rules: [{filters: [{type: RequestHeaderModifier, urlRewrite: {hostname: a}}]}]",
       "filters[0].urlRewrite", "must be unset when type is RequestHeaderModifier"},
      {"  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: g, kind: k, name: n}}]}]",
       "filters[0].type", "not supported by warren-waypoint"},
      {"  rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]}]",
       "requestRedirect.statusCode", "not one of 301, 302, 303, 307, 308"},
      {"  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: ftp}}]}]",
       "requestRedirect.scheme", "not http or https"},
      {"  rules: [{filters: [{type: RequestRedirect, requestRedirect: {}}], backendRefs: [{name: "
       "a, port: 1}]}]",
       "spec.rules[0].filters", "cannot be combined with backendRefs"},
      {"  rules: [{filters: [{type: RequestRedirect, requestRedirect: {}}, {type: URLRewrite, "
       "urlRewrite: {}}]}]",
       "spec.rules[0].filters", "cannot be combined"},
      {"  rules: [{filters: [{type: URLRewrite, urlRewrite: {}}, {type: URLRewrite, urlRewrite: "
       "{}}]}]",
       "filters[1].type", "only once"},
      {"  rules: [{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, "
       "urlRewrite: "
       "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]",
       "spec.rules[0].filters", "exactly one PathPrefix match"},
      {"  rules: [{filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath}}}]}]",
       "urlRewrite.path.replaceFullPath", "missing"},
      {"  rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, "
       "value: "
       "\"1\"}, {name: A, value: \"2\"}]}}]}]",
       "requestHeaderModifier.set[1].name", "appears twice"},
      {"  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 1}, "
       "percent: 101}}]}]",
       "requestMirror.percent", "out of range"},
      {"  rules: [{timeouts: {request: 10 seconds}}]", "spec.rules[0].timeouts.request",
       "not a Gateway API duration"},
      {"  rules: [{timeouts: {request: 1s, backendRequest: 2s}}]",
       "spec.rules[0].timeouts.backendRequest", "longer than timeouts.request"},
      {"  rules: [{retry: {codes: [200]}}]", "spec.rules[0].retry.codes[0]", "400..599"},
      {"  rules: [{name: Bad_Name}]", "spec.rules[0].name", "not a valid rule name"},
      {"  rules: [{name: a}, {name: a}]", "spec.rules[1].name", "names another rule too"},
      {"  hostnames: [\"bad host\"]", "spec.hostnames[0]", "not a valid hostname"},
  };
  for (const auto& c : cases) {
    auto r = decodeHttpRoute(objectOf(httpRoute(parent + c.spec + "\n")));
    ASSERT_FALSE(r) << "accepted: " << c.spec;
    const std::string msg = r.error().message();
    EXPECT_NE(msg.find("HTTPRoute shop/r"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.field), std::string::npos) << "field " << c.field << " in " << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << "'" << c.what << "' in " << msg;
  }
  // Duplicate parentRefs and a parentRef without a name.
  auto dup =
      decodeHttpRoute(objectOf(httpRoute("  parentRefs: [{kind: Service, group: \"\", name: a}, "
                                         "{kind: Service, group: \"\", name: a}]\n")));
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("spec.parentRefs[1]: repeats"), std::string::npos)
      << dup.error().message();
}

TEST(RouteKinds, GrpcAdmissionRules) {
  auto grpc = [](const std::string& rules) {
    return decodeGrpcRoute(
        objectOf("apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\n"
                 "metadata: {name: g, namespace: shop}\nspec:\n  rules: " +
                 rules + "\n"));
  };
  const std::pair<std::string, std::string> cases[] = {
      {"[{matches: [{method: {}}]}]", "one or both of 'service' or 'method' must be set"},
      {"[{matches: [{method: {service: \"bad/service\"}}]}]", "not a valid gRPC service name"},
      {"[{matches: [{method: {method: \"1x\"}}]}]", "not a valid gRPC method name"},
      {"[{matches: [{method: {type: RegularExpression, method: \"(\"}}]}]",
       "spec.rules[0].matches[0].method.method: invalid regular expression"},
      {"[{filters: [{type: URLRewrite, urlRewrite: {}}]}]", "not a GRPCRoute filter"},
  };
  for (const auto& [rules, what] : cases) {
    auto r = grpc(rules);
    ASSERT_FALSE(r) << rules;
    EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
  }
}

TEST(RouteKinds, GatewayDurations) {
  EXPECT_EQ(*parseGatewayDuration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parseGatewayDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*parseGatewayDuration("0s"), milliseconds(0));
  EXPECT_EQ(*parseGatewayDuration("1h1m1s1ms"), milliseconds(3'661'001));
  for (const char* bad : {"", "1", "1d", "123456s", "1h1m1s1ms1h", "1.5s", "-1s", "1 s"})
    EXPECT_FALSE(parseGatewayDuration(bad)) << bad;
}

TEST(GatewayKinds, WaypointForAndListeners) {
  auto g = decodeGateway(objectOf(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, labels: {warren.dev/waypoint-for: all}}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
  infrastructure: {labels: {team: a}, annotations: {note: b}}
)"));
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_TRUE(g->isWaypoint());
  EXPECT_EQ(g->waypoint_for, WaypointFor::kAll);
  EXPECT_TRUE(g->acceptsServiceTraffic());
  EXPECT_TRUE(g->acceptsWorkloadTraffic());
  EXPECT_EQ(g->listeners[0].protocol, "HBONE");
  EXPECT_EQ(g->infrastructure_labels.at("team"), "a");

  auto istio = decodeGateway(objectOf(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: w, namespace: shop, labels: {istio.io/waypoint-for: workload}}
spec: {gatewayClassName: warren-waypoint}
)"));
  ASSERT_TRUE(istio);
  EXPECT_EQ(istio->waypoint_for, WaypointFor::kWorkload);
  EXPECT_FALSE(istio->acceptsServiceTraffic());

  auto bad = decodeGateway(objectOf(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: w, namespace: shop, labels: {warren.dev/waypoint-for: everything}}
spec: {gatewayClassName: warren-waypoint}
)"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("metadata.labels[warren.dev/waypoint-for]: 'everything'"),
            std::string::npos)
      << bad.error().message();

  auto dup = decodeGateway(objectOf(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: w, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: a, port: 1, protocol: TCP}, {name: a, port: 2, protocol: TCP}]
)"));
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("spec.listeners[1].name"), std::string::npos);
}

// A bad new version of a route: the model keeps the last good one in force and records the
// rejected one (with its error) for the controller's status.
TEST(RouteKinds, ModelKeepsLastGoodAndRecordsRejected) {
  ClusterModel model;
  ConfigUpdate first;
  first.upserts.push_back(objectOf(httpRoute(R"(
  parentRefs: [{kind: Service, group: "", name: api}]
  rules: [{matches: [{path: {type: RegularExpression, value: "/ok.*"}}]}]
)")));
  EXPECT_EQ(model.apply(std::move(first)), 0u);
  ConfigUpdate second;
  second.upserts.push_back(objectOf(httpRoute(R"(
  parentRefs: [{kind: Service, group: "", name: api}]
  rules: [{matches: [{path: {type: RegularExpression, value: "/bad(.*"}}]}]
)")));
  EXPECT_EQ(model.apply(std::move(second)), 1u);
  auto snap = model.snapshot();
  ASSERT_TRUE(snap->http_routes.contains("shop/r"));
  EXPECT_EQ(snap->http_routes.at("shop/r").rules[0].matches[0].path.value, "/ok.*");
  ASSERT_TRUE(snap->rejected.contains("HTTPRoute/shop/r"));
  EXPECT_NE(snap->rejected.at("HTTPRoute/shop/r").error.find("invalid regular expression"),
            std::string::npos);
  // Fixed: the rejection is gone. Deleted: gone too.
  ConfigUpdate third;
  third.upserts.push_back(objectOf(httpRoute(R"(
  parentRefs: [{kind: Service, group: "", name: api}]
)")));
  EXPECT_EQ(model.apply(std::move(third)), 0u);
  EXPECT_FALSE(model.snapshot()->rejected.contains("HTTPRoute/shop/r"));
  ConfigUpdate bad_again;
  bad_again.upserts.push_back(objectOf(httpRoute("  rules: [{matches: [{method: NOPE}]}]\n")));
  model.apply(std::move(bad_again));
  ASSERT_TRUE(model.snapshot()->rejected.contains("HTTPRoute/shop/r"));
  ConfigUpdate del;
  del.deletes.push_back("HTTPRoute/shop/r");
  model.apply(std::move(del));
  EXPECT_FALSE(model.snapshot()->rejected.contains("HTTPRoute/shop/r"));
  EXPECT_FALSE(model.snapshot()->http_routes.contains("shop/r"));
}

}  // namespace
}  // namespace warren::agent
