#include "lab/cgroup_tree.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/kernel_mounts.h"
#include "lab/process.h"

namespace warren::lab {
namespace {

TEST(CgroupTreeTest, KillsEverythingInsideAndRemovesTheTree) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  auto mount = cgroup2Mount();
  if (!mount) GTEST_SKIP() << mount.error().message();
  std::string root = *mount + "/warren-lab-unit-" + std::to_string(::getpid());
  std::string leaf = root + "/node-1/pod-a";
  ASSERT_TRUE(CgroupTree::create(leaf));
  EXPECT_TRUE(CgroupTree::exists(leaf));
  // A process that forks a child of its own: both must die with the cgroup.
  auto pid = spawnDetached({{"/bin/sh", "-c", "sleep 30 & sleep 30"}, "", leaf, "/dev/null"});
  ASSERT_TRUE(pid) << pid.error().message();
  for (int i = 0; i < 100 && CgroupTree::procsRecursive(root).size() < 2; ++i) ::usleep(10000);
  EXPECT_GE(CgroupTree::procsRecursive(root).size(), 2u);  // sh and its sleeps
  EXPECT_TRUE(CgroupTree::procs(root).empty());            // members are in the leaf only
  ASSERT_TRUE(CgroupTree::remove(root));
  EXPECT_FALSE(std::filesystem::exists(root));
  EXPECT_FALSE(processAlive(*pid));
  EXPECT_TRUE(CgroupTree::remove(root));  // missing is fine
}

}  // namespace
}  // namespace warren::lab
