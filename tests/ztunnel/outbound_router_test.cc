#include "ztunnel/routing/outbound_router.h"

#include <gtest/gtest.h>

#include <map>

#include "mesh/routing/endpoint_selector.h"
#include "tests/mesh/mesh_fixture.h"

namespace warren::ztunnel {
namespace {

using namespace mesh::testing;

const std::string kWeb = svcKey("default", "web");
const std::string kNamed = svcKey("default", "named");
const std::string kWaypoint = svcKey("default", "waypoint");

std::string id(std::string ns, std::string sa) {
  return "spiffe://cluster.local/ns/" + ns + "/sa/" + sa;
}
identity::SpiffeId sid(std::string ns, std::string sa) {
  return *identity::SpiffeId::make("cluster.local", ns, sa);
}

// A two-node mesh with every routing situation in it.
std::shared_ptr<const mesh::StateSnapshot> mesh() {
  mesh::StateUpdate u;
  auto client = pod("default", "client", {"10.244.1.10"}, "node-1", "client");
  auto web0 = pod("default", "web-0", {"10.244.1.11"}, "node-1", "web");
  auto web1 = pod("default", "web-1", {"10.244.2.11", "fd00::2:11"}, "node-2", "web");
  auto web2 = pod("default", "web-2", {"10.244.2.12"}, "node-2", "web");
  web2.status = mesh::WorkloadStatus::kUnhealthy;
  for (auto* w : {&web0, &web1, &web2}) w->services[kWeb] = {{80, 8080}};

  // Named target port: the Service says 0, each endpoint resolves it differently.
  auto named0 = pod("default", "named-0", {"10.244.1.20"}, "node-1", "named");
  named0.services[kNamed] = {{80, 9000}};
  auto named1 = pod("default", "named-1", {"10.244.2.20"}, "node-2", "named");
  named1.services[kNamed] = {{80, 9001}};
  auto named2 = pod("default", "named-2", {"10.244.2.21"}, "node-2", "named");
  named2.services[kNamed] = {{443, 9443}};  // lacks the port: never picked for :80

  auto plain =
      pod("legacy", "plain", {"10.244.2.30"}, "node-2", "default", mesh::TunnelProtocol::kNone);
  plain.services[svcKey("legacy", "plain")] = {{80, 8080}};

  auto wp = pod("default", "waypoint-0", {"10.244.2.40"}, "node-2", "waypoint");
  wp.services[kWaypoint] = {{15008, 15008}};
  auto reviews = pod("default", "reviews-0", {"10.244.1.41"}, "node-1", "reviews");
  reviews.services[svcKey("default", "reviews")] = {{9080, 9080}};
  auto db = pod("default", "db-0", {"10.244.2.42"}, "node-2", "db");
  db.waypoint = waypointByIp("10.244.2.40");

  u.workloads = {client, web0, web1, web2, named0, named1, named2, plain, wp, reviews, db};

  auto web = service("default", "web", {"10.96.0.10", "fd00:96::10"}, {{80, 8080}});
  web.subject_alt_names = {sid("default", "web-extra")};
  auto named = service("default", "named", {"10.96.0.11"}, {{80, 0}});
  auto plain_svc = service("legacy", "plain", {"10.96.0.12"}, {{80, 8080}});
  auto reviews_svc = service("default", "reviews", {"10.96.0.13"}, {{9080, 9080}});
  reviews_svc.waypoint = waypointByHost("default", "waypoint");
  auto waypoint_svc = service("default", "waypoint", {"10.96.0.50"}, {{15008, 15008}});
  auto empty = service("default", "empty", {"10.96.0.14"}, {{80, 8080}});
  auto pass = service("default", "external", {"10.96.0.15"}, {{443, 443}});
  pass.load_balancing = mesh::LoadBalancing{{}, mesh::LoadBalancingMode::kPassthrough, {}};
  auto lost = service("default", "lost", {"10.96.0.16"}, {{80, 80}});
  lost.waypoint = waypointByHost("default", "gone");
  u.services = {web, named, plain_svc, reviews_svc, waypoint_svc, empty, pass, lost};
  return build(u);
}

struct Expect {
  std::string type;  // hbone | passthrough | error
  std::vector<std::string> connect_to_any;  // or the error kind
  std::string authority;                    // checked when connect_to has one element
  std::vector<std::string> identities;
  bool to_waypoint = false;
};

struct Case {
  std::string name;
  std::string source;  // pod name in default ns, or "legacy/plain"
  std::string dst;
  Expect want;
};

const mesh::Workload& source(const mesh::StateSnapshot& s, const std::string& name) {
  std::string uid = "Kubernetes//Pod/" +
                    (name.find('/') == std::string::npos ? "default/" + name : name);
  const mesh::Workload* w = s.workloadByUid(uid);
  EXPECT_NE(w, nullptr) << uid;
  return *w;
}

TEST(OutboundRouter, DecisionTable) {
  auto snap = mesh();
  const Case cases[] = {
      {"pod IP on another node: HBONE to pod:15008, authority pod:port",
       "client", "10.244.2.11:8080",
       {"hbone", {"10.244.2.11:15008"}, "10.244.2.11:8080", {id("default", "web")}}},
      {"hairpin to a pod on the same node: same rule, no shortcut",
       "client", "10.244.1.11:8080",
       {"hbone", {"10.244.1.11:15008"}, "10.244.1.11:8080", {id("default", "web")}}},
      {"pod to itself", "web-0", "10.244.1.11:8080",
       {"hbone", {"10.244.1.11:15008"}, "10.244.1.11:8080", {id("default", "web")}}},
      {"VIP: a healthy endpoint, target port, identity + service SANs", "client",
       "10.96.0.10:80",
       {"hbone", {"10.244.1.11:15008", "10.244.2.11:15008"}, "", {}}},
      {"IPv6 VIP: the endpoint's v6 address, bracketed authority", "client",
       "[fd00:96::10]:80",
       {"hbone", {"[fd00::2:11]:15008", "10.244.1.11:15008"}, "", {}}},
      {"named target port resolved per endpoint", "client", "10.96.0.11:80",
       {"hbone", {"10.244.1.20:15008", "10.244.2.20:15008"}, "", {}}},
      {"VIP port not in service: error, never plaintext", "client", "10.96.0.10:81",
       {"error", {"unknown_service_port"}, "", {}}},
      {"service without healthy endpoints: no healthy upstream", "client", "10.96.0.14:80",
       {"error", {"no_healthy_upstream"}, "", {}}},
      {"service waypoint: HBONE to waypoint, authority = VIP:port", "client",
       "10.96.0.13:9080",
       {"hbone", {"10.244.2.40:15008"}, "10.96.0.13:9080", {id("default", "waypoint")}, true}},
      {"traffic from the waypoint itself goes to the endpoint", "waypoint-0",
       "10.96.0.13:9080",
       {"hbone", {"10.244.1.41:15008"}, "10.244.1.41:9080", {id("default", "reviews")}}},
      {"workload waypoint for pod-addressed traffic", "client", "10.244.2.42:5432",
       {"hbone", {"10.244.2.40:15008"}, "10.244.2.42:5432", {id("default", "waypoint")}, true}},
      {"workload waypoint skipped when the source is the waypoint", "waypoint-0",
       "10.244.2.42:5432",
       {"hbone", {"10.244.2.42:15008"}, "10.244.2.42:5432", {id("default", "db")}}},
      {"waypoint that does not exist: error", "client", "10.96.0.16:80",
       {"error", {"unknown_waypoint"}, "", {}}},
      {"unknown IP: passthrough to the original destination", "client", "93.184.216.34:443",
       {"passthrough", {"93.184.216.34:443"}, "", {}}},
      {"pod not enrolled: passthrough", "client", "10.244.2.30:8080",
       {"passthrough", {"10.244.2.30:8080"}, "", {}}},
      {"service backed by a pod not enrolled: plain TCP to endpoint:target", "client",
       "10.96.0.12:80", {"passthrough", {"10.244.2.30:8080"}, "", {}}},
      {"PASSTHROUGH service: plain TCP to the original VIP", "client", "10.96.0.15:443",
       {"passthrough", {"10.96.0.15:443"}, "", {}}},
  };
  mesh::SeededRandom random(42);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto d = buildRequest(*snap, source(*snap, c.source), sock(c.dst), random);
    auto j = toJson(d);
    ASSERT_EQ(j["type"], c.want.type) << j.dump();
    if (c.want.type == "error") {
      EXPECT_EQ(j["kind"], c.want.connect_to_any[0]) << j.dump();
      EXPECT_FALSE(j["detail"].get<std::string>().empty());
      continue;
    }
    auto got = j["connectTo"].get<std::string>();
    EXPECT_NE(std::find(c.want.connect_to_any.begin(), c.want.connect_to_any.end(), got),
              c.want.connect_to_any.end())
        << j.dump();
    if (c.want.connect_to_any.size() == 1 && !c.want.authority.empty()) {
      EXPECT_EQ(j["authority"], c.want.authority);
    }
    if (!c.want.identities.empty()) {
      EXPECT_EQ(j["expectedIdentities"], c.want.identities);
    }
    if (c.want.type == "hbone") {
      EXPECT_EQ(j["toWaypoint"], c.want.to_waypoint);
    }
  }
}

TEST(OutboundRouter, VipHboneCarriesTargetPortAndServiceIdentities) {
  auto snap = mesh();
  mesh::SeededRandom random(7);
  for (int i = 0; i < 50; ++i) {
    auto d = buildRequest(*snap, source(*snap, "client"), sock("10.96.0.10:80"), random);
    const auto* h = std::get_if<mesh::HboneRoute>(&d);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->authority, hbone::Authority(h->connect_to.withPort(8080)));
    EXPECT_EQ(h->expected_identities, (std::vector<identity::SpiffeId>{
                                          sid("default", "web"), sid("default", "web-extra")}));
    EXPECT_EQ(h->destination_service, kWeb);
    EXPECT_EQ(h->service_hostname, "web.default.svc.cluster.local");
  }
}

