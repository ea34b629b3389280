// The agent's Address and Authorization resources, as ztunnel converts and uses them: a client's
// connection to a Service VIP goes to the waypoint (its pod IP:15008, the waypoint's identity
// expected, `:authority` the VIP:port); the waypoint's own connection to the same VIP goes to
// the endpoint, never back to itself; and the destination ztunnel admits the waypoint's
// identity through the implicit ALLOW exactly when the workload has ALLOW policies, while a
// DENY naming the waypoint still wins. Agent translation and ztunnel's routing and RBAC are
// real here; only the gRPC transport between them is skipped (tests/agent covers it).
#include <gtest/gtest.h>

#include "agent/model/cluster_model.h"
#include "agent/translate/xds_resources.h"
#include "mesh/rbac/rbac_evaluator.h"
#include "mesh/routing/random_source.h"
#include "mesh/state/xds_convert.h"
#include "ztunnel/routing/outbound_router.h"

namespace warren {
namespace {

namespace ds = envoy::service::discovery::v3;
using mesh::HboneRoute;
using mesh::RouteDecision;

const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient, warren.dev/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, labels: {warren.dev/waypoint-for: all}}
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
  ports: [{name: mesh, port: 15008, appProtocol: hbone}]
---
apiVersion: v1
kind: Pod
metadata:
  name: waypoint-0
  namespace: shop
  labels: {gateway.networking.k8s.io/gateway-name: waypoint, warren.dev/dataplane-mode: none}
spec: {nodeName: node-1, serviceAccountName: waypoint, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.50}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api}}
spec: {nodeName: node-2, serviceAccountName: api, containers: [{name: a}]}
status: {phase: Running, podIP: 10.244.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: free-1, namespace: shop, labels: {app: free}}
spec: {nodeName: node-2, serviceAccountName: free, containers: [{name: a}]}
status: {phase: Running, podIP: 10.244.2.11}
---
apiVersion: v1
kind: Service
metadata: {name: free, namespace: shop}
spec:
  clusterIP: 10.96.0.11
  selector: {app: free}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.20}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-client, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/client]}}]}]
)";

// The agent's resources pushed through ztunnel's own conversion into a state snapshot.
std::shared_ptr<const mesh::StateSnapshot> ztunnelStateOf(const std::string& yaml) {
  agent::ClusterModel model;
  agent::ConfigUpdate u;
  u.replace_all = true;
  auto objs = k8s::parseManifests(yaml, "cluster.yaml");
  EXPECT_TRUE(objs) << objs.error().message();
  u.upserts = *objs;
  EXPECT_EQ(model.apply(std::move(u)), 0u);
  agent::XdsBuild build = agent::buildXdsResources(*model.snapshot(), agent::TranslationContext{});
  mesh::StateUpdate all;
  for (const char* type : {agent::kAddressTypeUrl, agent::kAuthorizationTypeUrl}) {
    ds::DeltaDiscoveryResponse resp;
    resp.set_type_url(type);
    for (const auto& [name, r] : build.resources.at(type)) {
      auto* res = resp.add_resources();
      res->set_name(name);
      res->set_version(r.version);
      *res->mutable_resource() = *r.body;
    }
    mesh::ConvertedDelta d = mesh::convertDelta(resp);
    for (const auto& e : d.rejected) ADD_FAILURE() << "ztunnel rejected: " << e.message();
    for (auto& w : d.update.workloads) all.workloads.push_back(std::move(w));
    for (auto& s : d.update.services) all.services.push_back(std::move(s));
    for (auto& p : d.update.policies) all.policies.push_back(std::move(p));
  }
  auto applied = mesh::StateSnapshot::empty()->apply(all);
  for (const auto& e : applied.rejected) ADD_FAILURE() << "apply rejected: " << e.message();
  return applied.snapshot;
}

const mesh::Workload& workload(const mesh::StateSnapshot& s, const std::string& ip) {
  auto addr = net::IpAddress::parse(ip);
  const mesh::Workload* w = s.workloadByAddress(mesh::NetworkAddress{"", *addr});
  EXPECT_NE(w, nullptr) << ip;
  static mesh::Workload none;
  return w ? *w : none;
}

net::SocketAddress sock(const std::string& s) { return *net::SocketAddress::parse(s); }

