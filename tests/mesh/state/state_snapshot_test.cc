#include "mesh/state/state_snapshot.h"

#include <gtest/gtest.h>

#include "tests/mesh/mesh_fixture.h"

namespace warren::mesh {
namespace {

using namespace testing;

Authorization policy(std::string ns, std::string name, AuthorizationScope scope,
                     AuthorizationAction action, bool dry_run = false) {
  Authorization a;
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  a.scope = scope;
  a.action = action;
  a.dry_run = dry_run;
  return a;
}

StateUpdate baseMesh() {
  StateUpdate u;
  auto a = pod("default", "web-a", {"10.244.1.11"}, "node-1", "web");
  a.services[svcKey("default", "web")] = {{80, 8080}};
  auto b = pod("default", "web-b", {"10.244.2.11", "fd00::11"}, "node-2", "web");
  b.services[svcKey("default", "web")] = {{80, 8080}};
  auto host = pod("kube-system", "hostnet", {"192.168.0.2"}, "node-1");
  host.network_mode = NetworkMode::kHostNetwork;
  u.workloads = {a, b, host};
  u.services = {service("default", "web", {"10.96.0.10", "fd00:96::10"}, {{80, 8080}})};
  return u;
}

TEST(StateSnapshot, LookupsByAddressUidVipAndHostname) {
  auto snap = build(baseMesh());
  EXPECT_EQ(snap->version(), 1u);
  const Workload* b = snap->workloadByAddress({"", ip("fd00::11")});
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "web-b");
  EXPECT_EQ(snap->workloadByUid("Kubernetes//Pod/default/web-a")->name, "web-a");
  EXPECT_EQ(snap->workloadByAddress({"other-net", ip("10.244.1.11")}), nullptr);
  EXPECT_EQ(snap->workloadByAddress({"", ip("192.168.0.2")}), nullptr)
      << "host-network pods are not found by IP";
  ASSERT_NE(snap->workloadByUid("Kubernetes//Pod/kube-system/hostnet"), nullptr);
  const Service* web = snap->serviceByVip({"", ip("fd00:96::10")});
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web, snap->serviceByHostname("default", "web.default.svc.cluster.local"));
  EXPECT_EQ(snap->serviceByHostname("other", "web.default.svc.cluster.local"), nullptr);
  ASSERT_EQ(snap->servicesByHostname("web.default.svc.cluster.local").size(), 1u);
  const auto& eps = snap->endpoints(*web);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].workload->name, "web-a");  // uid order
  EXPECT_EQ(eps[1].workload->name, "web-b");
  EXPECT_EQ(eps[1].ports->at(80), 8080);
}

TEST(StateSnapshot, DeltaUpdatesMakeNewSnapshotsAndLeaveOldOnesIntact) {
  auto v1 = build(baseMesh());
  StateUpdate u;
  u.removed_addresses = {"Kubernetes//Pod/default/web-a", svcKey("default", "web"), "unknown"};
  auto c = pod("default", "web-c", {"10.244.3.11"}, "node-3", "web");
  c.services[svcKey("default", "web")] = {{80, 9090}};
  u.workloads = {c};
  auto r = v1->apply(u);
  ASSERT_TRUE(r.rejected.empty());
  auto v2 = r.snapshot;
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_EQ(v2->workloadByAddress({"", ip("10.244.1.11")}), nullptr);
  EXPECT_EQ(v2->serviceByVip({"", ip("10.96.0.10")}), nullptr);
  EXPECT_NE(v2->workloadByAddress({"", ip("10.244.3.11")}), nullptr);
  // The old snapshot still answers as before: readers holding it are unaffected.
  EXPECT_NE(v1->workloadByAddress({"", ip("10.244.1.11")}), nullptr);
  EXPECT_NE(v1->serviceByVip({"", ip("10.96.0.10")}), nullptr);
  EXPECT_EQ(v1->workloadByAddress({"", ip("10.244.3.11")}), nullptr);
  // Endpoints follow the workloads even while the service itself is absent, and come back
  // complete when it is re-added.
  StateUpdate readd;
  readd.services = {service("default", "web", {"10.96.0.10"}, {{80, 8080}})};
  auto v3 = v2->apply(readd).snapshot;
  const auto& eps = v3->endpoints(*v3->serviceByVip({"", ip("10.96.0.10")}));
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].workload->name, "web-b");
  EXPECT_EQ(eps[1].workload->name, "web-c");
}

