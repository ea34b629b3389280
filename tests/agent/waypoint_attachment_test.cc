// Which waypoint each Address resource names: warren.dev/use-waypoint on the namespace, the
// Service or the pod (most specific wins, `none` opts out), use-waypoint-namespace, and the
// Gateway's waypoint-for; the implicit waypoint ALLOW and where it is bound.
#include <gtest/gtest.h>

#include "agent/admin/cluster_documents.h"
#include "agent/model/cluster_model.h"
#include "agent/translate/authorization_translation.h"
#include "agent/translate/workload_translation.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent {
namespace {

using testing::snapshotOf;

std::string gateway(const std::string& ns, const std::string& name, const std::string& for_) {
  static int next_ip = 1;
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + name +
         ", namespace: " + ns +
         (for_.empty() ? "" : ", labels: {warren.dev/waypoint-for: " + for_ + "}") +
         "}\nspec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, "
         "protocol: HBONE}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: " +
         name + ", namespace: " + ns + "}\nspec: {clusterIP: " + "10.96.1." +
         std::to_string(next_ip++) +
         ", selector: {gateway.networking.k8s.io/gateway-name: " + name +
         "}, ports: [{name: mesh, port: 15008}]}\n";
}

const std::string kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/use-waypoint: ns-wp}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bare}
---
apiVersion: v1
kind: Service
metadata: {name: by-ns, namespace: shop}
spec: {clusterIP: 10.96.0.1, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: own, namespace: shop, labels: {warren.dev/use-waypoint: svc-wp}}
spec: {clusterIP: 10.96.0.2, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: out, namespace: shop, labels: {warren.dev/use-waypoint: none}}
spec: {clusterIP: 10.96.0.3, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: remote, namespace: bare, labels: {warren.dev/use-waypoint: shared, warren.dev/use-waypoint-namespace: infra}}
spec: {clusterIP: 10.96.0.4, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: workload-only, namespace: bare, labels: {warren.dev/use-waypoint: wl-wp}}
spec: {clusterIP: 10.96.0.5, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: nothing, namespace: bare}
spec: {clusterIP: 10.96.0.6, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p-ns, namespace: shop}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: p-own, namespace: shop, labels: {warren.dev/use-waypoint: all-wp}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: p-out, namespace: shop, labels: {warren.dev/use-waypoint: none}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.3}
---
apiVersion: v1
kind: Pod
metadata: {name: p-wl, namespace: bare, labels: {warren.dev/use-waypoint: wl-wp}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.4}
)" + gateway("shop", "ns-wp", "all") +
                             gateway("shop", "svc-wp", "") + gateway("shop", "all-wp", "all") +
                             gateway("infra", "shared", "service") +
                             gateway("bare", "wl-wp", "workload");

TEST(WaypointAttachment, ServicesAndWorkloads) {
  auto snap = snapshotOf(kCluster);
  TranslationContext ctx;
  struct Case {
    std::string key;
    std::string waypoint;  // "ns/name" or ""
  };
  const Case services[] = {
      {"shop/by-ns", "shop/ns-wp"},     // namespace label
      {"shop/own", "shop/svc-wp"},      // the Service's own label wins over the namespace's
      {"shop/out", ""},                 // none opts out
      {"bare/remote", "infra/shared"},  // use-waypoint-namespace
      {"bare/workload-only", ""},       // the waypoint takes workload traffic only
      {"bare/nothing", ""},
  };
  for (const auto& c : services) {
    auto s = translateService(*snap, snap->services.at(c.key), ctx);
    ASSERT_TRUE(s) << c.key;
    EXPECT_EQ(s->has_waypoint() ? admin::waypointName(*snap, s->waypoint()) : "", c.waypoint)
        << c.key;
    if (s->has_waypoint()) {
      EXPECT_EQ(s->waypoint().hbone_mtls_port(), 15008u) << c.key;
    }
  }
  const Case pods[] = {
      {"shop/p-ns", "shop/ns-wp"},    // namespace waypoint takes all traffic
      {"shop/p-own", "shop/all-wp"},  // the pod's own label wins
      {"shop/p-out", ""},
      {"bare/p-wl", "bare/wl-wp"},  // waypoint-for: workload
  };
  for (const auto& c : pods) {
    auto w = translatePod(*snap, *snap->pods.at(c.key), ctx);
    ASSERT_TRUE(w) << c.key;
    EXPECT_EQ(w->has_waypoint() ? admin::waypointName(*snap, w->waypoint()) : "", c.waypoint)
        << c.key;
  }
  // A Service waypoint (default waypoint-for: service) never takes pod-addressed traffic.
  auto snap2 = snapshotOf(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {warren.dev/use-waypoint: "
      "svc-wp}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: "
      "{nodeName: node-1, containers: [{name: c}]}\nstatus: {phase: Running, podIP: 10.244.1.9}\n" +
      gateway("shop", "svc-wp", ""));
  auto w = translatePod(*snap2, *snap2->pods.at("shop/p"), ctx);
  ASSERT_TRUE(w);
  EXPECT_FALSE(w->has_waypoint());
}

TEST(WaypointAttachment, WaypointPodsSpeakHboneAndHaveNoWaypoint) {
  auto snap = snapshotOf(kCluster + R"(---
apiVersion: v1
kind: Pod
metadata: {name: ns-wp-0, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: ns-wp, warren.dev/dataplane-mode: none}}
spec: {nodeName: node-1, serviceAccountName: ns-wp, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.40}
)");
  auto w = translatePod(*snap, *snap->pods.at("shop/ns-wp-0"), TranslationContext{});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->tunnel_protocol(), istio::workload::HBONE);
  EXPECT_TRUE(w->native_tunnel());
  EXPECT_FALSE(w->has_waypoint());  // the namespace names it; a waypoint has none
}

