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
  s.components["node-1"]["agent"] =
      ComponentState{42, {"/bin/warren-agent", "--sockmap-fast-path"}};
  ASSERT_TRUE(s.save());
  auto back = LabState::load(dir_);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->agent_flags, s.agent_flags);
  EXPECT_EQ(back->components["node-1"]["agent"].argv, s.components["node-1"]["agent"].argv);
}

TEST_F(LabStateTest, StateWithoutAgentFlagsLoadsWithNone) {
  ASSERT_TRUE(writeFileAtomic(LabState::pathIn(dir_),
                              R"({"name":"wl","dir":"/d","nodes":1,"binDir":"/b",)"
                              R"("cgroupMount":"/c","ready":true})"));
  auto s = LabState::load(dir_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->agent_flags.empty());
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
