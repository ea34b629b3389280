// selectEndpointLeastRequest: the waypoint's load balancing (power of two choices over the
// candidates selectEndpoint would draw from).
#include "mesh/routing/endpoint_selector.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/mesh/mesh_fixture.h"

namespace warren::mesh {
namespace {

using testing::build;
using testing::pod;
using testing::service;
using testing::svcKey;

struct Fixture {
  std::shared_ptr<const StateSnapshot> snap;
  const Service* svc = nullptr;
  Workload source = pod("shop", "waypoint", {"10.244.9.9"}, "node-1");
};

// shop/echo with endpoints a, b, c (c unhealthy) on target port 3000.
Fixture threeEndpoints() {
  StateUpdate u;
  u.services.push_back(service("shop", "echo", {"10.96.0.10"}, {{80, 3000}}));
  for (auto [name, addr, healthy] :
       {std::tuple{"a", "10.244.1.1", true}, std::tuple{"b", "10.244.1.2", true},
        std::tuple{"c", "10.244.1.3", false}}) {
    Workload w = pod("shop", name, {addr}, "node-1", "echo");
    w.services[svcKey("shop", "echo")] = {{80, 3000}};
    if (!healthy) w.status = WorkloadStatus::kUnhealthy;
    u.workloads.push_back(std::move(w));
  }
  Fixture f;
  f.snap = build(u);
  f.svc = f.snap->serviceByVip(NetworkAddress{"", testing::ip("10.96.0.10")});
  return f;
}

TEST(SelectEndpointLeastRequest, PicksTheLessLoadedOfTwoHealthyOnes) {
  Fixture f = threeEndpoints();
  ASSERT_NE(f.svc, nullptr);
  struct Row {
    uint32_t a, b;
    const char* expect;  // always, whatever the draw
  };
  for (const Row& row : {Row{5, 0, "b"}, Row{0, 5, "a"}, Row{1, 2, "a"}, Row{9, 3, "b"}}) {
    std::map<std::string, uint32_t> active = {{"Kubernetes//Pod/shop/a", row.a},
                                              {"Kubernetes//Pod/shop/b", row.b}};
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      SeededRandom r(seed);
      auto ep = selectEndpointLeastRequest(*f.snap, *f.svc, 80, f.source, r,
                                           [&](const Workload& w) { return active[w.uid]; });
      ASSERT_TRUE(ep);
      EXPECT_EQ(ep->workload->name, row.expect) << row.a << "/" << row.b << " seed " << seed;
      EXPECT_EQ(ep->target_port, 3000);
    }
  }
}

TEST(SelectEndpointLeastRequest, TiesSpreadAndUnhealthyNeverChosen) {
  Fixture f = threeEndpoints();
  std::map<std::string, int> seen;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SeededRandom r(seed);
    auto ep = selectEndpointLeastRequest(*f.snap, *f.svc, 80, f.source, r,
                                         [](const Workload&) { return 0u; });
    ASSERT_TRUE(ep);
    ++seen[ep->workload->name];
  }
  EXPECT_EQ(seen.count("c"), 0u);
  EXPECT_GT(seen["a"], 50);
  EXPECT_GT(seen["b"], 50);
}

TEST(SelectEndpointLeastRequest, NoCandidateNoEndpoint) {
  Fixture f = threeEndpoints();
  SeededRandom r(1);
  EXPECT_FALSE(selectEndpointLeastRequest(*f.snap, *f.svc, 81, f.source, r,
                                          [](const Workload&) { return 0u; }));
}

}  // namespace
}  // namespace warren::mesh
