// Translation tables: snapshots built from manifests, Address/Authorization compared with
// expected messages (as text format, so a failure shows the whole difference).
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "agent/model/cluster_model.h"
#include "agent/translate/authorization_translation.h"
#include "agent/translate/workload_translation.h"
#include "agent/translate/xds_resources.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent {
namespace {

namespace wl = istio::workload;
namespace sec = istio::security;

using testing::snapshotOf;

template <class M>
M parseText(const std::string& text) {
  M m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

template <class M>
void expectProto(const M& actual, const std::string& expected_text, const std::string& what) {
  M expected = parseText<M>(expected_text);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(expected, actual)) << what << "\n"
                                           << diff << "\nactual:\n"
                                           << actual.DebugString();
}

const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, version: v2}}
spec:
  nodeName: node-1
  serviceAccountName: web
  containers:
  - name: app
    ports:
    - {name: http, containerPort: 8080}
    - {name: admin, containerPort: 9090}
status: {phase: Running, podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: shop, labels: {app: db}}
spec:
  nodeName: node-2
  containers: [{name: db}]
status: {phase: Running, podIP: 10.244.2.7}
---
apiVersion: v1
kind: Pod
metadata: {name: lone, namespace: plain, labels: {app: lone}}
spec:
  nodeName: node-1
  containers: [{name: c}]
status: {phase: Running, podIP: 10.244.1.9}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c}]
status: {phase: Pending}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, appProtocol: http}
  - {name: admin, port: 9000, targetPort: admin}
  - {name: metrics, port: 9100, targetPort: 9100}
  - {name: grpc, port: 7070, targetPort: grpc-port}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: shop}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
)";

TEST(WorkloadTranslation, Table) {
  auto snap = snapshotOf(kCluster);
  TranslationContext ctx;
  struct Case {
    std::string pod;
    std::optional<std::string> expected;  // nullopt: no Workload
  };
  const Case cases[] = {
      {"shop/web-1", R"(uid: "Kubernetes//Pod/shop/web-1" name: "web-1" namespace: "shop"
          addresses: "\x0a\xf4\x01\x05" tunnel_protocol: HBONE trust_domain: "cluster.local"
          service_account: "web" node: "node-1" canonical_name: "web" canonical_revision: "v2"
          workload_type: POD workload_name: "web" status: HEALTHY cluster_id: "Kubernetes"
          services { key: "shop/web.shop.svc.cluster.local" value {
            ports { service_port: 80 target_port: 8080 app_protocol: HTTP11 }
            ports { service_port: 9000 target_port: 9090 }
            ports { service_port: 9100 target_port: 9100 } } })"},
      // Selected by the headless service only: services map has it, no ports translation issue.
      {"shop/db-1", R"(uid: "Kubernetes//Pod/shop/db-1" name: "db-1" namespace: "shop"
          addresses: "\x0a\xf4\x02\x07" tunnel_protocol: HBONE trust_domain: "cluster.local"
          service_account: "default" node: "node-2" canonical_name: "db" canonical_revision: "latest"
          workload_type: POD workload_name: "db" status: HEALTHY cluster_id: "Kubernetes"
          services { key: "shop/headless.shop.svc.cluster.local" value {
            ports { service_port: 5432 target_port: 5432 } } })"},
      // Not enrolled, no services.
      {"plain/lone", R"(uid: "Kubernetes//Pod/plain/lone" name: "lone" namespace: "plain"
          addresses: "\x0a\xf4\x01\x09" tunnel_protocol: NONE trust_domain: "cluster.local"
          service_account: "default" node: "node-1" canonical_name: "lone" canonical_revision: "latest"
          workload_type: POD workload_name: "lone" status: HEALTHY cluster_id: "Kubernetes")"},
      {"shop/pending", std::nullopt},
  };
  for (const auto& c : cases) {
    std::vector<std::string> notes;
    auto w = translatePod(*snap, *snap->pods.at(c.pod), ctx, &notes);
    ASSERT_EQ(w.has_value(), c.expected.has_value()) << c.pod;
    if (w) expectProto(*w, *c.expected, c.pod);
  }
  // The named target port the pod lacks is reported.
  std::vector<std::string> notes;
  translatePod(*snap, *snap->pods.at("shop/web-1"), ctx, &notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("grpc-port"), std::string::npos) << notes[0];
}