TEST(OutboundRouter, NamedTargetPortsFollowTheChosenEndpoint) {
  auto snap = mesh();
  mesh::SeededRandom random(3);
  std::map<std::string, int> seen;
  for (int i = 0; i < 200; ++i) {
    auto d = buildRequest(*snap, source(*snap, "client"), sock("10.96.0.11:80"), random);
    const auto* h = std::get_if<mesh::HboneRoute>(&d);
    ASSERT_NE(h, nullptr);
    seen[hbone::authorityToString(h->authority)]++;
  }
  // named-2 lacks a mapping for :80 and is never chosen.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_GT(seen["10.244.1.20:9000"], 0);
  EXPECT_GT(seen["10.244.2.20:9001"], 0);
}

TEST(OutboundRouter, SpreadsUniformlyOverHealthyEndpointsOnly) {
  auto snap = mesh();
  mesh::SeededRandom random(12345);
  std::map<std::string, int> hits;
  constexpr int kDraws = 4000;
  for (int i = 0; i < kDraws; ++i) {
    auto d = buildRequest(*snap, source(*snap, "client"), sock("10.96.0.10:80"), random);
    hits[std::get<mesh::HboneRoute>(d).destination_workload_uid]++;
  }
  EXPECT_EQ(hits.count("Kubernetes//Pod/default/web-2"), 0u) << "unhealthy endpoint chosen";
  ASSERT_EQ(hits.size(), 2u);
  for (const auto& [uid, n] : hits) {
    // Expected 2000 each; binomial sd ~32, so +-10% is > 6 sd.
    EXPECT_GT(n, kDraws / 2 * 9 / 10) << uid;
    EXPECT_LT(n, kDraws / 2 * 11 / 10) << uid;
  }
  // Same seed, same choices: decisions are reproducible.
  mesh::SeededRandom a(99), b(99);
  for (int i = 0; i < 20; ++i) {
    auto da = buildRequest(*snap, source(*snap, "client"), sock("10.96.0.10:80"), a);
    auto db = buildRequest(*snap, source(*snap, "client"), sock("10.96.0.10:80"), b);
    EXPECT_EQ(toJson(da), toJson(db));
  }
}

