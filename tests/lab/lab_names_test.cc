#include "lab/lab_names.h"

#include <gtest/gtest.h>

namespace warren::lab {
namespace {

TEST(LabNameTest, AcceptsAndRejects) {
  struct Case {
    const char* name;
    bool ok;
  } cases[] = {
      {"wl", true},          {"e2e-basic-123", true}, {"a", true},
      {"", false},           {"Wl", false},           {"1lab", false},
      {"lab-", false},       {"a--b", false},         {"a_b", false},
      {"x-node-1", false},   {"pod", false},          {"my-ul", false},
      {"abcdefghijklmnopqrstuvwxy", false},  // 25 characters
  };
  for (const auto& c : cases) EXPECT_EQ(validateLabName(c.name).has_value(), c.ok) << c.name;
}

TEST(LabNamesTest, NetnsNamesAndClassification) {
  LabNames n("wl", "/sys/fs/cgroup");
  EXPECT_EQ(n.underlayNetns(), "wl-ul");
  EXPECT_EQ(n.nodeNetns(3), "wl-node-3");
  EXPECT_EQ(n.podNetns("default", "web-0"), "wl-pod-default_web-0");
  EXPECT_EQ(LabNames::netnsPath("wl-node-1"), "/run/netns/wl-node-1");
  using K = LabNames::NetnsKind;
  EXPECT_EQ(n.classifyNetns("wl-ul"), K::kUnderlay);
  EXPECT_EQ(n.classifyNetns("wl-node-12"), K::kNode);
  EXPECT_EQ(n.classifyNetns("wl-pod-default_web-0"), K::kPod);
  // Other labs whose names start with ours are never ours.
  EXPECT_FALSE(n.classifyNetns("wl-2-node-1"));
  EXPECT_FALSE(n.classifyNetns("wl-2-ul"));
  EXPECT_FALSE(n.classifyNetns("wl-x-pod-default_a"));
  EXPECT_FALSE(n.classifyNetns("wl-node-01"));
  EXPECT_FALSE(n.classifyNetns("wl-node-"));
  EXPECT_FALSE(n.classifyNetns("wlx-node-1"));
  EXPECT_FALSE(n.classifyNetns("other"));
  LabNames m("wl-2", "/sys/fs/cgroup");
  EXPECT_EQ(m.classifyNetns("wl-2-node-1"), K::kNode);
  EXPECT_FALSE(m.classifyNetns("wl-node-1"));
}

TEST(LabNamesTest, InterfaceNamesFitInIfnamsiz) {
  for (int i = 1; i <= LabNames::kMaxNodes; ++i) EXPECT_LE(LabNames::underlayPort(i).size(), 15u);
  EXPECT_LE(LabNames::underlayBridge().size(), 15u);
  EXPECT_LE(LabNames::nodeUplink().size(), 15u);
  EXPECT_LE(LabNames::cniBridge().size(), 15u);
  EXPECT_NE(LabNames::underlayPort(1), LabNames::underlayPort(11));
}

TEST(LabNamesTest, AddressesAndCgroups) {
  LabNames n("lab1", "/sys/fs/cgroup/unified");
  EXPECT_EQ(LabNames::podCidr(2), "10.244.2.0/24");
  EXPECT_EQ(LabNames::podGateway(2), "10.244.2.1");
  EXPECT_EQ(LabNames::nodeIp(1), "192.168.100.11");
  EXPECT_EQ(n.nodeCgroup(1), "/sys/fs/cgroup/unified/lab1/node-1");
  EXPECT_EQ(n.podCgroup(2, "demo", "web-0"), "/sys/fs/cgroup/unified/lab1/node-2/pod-demo-web-0");
  EXPECT_EQ(n.componentCgroup(1, "agent"), "/sys/fs/cgroup/unified/lab1/node-1/system-agent");
}

TEST(LabNamesTest, NodeNames) {
  EXPECT_EQ(LabNames::nodeName(4), "node-4");
  EXPECT_EQ(LabNames::parseNodeName("node-4"), 4);
  EXPECT_FALSE(LabNames::parseNodeName("node-0"));
  EXPECT_FALSE(LabNames::parseNodeName("node-"));
  EXPECT_FALSE(LabNames::parseNodeName("node-x"));
  EXPECT_FALSE(LabNames::parseNodeName("node-51"));
  EXPECT_FALSE(LabNames::parseNodeName("nod-1"));
}

TEST(LabNamesTest, PinDirs) {
  LabNames def("wl", "/c");
  EXPECT_EQ(def.pinDir(2), "/sys/fs/bpf/warren/node-2");
  EXPECT_TRUE(def.isOwnPinDir("node-2"));
  EXPECT_FALSE(def.isOwnPinDir("lab1-node-2"));
  LabNames other("lab1", "/c");
  EXPECT_EQ(other.pinDir(2), "/sys/fs/bpf/warren/lab1-node-2");
  EXPECT_TRUE(other.isOwnPinDir("lab1-node-2"));
  EXPECT_FALSE(other.isOwnPinDir("node-2"));
  EXPECT_FALSE(other.isOwnPinDir("lab1-x-node-2"));
}

}  // namespace
}  // namespace warren::lab
