// networking.istio.io DestinationRule -> warren.l7.v1.WaypointPolicy DestinationPolicy: the host
// (short name, name.ns, FQDN) or targetRefs resolved to the Service's waypoint, Istio's defaults
// written out, the fields no waypoint applies named; bad rules rejected naming the field.
#include <gtest/gtest.h>

#include "agent/translate/waypoint_policy_translation.h"
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

TEST(DestinationRuleTranslation, HostBindsTheServicesWaypointWithIstioDefaults) {
  auto snap = snapshotOf(kMesh + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: shop}
spec:
  host: api.shop.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 500ms, maxEjectionPercent: 50}
    connectionPool:
      http: {http2MaxRequests: 7, http1MaxPendingRequests: 2, maxRetries: 3}
      tcp: {maxConnections: 4, connectTimeout: 1s}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: defaults, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: api}]
  trafficPolicy: {outlierDetection: {}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: no-waypoint, namespace: shop}
spec:
  host: lonely
  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}
)");
  EXPECT_TRUE(snap->rejected.empty());
  auto t = translateWaypointPolicies(*snap, TranslationContext{});
  auto it = t.resources.find("shop/waypoint/DestinationRule/shop/api");
  ASSERT_NE(it, t.resources.end());
  ASSERT_TRUE(it->second.has_destination());
  const l7::DestinationPolicy& p = it->second.destination();
  EXPECT_EQ(p.namespace_(), "shop");
  EXPECT_EQ(p.name(), "api");
  ASSERT_EQ(p.targets_size(), 1);
  EXPECT_EQ(p.targets(0).kind(), l7::PolicyTarget::SERVICE);
  EXPECT_EQ(p.targets(0).name(), "api");
  EXPECT_EQ(p.outlier_detection().consecutive_5xx_errors(), 3u);
  EXPECT_EQ(p.outlier_detection().consecutive_gateway_errors(), 0u);
  EXPECT_EQ(p.outlier_detection().interval().nanos(), 500000000);
  EXPECT_EQ(p.outlier_detection().base_ejection_time().seconds(), 30) << "Istio's default";
  EXPECT_EQ(p.outlier_detection().max_ejection_percent(), 50u);
  EXPECT_EQ(p.connection_pool().max_requests(), 7u);
  EXPECT_EQ(p.connection_pool().max_connections(), 4u);
  EXPECT_EQ(p.connection_pool().max_pending_requests(), 2u);
  std::vector<std::string> not_applied(p.not_applied().begin(), p.not_applied().end());
  EXPECT_EQ(not_applied, (std::vector<std::string>{
                             "trafficPolicy.connectionPool.http.maxRetries",
                             "trafficPolicy.connectionPool.tcp.connectTimeout",
                             "trafficPolicy.loadBalancer"}));

  auto d = t.resources.find("shop/waypoint/DestinationRule/shop/defaults");
  ASSERT_NE(d, t.resources.end());
  const auto& od = d->second.destination().outlier_detection();
  EXPECT_EQ(od.consecutive_5xx_errors(), 5u);
  EXPECT_EQ(od.interval().seconds(), 10);
  EXPECT_EQ(od.base_ejection_time().seconds(), 30);
  EXPECT_EQ(od.max_ejection_percent(), 10u);
  EXPECT_EQ(od.min_health_percent(), 0u);
  EXPECT_FALSE(d->second.destination().has_connection_pool());

  ASSERT_EQ(t.bindings["DestinationRule/shop/no-waypoint"].errors.size(), 1u);
  EXPECT_NE(t.bindings["DestinationRule/shop/no-waypoint"].errors[0].find("has no waypoint"),
            std::string::npos);
  EXPECT_EQ(t.resources.size(), 2u);
}

TEST(DestinationRuleTranslation, HostForms) {
  struct Row {
    const char* host;
    const char* service;  // "" = an error
  };
  const Row rows[] = {{"api", "api"},
                      {"api.shop", "api"},
                      {"api.shop.svc", "api"},
                      {"api.shop.svc.cluster.local", "api"},
                      {"api.other.svc.cluster.local", ""},
                      {"*.shop.svc.cluster.local", ""},
                      {"api..svc", ""},
                      {"api.shop.example", ""},
                      {"", ""}};
  for (const Row& r : rows) {
    auto s = serviceOfHost(r.host, "shop");
    if (*r.service) {
      ASSERT_TRUE(s.has_value()) << r.host << ": " << s.error().message();
      EXPECT_EQ(*s, r.service) << r.host;
    } else {
      EXPECT_FALSE(s.has_value()) << r.host;
    }
  }
}

TEST(DestinationRuleTranslation, BadRuleRejectedNamingTheField) {
  struct Case {
    const char* spec;
    const char* error;
  };
  const Case cases[] = {
      {"host: api.other", "spec.host"},
      {"host: '*.shop'", "spec.host: wildcard hosts are not supported"},
      {"host: api\n  trafficPolicy: []", "spec.trafficPolicy"},
      {"host: api\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: many}}",
       "spec.trafficPolicy.outlierDetection.consecutive5xxErrors"},
      {"host: api\n  trafficPolicy: {outlierDetection: {interval: soon}}",
       "spec.trafficPolicy.outlierDetection.interval"},
      {"host: api\n  trafficPolicy: {outlierDetection: {baseEjectionTime: 0s}}",
       "spec.trafficPolicy.outlierDetection.baseEjectionTime"},
      {"host: api\n  trafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}",
       "spec.trafficPolicy.outlierDetection.maxEjectionPercent"},
      {"host: api\n  trafficPolicy: {outlierDetection: {minHealthPercent: -1}}",
       "spec.trafficPolicy.outlierDetection.minHealthPercent"},
      {"host: api\n  trafficPolicy: {connectionPool: {http: {http2MaxRequests: lots}}}",
       "spec.trafficPolicy.connectionPool.http.http2MaxRequests"},
      {"host: api\n  trafficPolicy: {connectionPool: {tcp: {maxConnections: x}}}",
       "spec.trafficPolicy.connectionPool.tcp.maxConnections"},
      {"host: api\n  trafficPolicy: {connectionPool: {http: 3}}",
       "spec.trafficPolicy.connectionPool.http"},
  };
  for (const Case& c : cases) {
    auto snap = snapshotOf(std::string(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: shop}
spec:
  )") + c.spec + "\n",
                           1);
    ASSERT_TRUE(snap->rejected.contains("DestinationRule/shop/bad")) << c.spec;
    EXPECT_NE(snap->rejected.at("DestinationRule/shop/bad").error.find(c.error), std::string::npos)
        << c.spec << " -> " << snap->rejected.at("DestinationRule/shop/bad").error;
    EXPECT_TRUE(snap->destination_rules.empty());
  }
}

}  // namespace
}  // namespace warren::agent