TEST(WaypointAttachment, ImplicitAllowIsBoundOnlyWithAllowPolicies) {
  const std::string base = kCluster + R"(---
apiVersion: v1
kind: Pod
metadata: {name: ns-wp-0, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: ns-wp}}
spec: {nodeName: node-1, serviceAccountName: ns-wp-sa, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.40}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: shop, labels: {app: a}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.41}
)";
  const std::string gw_policy = "shop/istio_allow_waypoint_shop_ns-wp";
  auto names = [&](const std::string& yaml, const std::string& pod) {
    auto snap = snapshotOf(yaml);
    return workloadPolicyNames(*snap, *snap->pods.at(pod), kRootNamespace);
  };
  // No ALLOW policy: nothing bound.
  EXPECT_TRUE(names(base, "shop/backend").empty());
  // A selector ALLOW: bound for each fronting waypoint (namespace waypoint for the pod, and the
  // waypoints of the Services selecting it: ns-wp via by-ns, svc-wp via own).
  auto with_allow = names(base + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-x, namespace: shop}
spec: {selector: {matchLabels: {app: a}}, rules: [{from: [{source: {principals: [x]}}]}]}
)",
                          "shop/backend");
  EXPECT_EQ(with_allow,
            (std::vector<std::string>{"shop/allow-x", "shop/istio_allow_waypoint_shop_ns-wp",
                                      "shop/istio_allow_waypoint_shop_svc-wp"}));
  // A namespace-wide ALLOW counts too; a DENY does not.
  auto with_ns_allow = names(base + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-allow, namespace: shop}
spec: {rules: [{}]}
)",
                             "shop/backend");
  EXPECT_NE(std::find(with_ns_allow.begin(), with_ns_allow.end(), gw_policy), with_ns_allow.end());
  auto with_deny = names(base + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-x, namespace: shop}
spec: {selector: {matchLabels: {app: a}}, action: DENY, rules: [{from: [{source: {principals: [x]}}]}]}
)",
                         "shop/backend");
  EXPECT_EQ(with_deny, std::vector<std::string>{"shop/deny-x"});
  // The policy itself: ALLOW the waypoint pods' principals.
  auto snap = snapshotOf(base);
  auto az = implicitWaypointPolicy(*snap, snap->gateways.at("shop/ns-wp"), "cluster.local");
  EXPECT_EQ(az.name(), "istio_allow_waypoint_shop_ns-wp");
  EXPECT_EQ(az.namespace_(), "shop");
  EXPECT_EQ(az.action(), istio::security::ALLOW);
  EXPECT_EQ(az.scope(), istio::security::WORKLOAD_SELECTOR);
  ASSERT_EQ(az.groups(0).rules(0).matches(0).principals_size(), 1);
  EXPECT_EQ(az.groups(0).rules(0).matches(0).principals(0).exact(),
            "cluster.local/ns/shop/sa/ns-wp-sa");
  // A waypoint without pods yet: the ServiceAccount the controller creates (the Gateway's name).
  auto none = implicitWaypointPolicy(*snap, snap->gateways.at("shop/svc-wp"), "td");
  EXPECT_EQ(none.groups(0).rules(0).matches(0).principals(0).exact(), "td/ns/shop/sa/svc-wp");
}

}  // namespace
}  // namespace warren::agent