TEST(StateSnapshot, UpsertReplacesByName) {
  auto v1 = build(baseMesh());
  StateUpdate u;
  auto a = pod("default", "web-a", {"10.244.1.99"}, "node-1", "web");
  u.workloads = {a};
  auto v2 = v1->apply(u).snapshot;
  EXPECT_EQ(v2->workloadCount(), v1->workloadCount());
  EXPECT_EQ(v2->workloadByAddress({"", ip("10.244.1.11")}), nullptr);
  EXPECT_EQ(v2->workloadByAddress({"", ip("10.244.1.99")})->name, "web-a");
}

TEST(StateSnapshot, InvalidResourcesAreRejectedByNameAndTheRestApplied) {
  StateUpdate u = baseMesh();
  Workload nouid = pod("default", "broken", {"10.244.9.9"}, "node-1");
  nouid.uid.clear();
  u.workloads.push_back(nouid);
  Service nohost = service("default", "x", {"10.96.9.9"}, {});
  nohost.hostname.clear();
  u.services.push_back(nohost);
  u.policies.push_back(policy("default", "", AuthorizationScope::kNamespace,
                              AuthorizationAction::kAllow));
  Workload bad_sa = pod("default", "bad-sa", {"10.244.9.8"}, "node-1", "Web/Admin");
  u.workloads.push_back(bad_sa);
  auto r = StateSnapshot::empty()->apply(u);
  ASSERT_EQ(r.rejected.size(), 4u);
  EXPECT_NE(r.rejected[0].message().find("workload 'broken': empty uid"), std::string::npos);
  EXPECT_NE(r.rejected[1].message().find("workload Kubernetes//Pod/default/bad-sa"),
            std::string::npos)
      << r.rejected[1].message();
  EXPECT_NE(r.rejected[1].message().find("service account"), std::string::npos)
      << r.rejected[1].message();
  EXPECT_NE(r.rejected[2].message().find("service 'default/'"), std::string::npos);
  EXPECT_NE(r.rejected[3].message().find("authorization 'default/'"), std::string::npos);
  EXPECT_EQ(r.snapshot->workloadCount(), 3u);
  EXPECT_EQ(r.snapshot->serviceCount(), 1u);
}