// Endpoint selection details: capacity weights, health policy, routing preference.
struct LbMesh {
  std::shared_ptr<const mesh::StateSnapshot> snap;
  const mesh::Workload* client;
  const mesh::Service* svc;
};

LbMesh lbMesh(std::optional<mesh::LoadBalancing> lb, uint32_t cap_a, uint32_t cap_b,
              bool b_healthy = true) {
  mesh::StateUpdate u;
  auto client = pod("default", "client", {"10.244.1.10"}, "node-1");
  client.locality = {"eu", "eu-1a", ""};
  auto a = pod("default", "a", {"10.244.1.11"}, "node-1");
  a.locality = {"eu", "eu-1a", ""};
  a.capacity = cap_a;
  auto b = pod("default", "b", {"10.244.2.11"}, "node-2");
  b.locality = {"eu", "eu-1b", ""};
  b.capacity = cap_b;
  if (!b_healthy) b.status = mesh::WorkloadStatus::kUnhealthy;
  a.services[kWeb] = b.services[kWeb] = {{80, 8080}};
  u.workloads = {client, a, b};
  auto s = service("default", "web", {"10.96.0.10"}, {{80, 8080}});
  s.load_balancing = lb;
  u.services = {s};
  LbMesh m;
  m.snap = build(u);
  m.client = m.snap->workloadByUid("Kubernetes//Pod/default/client");
  m.svc = m.snap->serviceByVip({"", ip("10.96.0.10")});
  return m;
}

