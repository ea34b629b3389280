// AuthorizationPolicy / RequestAuthentication bound to waypoints -> warren.l7.v1.WaypointPolicy:
// which waypoint gets which policy for which target (Gateway, GatewayClass from the root
// namespace, a Service's waypoint), targetRefs that bind nothing reported, serviceAccounts as
// principals, JWT rules copied; and L7 fields in a policy ztunnel enforces reported as errors
// while the DENY still fails closed at L4.
#include "agent/translate/waypoint_policy_translation.h"

#include <gtest/gtest.h>

#include "agent/translate/authorization_translation.h"
#include "agent/translate/xds_resources.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent {
namespace {

namespace l7 = warren::l7::v1;
using testing::snapshotOf;

const std::string kMesh = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, labels: {warren.dev/use-waypoint: waypoint}}
spec:
  clusterIP: 10.96.0.10
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: lonely, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  selector: {app: lonely}
  ports: [{name: http, port: 80}]
)";

const l7::WaypointPolicy* find(const WaypointPolicyTranslation& t, const std::string& name) {
  auto it = t.resources.find(name);
  return it == t.resources.end() ? nullptr : &it->second;
}

TEST(WaypointPolicyTranslation, GatewayTargetBindsThatWaypointForEverything) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - from: [{source: {serviceAccounts: [client, other/robot], notNamespaces: [ops]}}]
    to: [{operation: {paths: ["/admin*"], methods: [GET], hosts: ["api.shop:80"]}}]
    when: [{key: "request.headers[x-user]", values: [eve]}]
)");
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  ASSERT_EQ(t.resources.size(), 1u);
  const auto* r = find(t, "shop/waypoint/AuthorizationPolicy/shop/deny-admin");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->waypoint(), "shop/waypoint");
  const auto& p = r->authorization();
  EXPECT_EQ(p.action(), l7::AuthorizationPolicy::DENY);
  EXPECT_TRUE(p.dry_run());
  ASSERT_EQ(p.targets_size(), 1);
  EXPECT_EQ(p.targets(0).kind(), l7::PolicyTarget::WAYPOINT);
  ASSERT_EQ(p.rules_size(), 1);
  const auto& src = p.rules(0).from(0);
  ASSERT_EQ(src.principals_size(), 2);
  EXPECT_EQ(src.principals(0), "cluster.local/ns/shop/sa/client");
  EXPECT_EQ(src.principals(1), "cluster.local/ns/other/sa/robot");
  EXPECT_EQ(src.not_namespaces(0), "ops");
  EXPECT_EQ(p.rules(0).to(0).paths(0), "/admin*");
  EXPECT_EQ(p.rules(0).to(0).hosts(0), "api.shop:80");
  EXPECT_EQ(p.rules(0).when(0).key(), "request.headers[x-user]");
  EXPECT_TRUE(t.bindings["AuthorizationPolicy/shop/deny-admin"].errors.empty());
  // Not ztunnel's: a targetRef policy is never sent to node proxies.
  auto z = translateAuthorizationPolicy(snap->authorization_policies.at("shop/deny-admin"),
                                        "warren-system");
  EXPECT_FALSE(z.policy);
}

TEST(WaypointPolicyTranslation, ServiceTargetBindsItsWaypointForThatServiceOnly) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-get, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}, {kind: Service, group: "", name: lonely},
               {kind: Service, group: "", name: missing}, {kind: Deployment, group: apps, name: x}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)");
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  ASSERT_EQ(t.resources.size(), 1u);
  const auto* r = find(t, "shop/waypoint/AuthorizationPolicy/shop/api-get");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->authorization().targets_size(), 1);
  EXPECT_EQ(r->authorization().targets(0).kind(), l7::PolicyTarget::SERVICE);
  EXPECT_EQ(r->authorization().targets(0).namespace_(), "shop");
  EXPECT_EQ(r->authorization().targets(0).name(), "api");
  const auto& b = t.bindings["AuthorizationPolicy/shop/api-get"];
  EXPECT_EQ(b.waypoints, std::vector<std::string>{"shop/waypoint"});
  ASSERT_EQ(b.errors.size(), 3u);
  EXPECT_NE(b.errors[0].find("targetRefs[1] Service shop/lonely: the Service has no waypoint"),
            std::string::npos)
      << b.errors[0];
  EXPECT_NE(b.errors[1].find("targetRefs[2] Service shop/missing: no such Service"),
            std::string::npos);
  EXPECT_NE(b.errors[2].find("unsupported target kind"), std::string::npos);
}

