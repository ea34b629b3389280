#include "lab/scheduler.h"

#include <gtest/gtest.h>

namespace warren::lab {
namespace {

TEST(RunByLabTest, Table) {
  struct Case {
    std::string node_name;
    bool want;
  } cases[] = {
      {"", true},            // unbound: the lab schedules it
      {"node-1", true},      // a lab node
      {"node-9", true},      // a lab node name (this lab may lack it: pickNode reports that)
      {"node-99", false},    // past LabNames::kMaxNodes: no lab node name
      {"virtual-1", false},  // another kubelet's node (the scale run's synthetic workloads)
      {"node", false},       // not node-<i>
      {"node-x", false},
  };
  for (const auto& c : cases) EXPECT_EQ(runByLab(c.node_name), c.want) << c.node_name;
}

TEST(PickNodeTest, Table) {
  std::vector<NodeLoad> nodes = {{"node-1", 2}, {"node-2", 1}, {"node-3", 1}};
  struct Case {
    std::string requested;
    std::vector<NodeLoad> nodes;
    std::string want;  // "" = error
  } cases[] = {
      {"", nodes, "node-2"},        // least pods, first on ties
      {"node-1", nodes, "node-1"},  // nodeName wins over load
      {"node-9", nodes, ""},        // unknown node
      {"", {{"node-1", 0}, {"node-2", 0}}, "node-1"},
      {"", {{"node-1", 1}, {"node-2", 0}}, "node-2"},
      {"", {}, ""},
  };
  for (const auto& c : cases) {
    auto got = pickNode(c.requested, c.nodes);
    if (c.want.empty()) {
      EXPECT_FALSE(got) << c.requested;
    } else {
      ASSERT_TRUE(got) << got.error().message();
      EXPECT_EQ(*got, c.want);
    }
  }
}

TEST(PickNodeTest, SpreadsReplicasWhenLoadIsUpdated) {
  std::vector<NodeLoad> nodes = {{"node-1", 0}, {"node-2", 0}};
  std::vector<std::string> placed;
  for (int i = 0; i < 4; ++i) {
    auto n = pickNode("", nodes);
    ASSERT_TRUE(n);
    placed.push_back(*n);
    for (auto& l : nodes)
      if (l.name == *n) ++l.pods;
  }
  EXPECT_EQ(placed, (std::vector<std::string>{"node-1", "node-2", "node-1", "node-2"}));
}

TEST(ClusterIpTest, AllocatesLowestFree) {
  EXPECT_EQ(*allocateClusterIp({}), "10.96.0.1");
  EXPECT_EQ(*allocateClusterIp({"10.96.0.1", "10.96.0.3"}), "10.96.0.2");
  std::set<std::string> full;
  for (int i = 1; i < 256; ++i) full.insert("10.96.0." + std::to_string(i));
  EXPECT_EQ(*allocateClusterIp(full), "10.96.1.0");
}

TEST(ClusterIpTest, Range) {
  EXPECT_TRUE(inServiceCidr("10.96.0.1"));
  EXPECT_TRUE(inServiceCidr("10.96.255.254"));
  EXPECT_FALSE(inServiceCidr("10.97.0.1"));
  EXPECT_FALSE(inServiceCidr("10.244.1.2"));
  EXPECT_FALSE(inServiceCidr("not-an-ip"));
}

}  // namespace
}  // namespace warren::lab
