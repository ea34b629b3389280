#include "common/kernel_mounts.h"

#include <gtest/gtest.h>

namespace warren {
namespace {

// A hybrid host (v1 controllers plus v2 at /sys/fs/cgroup/unified), as on the CI machines.
constexpr const char* kHybrid =
    "25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
    "31 25 0:26 / /sys/fs/cgroup rw shared:9 - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
    "33 31 0:28 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n";

constexpr const char* kUnified =
    "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(KernelMounts, FindsHybridCgroup2) {
  auto m = findMountOfType(kHybrid, "cgroup2");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(*m, "/sys/fs/cgroup/unified");
}

TEST(KernelMounts, FindsUnifiedCgroup2) {
  auto m = findMountOfType(kUnified, "cgroup2");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "/sys/fs/cgroup");
}

TEST(KernelMounts, DistinguishesV1FromV2) {
  auto m = findMountOfType("33 31 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "cgroup2");
  EXPECT_FALSE(m);
}

TEST(KernelMounts, UnescapesOctal) {
  auto m = findMountOfType("40 25 0:40 / /mnt/with\\040space rw - bpf bpf rw\n", "bpf");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "/mnt/with space");
}

TEST(KernelMounts, OptionalFieldsBeforeSeparator) {
  auto m = findMountOfType("41 25 0:41 / /sys/fs/bpf rw shared:1 master:2 - bpf bpf rw\n", "bpf");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "/sys/fs/bpf");
}

TEST(KernelMounts, ThisHostHasCgroup2) {
  auto m = cgroup2Mount();
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_FALSE(m->empty());
}

}  // namespace
}  // namespace warren