TEST(WaypointPolicyTranslation, GatewayClassFromTheRootNamespaceBindsEveryWaypoint) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-audit, namespace: warren-system}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: warren-waypoint}]
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/login"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: not-root, namespace: shop}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: warren-waypoint}]
  action: CUSTOM
  provider: {name: ext}
  rules: [{}]
)");
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  ASSERT_NE(find(t, "shop/waypoint/AuthorizationPolicy/warren-system/mesh-audit"), nullptr);
  ASSERT_NE(find(t, "shop/other/AuthorizationPolicy/warren-system/mesh-audit"), nullptr);
  EXPECT_EQ(find(t, "shop/waypoint/AuthorizationPolicy/warren-system/mesh-audit")
                ->authorization()
                .action(),
            l7::AuthorizationPolicy::AUDIT);
  EXPECT_EQ(t.resources.size(), 2u);
  const auto& b = t.bindings["AuthorizationPolicy/shop/not-root"];
  EXPECT_TRUE(b.waypoints.empty());
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_NE(b.errors[0].find("from the root namespace warren-system"), std::string::npos);
}

TEST(WaypointPolicyTranslation, RequestAuthenticationRulesAreCopied) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}]
  jwtRules:
  - issuer: https://issuer.example
    audiences: [api]
    jwksUri: http://keys.shop.svc.cluster.local:8080/jwks.json
    fromHeaders: [{name: x-token, prefix: "Bearer "}]
    fromParams: [tok]
    forwardOriginalToken: true
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: no-target, namespace: shop}
spec:
  jwtRules: [{issuer: a, jwks: "{}"}]
)");
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  const auto* r = find(t, "shop/waypoint/RequestAuthentication/shop/jwt");
  ASSERT_NE(r, nullptr);
  const auto& ra = r->authentication();
  ASSERT_EQ(ra.jwt_rules_size(), 1);
  const auto& j = ra.jwt_rules(0);
  EXPECT_EQ(j.issuer(), "https://issuer.example");
  EXPECT_EQ(j.audiences(0), "api");
  EXPECT_EQ(j.jwks_uri(), "http://keys.shop.svc.cluster.local:8080/jwks.json");
  EXPECT_EQ(j.from_headers(0).name(), "x-token");
  EXPECT_EQ(j.from_headers(0).prefix(), "Bearer ");
  EXPECT_EQ(j.from_params(0), "tok");
  EXPECT_TRUE(j.forward_original_token());
  EXPECT_EQ(j.output_claim_to_headers(0).header(), "x-sub");
  EXPECT_EQ(j.output_claim_to_headers(0).claim(), "sub");
  EXPECT_EQ(ra.targets(0).name(), "api");
  const auto& b = t.bindings["RequestAuthentication/shop/no-target"];
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_NE(b.errors[0].find("enforced by waypoints only"), std::string::npos);
}

TEST(WaypointPolicyTranslation, BadJwtRuleIsRejectedNamingTheField) {
  snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: both, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}]
  jwtRules: [{issuer: a, jwks: "{}", jwksUri: "http://x/"}]
)",
             1);
}

