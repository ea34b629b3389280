#include "lab/lab_state.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace warren::lab {
namespace {

class LabStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-labstate-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

// `up --agent-flag` is remembered in state.json so that `restart node-N agent` passes it again.
TEST_F(LabStateTest, AgentFlagsSurviveSaveAndLoad) {
  LabState s;
  s.name = "wl";
  s.dir = dir_;
  s.nodes = 2;
  s.bin_dir = "/bin";
  s.cgroup_mount = "/sys/fs/cgroup";
  s.ready = true;
  s.agent_flags = {"--sockmap-fast-path", "--x=y"};
  s.daemonsets = "/src/deploy/base/node";
  s.runtime = "podman";
  s.image_tag = "git-0123456789ab";
  s.components["node-1"]["agent"] = ComponentState{42,
                                                   {"/bin/warren-agent", "--sockmap-fast-path"},
                                                   "warren-agent",
                                                   "warren-agent-x7k2p",
                                                   "wl-node-1-warren-agent-x7k2p-agent"};
  ASSERT_TRUE(s.save());
  auto back = LabState::load(dir_);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->agent_flags, s.agent_flags);
  EXPECT_EQ(back->daemonsets, s.daemonsets);
  EXPECT_EQ(back->runtime, "podman");
  EXPECT_EQ(back->image_tag, s.image_tag);
  const auto& a = back->components["node-1"]["agent"];
  EXPECT_EQ(a.argv, s.components["node-1"]["agent"].argv);
  EXPECT_EQ(a.daemonset, "warren-agent");
  EXPECT_EQ(a.pod, "warren-agent-x7k2p");
  EXPECT_EQ(a.container_id, "wl-node-1-warren-agent-x7k2p-agent");
}

TEST_F(LabStateTest, StateWithoutAgentFlagsLoadsWithNone) {
  ASSERT_TRUE(writeFileAtomic(LabState::pathIn(dir_),
                              R"({"name":"wl","dir":"/d","nodes":1,"binDir":"/b",)"
                              R"("cgroupMount":"/c","ready":true})"));
  auto s = LabState::load(dir_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->agent_flags.empty());
  EXPECT_EQ(s->runtime, "process");
}

TEST_F(LabStateTest, AgentFlagsOfTheWrongTypeAreAnError) {
  ASSERT_TRUE(writeFileAtomic(LabState::pathIn(dir_),
                              R"({"name":"wl","dir":"/d","nodes":1,"binDir":"/b",)"
                              R"("cgroupMount":"/c","agentFlags":"--oops"})"));
  auto s = LabState::load(dir_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("state.json"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace warren::lab