TEST(StateSnapshot, IdentitiesComeFromTheIndex) {
  StateUpdate u = baseMesh();
  auto other = pod("shop", "cart-0", {"10.244.1.20"}, "node-1", "cart");
  other.trust_domain = "td.example";
  u.workloads.push_back(other);
  auto snap = build(u);
  std::set<identity::SpiffeId> want = {
      *identity::SpiffeId::make("cluster.local", "default", "web"),
      *identity::SpiffeId::make("cluster.local", "kube-system", "default"),  // host network too
      *identity::SpiffeId::make("td.example", "shop", "cart")};
  EXPECT_EQ(snap->identitiesOnNode("node-1"), want);
  EXPECT_EQ(
      snap->identitiesOnNode("node-2"),
      (std::set<identity::SpiffeId>{*identity::SpiffeId::make("cluster.local", "default", "web")}));
  EXPECT_TRUE(snap->identitiesOnNode("node-9").empty());
  StateUpdate nowhere;
  auto unscheduled = pod("shop", "pending-0", {"10.244.1.40"}, "", "cart");
  nowhere.workloads.push_back(unscheduled);
  auto with_unscheduled = snap->apply(nowhere).snapshot;
  EXPECT_TRUE(with_unscheduled->identitiesOnNode("").empty()) << "no node: on none";
  EXPECT_NE(with_unscheduled->identityOf(*with_unscheduled->workloadByUid(unscheduled.uid)),
            nullptr);
  // A delta that moves the last node-2 workload away empties node-2.
  StateUpdate gone;
  gone.removed_addresses = {"Kubernetes//Pod/default/web-b"};
  auto next = snap->apply(gone).snapshot;
  EXPECT_TRUE(next->identitiesOnNode("node-2").empty());
  EXPECT_EQ(snap->identitiesOnNode("node-2").size(), 1u) << "the old snapshot is unchanged";
  // Each workload's own identity, made once per snapshot; only for the snapshot's workloads.
  const identity::SpiffeId* id = snap->identityOf(*snap->workloadByUid(other.uid));
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->uri(), "spiffe://td.example/ns/shop/sa/cart");
  EXPECT_EQ(snap->identityOf(other), nullptr) << "a copy is not the snapshot's workload";
  ASSERT_TRUE(snap->identity(other)) << "made on the spot for a workload it does not hold";
  EXPECT_EQ(*snap->identity(other), *id);
  auto bad = other;
  bad.service_account = "no/slash";
  EXPECT_FALSE(snap->identity(bad));
  const identity::SpiffeId* again = next->identityOf(*next->workloadByUid(other.uid));
  ASSERT_NE(again, nullptr) << "the next snapshot answers for its own workloads";
  EXPECT_EQ(*again, *id);
  // Workloads of one service account share one identity (one per snapshot, not per workload);
  // the same service account name in another namespace or trust domain is another identity.
  const identity::SpiffeId* web_a =
      snap->identityOf(*snap->workloadByUid("Kubernetes//Pod/default/web-a"));
  const identity::SpiffeId* web_b =
      snap->identityOf(*snap->workloadByUid("Kubernetes//Pod/default/web-b"));
  ASSERT_NE(web_a, nullptr);
  EXPECT_EQ(web_a, web_b);
  EXPECT_EQ(web_a->uri(), "spiffe://cluster.local/ns/default/sa/web");
  StateUpdate twins;
  auto same_sa_elsewhere = pod("shop", "web-0", {"10.244.1.30"}, "node-1", "web");
  auto same_sa_other_td = pod("default", "web-td", {"10.244.1.31"}, "node-1", "web");
  same_sa_other_td.trust_domain = "td.example";
  twins.workloads = {same_sa_elsewhere, same_sa_other_td};
  auto more = snap->apply(twins).snapshot;
  EXPECT_EQ(more->identityOf(*more->workloadByUid(same_sa_elsewhere.uid))->uri(),
            "spiffe://cluster.local/ns/shop/sa/web");
  EXPECT_EQ(more->identityOf(*more->workloadByUid(same_sa_other_td.uid))->uri(),
            "spiffe://td.example/ns/default/sa/web");
  EXPECT_EQ(more->identityOf(*more->workloadByUid("Kubernetes//Pod/default/web-a"))->uri(),
            "spiffe://cluster.local/ns/default/sa/web");
}