TEST(WaypointPolicyTranslation, L7FieldsOnAZtunnelPolicyAreErrorsAndDenyFailsClosed) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-path, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {namespaces: [evil]}}], to: [{operation: {paths: ["/admin"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: custom, namespace: shop}
spec:
  action: CUSTOM
  provider: {name: opa}
  rules: [{}]
)");
  auto deny = translateAuthorizationPolicy(snap->authorization_policies.at("shop/deny-path"),
                                           "warren-system");
  ASSERT_TRUE(deny.policy);
  ASSERT_EQ(deny.policy->groups_size(), 1);  // kept: its L4 part (namespace evil) denies
  ASSERT_EQ(deny.errors.size(), 1u);
  EXPECT_NE(deny.errors[0].find("rules[0] uses L7 attributes (paths)"), std::string::npos);
  EXPECT_NE(deny.errors[0].find("fails closed"), std::string::npos);
  auto allow = translateAuthorizationPolicy(snap->authorization_policies.at("shop/allow-get"),
                                            "warren-system");
  ASSERT_TRUE(allow.policy);
  EXPECT_EQ(allow.policy->groups_size(), 0);  // allows nothing
  ASSERT_EQ(allow.errors.size(), 1u);
  EXPECT_NE(allow.errors[0].find("ALLOW rule dropped"), std::string::npos);
  auto custom =
      translateAuthorizationPolicy(snap->authorization_policies.at("shop/custom"), "warren-system");
  EXPECT_FALSE(custom.policy);
  ASSERT_EQ(custom.errors.size(), 1u);
  EXPECT_NE(custom.errors[0].find("CUSTOM (ext_authz provider 'opa') is not supported"),
            std::string::npos);
  // The xDS build carries them for the log.
  auto build = buildXdsResources(*snap, TranslationContext{});
  EXPECT_EQ(build.errors.size(), 3u);
}

// `targetRefs: []` is an unset list (as in Istio's proto): the policy is namespace-wide and node
// proxies enforce it, instead of binding nowhere.
TEST(WaypointPolicyTranslation, EmptyTargetRefsListIsNamespaceWide) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-evil, namespace: shop}
spec:
  targetRefs: []
  action: DENY
  rules: [{from: [{source: {namespaces: [evil]}}]}]
)");
  const auto& ap = snap->authorization_policies.at("shop/deny-evil");
  EXPECT_FALSE(ap.boundByTargetRefs());
  auto t = translateAuthorizationPolicy(ap, "warren-system");
  ASSERT_TRUE(t.policy);
  EXPECT_EQ(t.policy->action(), istio::security::DENY);
  EXPECT_EQ(t.policy->groups_size(), 1);
  EXPECT_TRUE(t.errors.empty());
  auto build = buildXdsResources(*snap, TranslationContext{});
  auto res = build.resources.find(kWaypointPolicyTypeUrl);
  EXPECT_TRUE(res == build.resources.end() || res->second.empty());
}

TEST(WaypointPolicyTranslation, ResourcesAreScopedToTheirWaypoint) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: other}]
  rules: [{}]
)");
  auto build = buildXdsResources(*snap, TranslationContext{});
  const auto& res = build.resources.at(kWaypointPolicyTypeUrl);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res.begin()->first, "shop/other/AuthorizationPolicy/shop/p");
  EXPECT_EQ(res.begin()->second.scope, "shop/other");
}

// warren.dev/v1alpha1 TrafficPolicy: Istio's field names for fault, Envoy's token bucket for
// the rate limit; bound like the other waypoint policies.
TEST(WaypointPolicyTranslation, TrafficPolicyToTheServicesWaypoint) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: warren.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: api-traffic, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}]
  localRateLimit: {maxTokens: 5, tokensPerFill: 2, fillInterval: 1500ms, bucketPer: SourcePrincipal}
  fault:
    delay: {fixedDelay: 2s, percentage: {value: 12.5}}
    abort: {httpStatus: 418}
---
apiVersion: warren.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: wide, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  localRateLimit: {maxTokens: 100, fillInterval: 1s}
---
apiVersion: warren.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: untargeted, namespace: shop}
spec:
  localRateLimit: {maxTokens: 1, fillInterval: 1s}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: not-ours, namespace: shop}