TEST(WaypointPath, ClientGoesToTheWaypointTheWaypointToTheEndpoint) {
  auto state = ztunnelStateOf(kCluster);
  mesh::SeededRandom random(1);
  const auto& client = workload(*state, "10.244.1.20");
  const auto& waypoint = workload(*state, "10.244.1.50");
  // The waypoint's workload: native HBONE, no waypoint of its own.
  EXPECT_EQ(waypoint.tunnel_protocol, mesh::TunnelProtocol::kHbone);
  EXPECT_FALSE(waypoint.waypoint.has_value());

  RouteDecision d = ztunnel::buildRequest(*state, client, sock("10.96.0.10:80"), random);
  ASSERT_TRUE(std::holds_alternative<HboneRoute>(d)) << mesh::toJson(d).dump();
  const auto& to_wp = std::get<HboneRoute>(d);
  EXPECT_TRUE(to_wp.to_waypoint);
  EXPECT_EQ(to_wp.connect_to.toString(), "10.244.1.50:15008");
  EXPECT_EQ(hbone::authorityToString(to_wp.authority), "10.96.0.10:80");
  ASSERT_EQ(to_wp.expected_identities.size(), 1u);
  EXPECT_EQ(to_wp.expected_identities[0].uri(), "spiffe://cluster.local/ns/shop/sa/waypoint");

  // From the waypoint itself: no loop, straight to the endpoint's 15008.
  RouteDecision back = ztunnel::buildRequest(*state, waypoint, sock("10.96.0.10:80"), random);
  ASSERT_TRUE(std::holds_alternative<HboneRoute>(back)) << mesh::toJson(back).dump();
  const auto& to_ep = std::get<HboneRoute>(back);
  EXPECT_FALSE(to_ep.to_waypoint);
  EXPECT_EQ(to_ep.connect_to.toString(), "10.244.2.10:15008");
  EXPECT_EQ(hbone::authorityToString(to_ep.authority), "10.244.2.10:8080");

  // Workload-addressed traffic (waypoint-for: all) goes through the waypoint too.
  RouteDecision direct = ztunnel::buildRequest(*state, client, sock("10.244.2.10:8080"), random);
  ASSERT_TRUE(std::holds_alternative<HboneRoute>(direct));
  EXPECT_EQ(std::get<HboneRoute>(direct).connect_to.toString(), "10.244.1.50:15008");
  EXPECT_EQ(hbone::authorityToString(std::get<HboneRoute>(direct).authority), "10.244.2.10:8080");
}

mesh::RbacDecision admit(const mesh::StateSnapshot& s, const std::string& dst_ip,
                         const std::string& source_sa) {
  mesh::ConnectionContext conn;
  conn.source_identity = *identity::SpiffeId::make("cluster.local", "shop", source_sa);
  conn.source_ip = *net::IpAddress::parse("10.244.1.50");
  conn.destination_ip = *net::IpAddress::parse(dst_ip);
  conn.destination_port = 8080;
  return mesh::evaluateRbac(s.policiesFor(workload(s, dst_ip)), conn);
}

TEST(WaypointPath, DestinationAdmitsTheWaypointImplicitly) {
  auto state = ztunnelStateOf(kCluster);
  // api-1 has an ALLOW for the client: the waypoint (acting for the client) is let in by the
  // implicit policy, the client directly too, anyone else not.
  auto via_waypoint = admit(*state, "10.244.2.10", "waypoint");
  EXPECT_TRUE(via_waypoint.allowed);
  ASSERT_NE(via_waypoint.policy, nullptr);
  EXPECT_EQ(via_waypoint.policy->name, "istio_allow_waypoint_shop_waypoint");
  EXPECT_TRUE(admit(*state, "10.244.2.10", "client").allowed);
  auto other = admit(*state, "10.244.2.10", "intruder");
  EXPECT_FALSE(other.allowed);
  EXPECT_EQ(other.reason, mesh::RbacDecision::Reason::kNoAllowMatched);
  // free-1 has no ALLOW policy: nothing implicit is bound, everyone stays allowed (binding an
  // ALLOW there would have turned it into waypoint-only).
  auto free_policies = state->policiesFor(workload(*state, "10.244.2.11"));
  EXPECT_TRUE(free_policies.selected == nullptr || free_policies.selected->allow.empty());
  EXPECT_TRUE(admit(*state, "10.244.2.11", "intruder").allowed);
  EXPECT_TRUE(admit(*state, "10.244.2.11", "waypoint").allowed);
}

TEST(WaypointPath, ADenyNamingTheWaypointStillDenies) {
  auto state = ztunnelStateOf(std::string(kCluster) + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-waypoint, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/waypoint]}}]}]
)");
  auto d = admit(*state, "10.244.2.10", "waypoint");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, mesh::RbacDecision::Reason::kDenyMatched);
  ASSERT_NE(d.policy, nullptr);
  EXPECT_EQ(d.policy->name, "no-waypoint");
}

}  // namespace
}  // namespace warren
