// /api/v1/waypoints and /api/v1/routes: every documented field, from a snapshot.
#include "agent/admin/waypoint_documents.h"

#include <gtest/gtest.h>

#include "agent/model/cluster_model.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent::admin {
namespace {

using nlohmann::json;

using testing::snapshotOf;

const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, labels: {warren.dev/waypoint-for: all}}
spec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
status:
  addresses: [{type: IPAddress, value: 10.96.0.99}]
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, message: ok, observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z"}
  - {type: Programmed, status: "True", reason: Programmed, message: ok, observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: broken, namespace: shop, labels: {warren.dev/waypoint-for: nope}}
spec: {gatewayClassName: warren-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: shop}
spec: {clusterIP: 10.96.0.99, selector: {gateway.networking.k8s.io/gateway-name: waypoint}, ports: [{name: hbone, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node-1, serviceAccountName: waypoint, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.50}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: api}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api}}
spec: {nodeName: node-2, containers: [{name: a}]}
status: {phase: Running, podIP: 10.244.2.10}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules: [{matches: [{path: {type: Exact, value: /x}}], backendRefs: [{name: api, port: 80}]}]
)";

TEST(WaypointDocuments, Waypoints) {
  auto snap = snapshotOf(kCluster, 1);
  json items = waypointItems(*snap, TranslationContext{});
  ASSERT_EQ(items.size(), 2u);
  const json& wp = items[1]["name"] == "waypoint" ? items[1] : items[0];
  const json& bad = items[1]["name"] == "waypoint" ? items[0] : items[1];
  EXPECT_EQ(wp["namespace"], "shop");
  EXPECT_EQ(wp["for"], "all");
  EXPECT_EQ(wp["address"], "10.96.0.99");
  EXPECT_EQ(wp["accepted"], "True");
  EXPECT_EQ(wp["programmed"], "True");
  EXPECT_EQ(wp["conditions"].size(), 2u);
  EXPECT_EQ(wp["instances"], (json::array({{{"pod", "shop/waypoint-0"},
                                            {"node", "node-1"},
                                            {"address", "10.244.1.50"},
                                            {"phase", "Running"}}})));
  EXPECT_EQ(wp["services"], (json::array({"shop/api"})));
  EXPECT_EQ(wp["workloads"], (json::array({"shop/api-1"})));
  EXPECT_EQ(wp["error"], "");
  EXPECT_EQ(bad["name"], "broken");
  EXPECT_EQ(bad["programmed"], "Unknown");
  EXPECT_NE(bad["error"].get<std::string>().find("'nope' is not one of"), std::string::npos);
  EXPECT_EQ(controllerJson({true, true, "agent-1"}),
            (json{{"enabled", true}, {"leading", true}, {"identity", "agent-1"}}));
}

TEST(WaypointDocuments, Routes) {
  auto snap = snapshotOf(kCluster, 1);
  json all = routeItems(*snap, TranslationContext{}, "");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["resource"], "shop/api.shop.svc.cluster.local");
  EXPECT_EQ(all[0]["waypoint"], "shop/waypoint");
  EXPECT_EQ(all[0]["addresses"], json::array({"10.96.0.10"}));
  EXPECT_EQ(all[0]["ports"][0]["matches"][0]["path"]["type"], "EXACT");
  EXPECT_EQ(all[0]["ports"][0]["rules"][0]["route"], "HTTPRoute/shop/r");
  EXPECT_TRUE(routeItems(*snap, TranslationContext{}, "shop/other").empty());
  EXPECT_EQ(routeItems(*snap, TranslationContext{}, "shop/waypoint").size(), 1u);
}

}  // namespace
}  // namespace warren::agent::admin