TEST(ServiceTranslation, SeveralPortsNamedTargetsAndWaypoint) {
  auto snap = snapshotOf(std::string(kCluster) + R"(---
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
metadata: {name: api, namespace: shop, labels: {warren.dev/use-waypoint: waypoint}}
spec:
  clusterIP: 10.96.0.11
  selector: {app: api}
  ports: [{port: 443, targetPort: 8443, appProtocol: tls}]
---
apiVersion: v1
kind: Service
metadata: {name: remote, namespace: plain, labels: {warren.dev/use-waypoint: wp, warren.dev/use-waypoint-namespace: infra}}
spec:
  clusterIP: 10.96.0.12
  selector: {app: remote}
  ports: [{port: 80}]
)");
  TranslationContext ctx;
  struct Case {
    std::string svc;
    std::optional<std::string> expected;
  };
  const Case cases[] = {
      {"shop/web", R"(name: "web" namespace: "shop" hostname: "web.shop.svc.cluster.local"
          addresses { address: "\x0a\x60\x00\x0a" }
          ports { service_port: 80 target_port: 0 app_protocol: HTTP11 }
          ports { service_port: 9000 target_port: 0 }
          ports { service_port: 9100 target_port: 9100 }
          ports { service_port: 7070 target_port: 0 })"},
      {"shop/api", R"(name: "api" namespace: "shop" hostname: "api.shop.svc.cluster.local"
          addresses { address: "\x0a\x60\x00\x0b" }
          ports { service_port: 443 target_port: 8443 app_protocol: TLS }
          waypoint { address { address: "\x0a\x60\x00\x63" } hbone_mtls_port: 15008 })"},
      {"plain/remote",
       R"(name: "remote" namespace: "plain" hostname: "remote.plain.svc.cluster.local"
          addresses { address: "\x0a\x60\x00\x0c" }
          ports { service_port: 80 target_port: 80 }
          waypoint { hostname { namespace: "infra" hostname: "wp.infra.svc.cluster.local" } hbone_mtls_port: 15008 })"},
      {"shop/headless", std::nullopt},
  };
  for (const auto& c : cases) {
    auto s = translateService(*snap, snap->services.at(c.svc), ctx);
    ASSERT_EQ(s.has_value(), c.expected.has_value()) << c.svc;
    if (s) expectProto(*s, *c.expected, c.svc);
  }
}