spec: {anything: [1, 2]}
)");
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  const auto* r = find(t, "shop/waypoint/TrafficPolicy/shop/api-traffic");
  ASSERT_NE(r, nullptr);
  const auto& p = r->traffic();
  EXPECT_EQ(p.namespace_(), "shop");
  EXPECT_EQ(p.name(), "api-traffic");
  ASSERT_EQ(p.targets_size(), 1);
  EXPECT_EQ(p.targets(0).kind(), l7::PolicyTarget::SERVICE);
  EXPECT_EQ(p.targets(0).name(), "api");
  EXPECT_EQ(p.local_rate_limit().max_tokens(), 5u);
  EXPECT_EQ(p.local_rate_limit().tokens_per_fill(), 2u);
  EXPECT_EQ(p.local_rate_limit().fill_interval().seconds(), 1);
  EXPECT_EQ(p.local_rate_limit().fill_interval().nanos(), 500000000);
  EXPECT_EQ(p.local_rate_limit().bucket_per(), l7::LocalRateLimit::SOURCE_PRINCIPAL);
  EXPECT_EQ(p.fault().delay().fixed_delay().seconds(), 2);
  EXPECT_DOUBLE_EQ(p.fault().delay().percentage(), 12.5);
  EXPECT_EQ(p.fault().abort().http_status(), 418u);
  EXPECT_DOUBLE_EQ(p.fault().abort().percentage(), 100) << "Istio: unset = every request";
  const auto* wide = find(t, "shop/waypoint/TrafficPolicy/shop/wide");
  ASSERT_NE(wide, nullptr);
  EXPECT_EQ(wide->traffic().targets(0).kind(), l7::PolicyTarget::WAYPOINT);
  EXPECT_EQ(wide->traffic().local_rate_limit().tokens_per_fill(), 1u) << "Envoy's default";
  EXPECT_EQ(wide->traffic().local_rate_limit().bucket_per(), l7::LocalRateLimit::TARGET);
  EXPECT_FALSE(wide->traffic().has_fault());
  ASSERT_EQ(t.bindings["TrafficPolicy/shop/untargeted"].errors.size(), 1u);
  EXPECT_NE(t.bindings["TrafficPolicy/shop/untargeted"].errors[0].find("no targetRefs"),
            std::string::npos);
  EXPECT_EQ(snap->traffic_policies.size(), 3u) << "another group's TrafficPolicy is not Warren's";
  EXPECT_EQ(t.resources.size(), 2u);
}

TEST(WaypointPolicyTranslation, BadTrafficPolicyRejectedNamingTheField) {
  struct Case {
    const char* spec;
    const char* error;
  };
  const Case cases[] = {
      {"localRateLimit: {fillInterval: 1s}", "spec.localRateLimit.maxTokens: required"},
      {"localRateLimit: {maxTokens: 1}", "spec.localRateLimit.fillInterval: required"},
      {"localRateLimit: {maxTokens: 1, fillInterval: soon}", "spec.localRateLimit.fillInterval"},
      {"localRateLimit: {maxTokens: 1, fillInterval: 1s, tokensPerFill: 0}",
       "spec.localRateLimit.tokensPerFill"},
      {"localRateLimit: {maxTokens: 1, fillInterval: 1s, bucketPer: Header}",
       "expected Target, Route or SourcePrincipal, got 'Header'"},
      {"fault: {abort: {httpStatus: 99}}", "spec.fault.abort.httpStatus: required, an HTTP status"},
      {"fault: {abort: {grpcStatus: UNAVAILABLE}}", "only httpStatus aborts are supported"},
      {"fault: {abort: {httpStatus: 503, percentage: {value: 101}}}",
       "spec.fault.abort.percentage.value: must be within 0..100"},
      {"fault: {delay: {fixedDelay: 1s, percentage: {value: lots}}}",
       "spec.fault.delay.percentage.value: expected a number"},
      {"fault: {delay: {percentage: {value: 5}}}", "spec.fault.delay.fixedDelay: required"},
  };
  for (const Case& c : cases) {
    auto snap = snapshotOf(std::string(R"(apiVersion: warren.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: bad, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}]
  )") + c.spec + "\n",
                           1);
    ASSERT_TRUE(snap->rejected.contains("TrafficPolicy/shop/bad")) << c.spec;
    EXPECT_NE(snap->rejected.at("TrafficPolicy/shop/bad").error.find(c.error), std::string::npos)
        << c.spec << " -> " << snap->rejected.at("TrafficPolicy/shop/bad").error;
    EXPECT_TRUE(snap->traffic_policies.empty());
  }
}

}  // namespace
}  // namespace warren::agent