TEST(StateSnapshot, PolicyBindingGlobalNamespaceAndSelector) {
  StateUpdate u = baseMesh();
  u.workloads[0].authorization_policies = {"default/sel-allow", "default/missing",
                                           "default/ns-deny"};
  u.policies = {
      policy("warren-system", "mesh-strict", AuthorizationScope::kGlobal,
             AuthorizationAction::kDeny),
      policy("default", "ns-deny", AuthorizationScope::kNamespace, AuthorizationAction::kDeny),
      policy("other", "ns-allow", AuthorizationScope::kNamespace, AuthorizationAction::kAllow),
      policy("default", "sel-allow", AuthorizationScope::kWorkloadSelector,
             AuthorizationAction::kAllow),
      policy("default", "sel-dry", AuthorizationScope::kWorkloadSelector,
             AuthorizationAction::kDeny, true),
  };
  u.workloads[1].authorization_policies = {"default/sel-dry"};
  auto snap = build(u);
  const Workload& a = *snap->workloadByUid("Kubernetes//Pod/default/web-a");
  const Workload& b = *snap->workloadByUid("Kubernetes//Pod/default/web-b");
  auto pa = snap->policiesFor(a);
  ASSERT_NE(pa.global, nullptr);
  ASSERT_EQ(pa.global->deny.size(), 1u);
  EXPECT_EQ(pa.global->deny[0]->key(), "warren-system/mesh-strict");
  ASSERT_NE(pa.namespace_scoped, nullptr);
  ASSERT_EQ(pa.namespace_scoped->deny.size(), 1u);
  EXPECT_TRUE(pa.namespace_scoped->allow.empty()) << "other namespace's policy leaked";
  ASSERT_NE(pa.selected, nullptr);
  // Missing policy skipped; a NAMESPACE policy listed by the workload is not counted twice.
  ASSERT_EQ(pa.selected->allow.size(), 1u);
  EXPECT_TRUE(pa.selected->deny.empty());
  auto pb = snap->policiesFor(b);
  ASSERT_NE(pb.selected, nullptr);
  EXPECT_EQ(pb.selected->dry_run.size(), 1u);
  EXPECT_TRUE(pb.selected->deny.empty()) << "dry-run policies are kept apart";
  // Removing a policy unbinds it.
  StateUpdate rm;
  rm.removed_policies = {"default/sel-allow"};
  auto snap2 = snap->apply(rm).snapshot;
  EXPECT_EQ(snap2->policiesFor(*snap2->workloadByUid(a.uid)).selected, nullptr);
  EXPECT_EQ(snap2->policyCount(), 4u);
}

TEST(StateSnapshot, ConfigDumpJson) {
  StateUpdate u = baseMesh();
  u.workloads[0].waypoint = waypointByHost("default", "waypoint");
  Authorization p = policy("default", "allow-web", AuthorizationScope::kNamespace,
                           AuthorizationAction::kAllow);
  AuthorizationMatch m;
  m.principals = {StringMatch::exact("cluster.local/ns/default/sa/client")};
  m.not_principals = {StringMatch::presence()};
  m.source_ips = {cidr("10.0.0.0/8")};
  m.destination_ports = {8080};
  p.groups = {AuthorizationGroup{{AuthorizationRule{{m}}}}};
  u.policies = {p};
  auto j = build(u)->toJson();
  EXPECT_EQ(j["version"], 1);
  ASSERT_EQ(j["workloads"].size(), 3u);
  nlohmann::json web_a;
  for (const auto& w : j["workloads"]) {
    if (w["name"] == "web-a") web_a = w;
  }
  EXPECT_EQ(web_a["workloadIps"], nlohmann::json::array({"10.244.1.11"}));
  EXPECT_EQ(web_a["protocol"], "HBONE");
  EXPECT_EQ(web_a["identity"], "spiffe://cluster.local/ns/default/sa/web");
  EXPECT_EQ(web_a["waypoint"]["hostname"], "default/waypoint.default.svc.cluster.local");
  EXPECT_EQ(web_a["services"][svcKey("default", "web")]["80"], 8080);
  const auto& svc = j["services"][0];
  EXPECT_EQ(svc["vips"], nlohmann::json::array({"/10.96.0.10", "/fd00:96::10"}));
  EXPECT_EQ(svc["ports"]["80"]["targetPort"], 8080);
  EXPECT_EQ(svc["endpoints"].size(), 2u);
  const auto& pol = j["policies"][0];
  EXPECT_EQ(pol["action"], "ALLOW");
  EXPECT_EQ(pol["scope"], "NAMESPACE");
  const auto& match = pol["groups"][0][0][0];
  EXPECT_EQ(match["principals"][0]["exact"], "cluster.local/ns/default/sa/client");
  EXPECT_TRUE(match["notPrincipals"][0].contains("presence"));
  EXPECT_EQ(match["sourceIps"][0], "10.0.0.0/8");
  EXPECT_EQ(match["destinationPorts"][0], 8080);
  EXPECT_FALSE(match.contains("namespaces")) << "unused fields are omitted";
  // Dumps are valid JSON that round-trips through text.
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

}  // namespace
}  // namespace warren::mesh