const char* kPolicies = R"(apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {phase: Running, podIP: 10.0.0.1}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: global-deny, namespace: warren-system}
spec:
  action: DENY
  rules: [{from: [{source: {ipBlocks: ["192.168.0.0/16"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-allow, namespace: shop}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/*", "*"]}}, {source: {namespaces: ["front"]}}]
    to: [{operation: {ports: ["8080", "9090"]}}]
    when: [{key: destination.port, values: ["8080"]}]
---
apiVersion: warren.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web-only, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {serviceAccounts: ["front/client", "local"]}}]
  - to: [{operation: {methods: ["GET"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l7-deny, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"], ports: ["8080"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: shop}
spec: {rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: custom, namespace: shop}
spec: {action: CUSTOM, rules: [{}]}
)";

TEST(AuthorizationTranslation, ScopesRulesAndL7) {
  auto snap = snapshotOf(kPolicies);
  struct Case {
    std::string policy;
    std::optional<std::string> expected;
    size_t errors;  // L7 fields or CUSTOM in a policy ztunnel enforces: errors on the policy
  };
  const Case cases[] = {
      {"warren-system/global-deny",
       R"(name: "global-deny" namespace: "warren-system" scope: GLOBAL action: DENY
          groups { rules { matches { source_ips { address: "\xc0\xa8\x00\x00" length: 16 } } } })",
       0},
      {"shop/ns-allow", R"(name: "ns-allow" namespace: "shop" scope: NAMESPACE action: ALLOW
          groups {
            rules { matches { principals { prefix: "cluster.local/ns/shop/sa/" } principals { presence {} } }
                    matches { namespaces { exact: "front" } } }
            rules { matches { destination_ports: [8080, 9090] } }
            rules { matches { destination_ports: 8080 } } })",
       0},
      // The L7-only ALLOW rule is dropped (never widened); the L4 one stays.
      {"shop/web-only", R"(name: "web-only" namespace: "shop" scope: WORKLOAD_SELECTOR action: ALLOW
          groups { rules { matches {
            service_accounts { namespace: "front" serviceAccount: "client" }
            service_accounts { namespace: "shop" serviceAccount: "local" } } } })",
       1},
      // DENY keeps its L4 part: denies port 8080 entirely.
      {"shop/l7-deny", R"(name: "l7-deny" namespace: "shop" scope: NAMESPACE action: DENY
          groups { rules { matches { destination_ports: 8080 } } })",
       1},
      {"shop/deny-all", R"(name: "deny-all" namespace: "shop" scope: NAMESPACE action: ALLOW)", 0},
      {"shop/allow-all",
       R"(name: "allow-all" namespace: "shop" scope: NAMESPACE action: ALLOW groups {})", 0},
      {"shop/custom", std::nullopt, 1},
  };
  for (const auto& c : cases) {
    auto t =
        translateAuthorizationPolicy(snap->authorization_policies.at(c.policy), kRootNamespace);
    ASSERT_EQ(t.policy.has_value(), c.expected.has_value()) << c.policy;
    if (t.policy) expectProto(*t.policy, *c.expected, c.policy);
    EXPECT_EQ(t.errors.size(), c.errors) << c.policy;
    EXPECT_TRUE(t.notes.empty()) << c.policy;
  }
  auto names = workloadPolicyNames(*snap, *snap->pods.at("shop/web-1"), kRootNamespace);
  EXPECT_EQ(names, std::vector<std::string>{"shop/web-only"});
}

TEST(PeerAuthenticationTranslation, StrictWithExceptionsIsAnded) {
  struct Case {
    std::string name;
    std::string spec;
    std::string inherited;
    std::optional<std::string> expected;
  };
  const Case cases[] = {
      {"strict", "mtls: {mode: STRICT}", "PERMISSIVE",
       R"(name: "converted_peer_authentication_pa" namespace: "shop" scope: WORKLOAD_SELECTOR action: DENY
          groups { rules { matches { not_principals { presence {} } } } })"},
      {"strict with exceptions", R"(mtls: {mode: STRICT}
  portLevelMtls: {"8080": {mode: PERMISSIVE}, "9090": {mode: DISABLE}, "7070": {mode: STRICT}})",
       "PERMISSIVE",
       R"(name: "converted_peer_authentication_pa" namespace: "shop" scope: WORKLOAD_SELECTOR action: DENY
          groups { rules { matches { not_principals { presence {} } } }
                   rules { matches { not_destination_ports: [8080, 9090] } } })"},
      {"unset inherits strict", R"(portLevelMtls: {"8080": {mode: PERMISSIVE}})", "STRICT",
       R"(name: "converted_peer_authentication_pa" namespace: "shop" scope: WORKLOAD_SELECTOR action: DENY
          groups { rules { matches { not_principals { presence {} } } }
                   rules { matches { not_destination_ports: 8080 } } })"},
      {"permissive with strict port", R"(mtls: {mode: PERMISSIVE}
  portLevelMtls: {"8443": {mode: STRICT}})",
       "STRICT",
       R"(name: "converted_peer_authentication_pa" namespace: "shop" scope: WORKLOAD_SELECTOR action: DENY
          groups { rules { matches { not_principals { presence {} } } }
                   rules { matches { destination_ports: 8443 } } })"},
      {"permissive", "mtls: {mode: PERMISSIVE}", "STRICT", std::nullopt},
  };
  for (const auto& c : cases) {
    auto snap = snapshotOf(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa, "
        "namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  " +
        c.spec + "\n");
    auto az = translatePeerAuthentication(snap->peer_authentications.at("shop/pa"), c.inherited);
    ASSERT_EQ(az.has_value(), c.expected.has_value()) << c.name;
    if (az) expectProto(*az, *c.expected, c.name);
  }
}

TEST(PeerAuthenticationTranslation, NamespaceStrictBindsStaticPolicy) {
  auto snap = snapshotOf(std::string(kPolicies) + R"(---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: warren-system}
spec: {mtls: {mode: STRICT}}
)");
  auto names = workloadPolicyNames(*snap, *snap->pods.at("shop/web-1"), kRootNamespace);
  EXPECT_EQ(names, (std::vector<std::string>{"shop/web-only",
                                             "warren-system/istio_converted_static_strict"}));
  auto build = buildXdsResources(*snap, TranslationContext{});
  const auto& authz = build.resources.at(kAuthorizationTypeUrl);
  EXPECT_EQ(authz.count("warren-system/istio_converted_static_strict"), 1u);
  EXPECT_EQ(authz.count("shop/custom"), 0u);
  const auto& addrs = build.resources.at(kAddressTypeUrl);
  ASSERT_EQ(addrs.count("Kubernetes//Pod/shop/web-1"), 1u);
  EXPECT_EQ(addrs.at("Kubernetes//Pod/shop/web-1").aliases, std::vector<std::string>{"/10.0.0.1"});
}

TEST(XdsResources, VersionsAreStableAndChangeWithContent) {
  auto a = buildXdsResources(*snapshotOf(kCluster), TranslationContext{});
  auto b = buildXdsResources(*snapshotOf(kCluster), TranslationContext{});
  const auto& wa = a.resources.at(kAddressTypeUrl).at("Kubernetes//Pod/shop/web-1");
  EXPECT_EQ(wa.version, b.resources.at(kAddressTypeUrl).at("Kubernetes//Pod/shop/web-1").version);
  std::string changed = kCluster;
  changed.replace(changed.find("version: v2"), 11, "version: v3");
  auto c = buildXdsResources(*snapshotOf(changed), TranslationContext{});
  EXPECT_NE(wa.version, c.resources.at(kAddressTypeUrl).at("Kubernetes//Pod/shop/web-1").version);
  EXPECT_EQ(a.resources.at(kAddressTypeUrl).at("shop/web.shop.svc.cluster.local").version,
            c.resources.at(kAddressTypeUrl).at("shop/web.shop.svc.cluster.local").version);
}

}  // namespace
}  // namespace warren::agent