std::map<std::string, int> draw(const LbMesh& m, int n, uint64_t seed = 1) {
  mesh::SeededRandom random(seed);
  std::map<std::string, int> hits;
  for (int i = 0; i < n; ++i) {
    auto ep = mesh::selectEndpoint(*m.snap, *m.svc, 80, *m.client, random);
    hits[ep ? ep->workload->name : "none"]++;
  }
  return hits;
}

TEST(EndpointSelector, CapacityWeights) {
  auto hits = draw(lbMesh(std::nullopt, 1, 3), 4000);
  EXPECT_GT(hits["b"], 2700);  // expected 3000
  EXPECT_LT(hits["b"], 3300);
  auto zero = draw(lbMesh(std::nullopt, 0, 5), 100);
  EXPECT_EQ(zero["b"], 100) << "capacity 0 takes no traffic while others have weight";
  auto allzero = draw(lbMesh(std::nullopt, 0, 0), 400);
  EXPECT_GT(allzero["a"], 100);
  EXPECT_GT(allzero["b"], 100);
}

TEST(EndpointSelector, HealthPolicyAndRoutingPreference) {
  using S = mesh::LoadBalancingScope;
  using M = mesh::LoadBalancingMode;
  EXPECT_EQ(draw(lbMesh(std::nullopt, 1, 1, false), 50)["a"], 50);
  auto all = draw(
      lbMesh(mesh::LoadBalancing{{}, M::kUnspecified, mesh::HealthPolicy::kAllowAll}, 1, 1, false),
      400);
  EXPECT_GT(all["b"], 100) << "ALLOW_ALL keeps unhealthy endpoints";
  // FAILOVER: prefer the same zone, fall back when it is empty.
  EXPECT_EQ(
      draw(lbMesh(mesh::LoadBalancing{{S::kRegion, S::kZone}, M::kFailover, {}}, 1, 1), 50)["a"],
      50);
  EXPECT_EQ(draw(lbMesh(mesh::LoadBalancing{{S::kNode}, M::kFailover, {}}, 1, 1, true), 50)["a"],
            50);
  // STRICT: only same-node endpoints; with the only one unhealthy there is none.
  EXPECT_EQ(draw(lbMesh(mesh::LoadBalancing{{S::kNode}, M::kStrict, {}}, 1, 1), 50)["a"], 50);
  mesh::StateUpdate drop;
  drop.removed_addresses = {"Kubernetes//Pod/default/a"};
  auto m = lbMesh(mesh::LoadBalancing{{S::kNode}, M::kStrict, {}}, 1, 1);
  m.snap = m.snap->apply(drop).snapshot;
  m.client = m.snap->workloadByUid("Kubernetes//Pod/default/client");
  m.svc = m.snap->serviceByVip({"", ip("10.96.0.10")});
  EXPECT_EQ(draw(m, 10)["none"], 10);
  auto fo = lbMesh(mesh::LoadBalancing{{S::kNode}, M::kFailover, {}}, 1, 1);
  fo.snap = fo.snap->apply(drop).snapshot;
  fo.client = fo.snap->workloadByUid("Kubernetes//Pod/default/client");
  fo.svc = fo.snap->serviceByVip({"", ip("10.96.0.10")});
  EXPECT_EQ(draw(fo, 10)["b"], 10) << "FAILOVER falls back to another node";
}

}  // namespace
}  // namespace warren::ztunnel
