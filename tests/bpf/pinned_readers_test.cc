// The pin readers (pinned_counters, pinned_inventory) against the real kernel (root): what they
// report must be what the loader created, with the ids the kernel gives (what bpftool shows),
// and the counters must be the per-CPU sums the loader itself reads.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "bpf/loader/pin_dir.h"
#include "bpf/loader/pinned_counters.h"
#include "bpf/loader/pinned_inventory.h"
#include "bpf/loader/redirect_dataplane.h"
#include "bpf_test_env.h"
#include "common/netns.h"

namespace warren::redirect {
namespace {

TEST(PinnedCounters, NamesComeFromTheAbiTableAndUnknownIndicesStillGetOne) {
  EXPECT_EQ(counterName(WARREN_CNT_CONNECT_REDIRECTED), "connect_redirected");
  EXPECT_EQ(counterName(WARREN_CNT_LOOKUP_NO_LISTENER), "lookup_no_listener");
  EXPECT_EQ(counterName(WARREN_CNT_MAX + 3), "counter_" + std::to_string(WARREN_CNT_MAX + 3));
  std::set<std::string> names;
  for (uint32_t i = 0; i < WARREN_CNT_MAX; ++i) names.insert(counterName(i));
  EXPECT_EQ(names.size(), size_t(WARREN_CNT_MAX)) << "names must be distinct";
}

TEST(PinnedReaders, MissingPinDirIsNotFound) {
  auto c = readPinnedCounters("/sys/fs/bpf/warren-no-such-dir");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  auto i = readPinnedInventory("/sys/fs/bpf/warren-no-such-dir");
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().code(), ErrorCode::kNotFound);
}

class PinnedReadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    ASSERT_TRUE(cgroup_.ok()) << "cannot create a test cgroup";
  }
  testing::TempPinDir pins_;
  testing::TempCgroup cgroup_;
};

TEST_F(PinnedReadersTest, InventoryListsEveryLinkAndProgramWithKernelIds) {
  cgroup_.enter();
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  UniqueFd netns = testing::makeNetns();
  ASSERT_TRUE(netns);
  auto cookie = netnsCookie(netns.get());
  ASSERT_TRUE(cookie);
  ASSERT_TRUE(dp->reconcile({{*cookie, netns.get()}}));

  auto inv = readPinnedInventory(pins_.path());
  ASSERT_TRUE(inv) << inv.error().message();
  EXPECT_EQ(inv->enrolled_cookies, std::set<uint64_t>{*cookie});
  struct stat cg {};
  ASSERT_EQ(::stat(cgroup_.path().c_str(), &cg), 0);
  std::map<std::string, PinnedLink> by_attach;
  for (const auto& l : inv->links) by_attach[l.attach_type] = l;
  ASSERT_EQ(inv->links.size(), 5u);
  for (const char* a : {"cgroup/connect4", "cgroup/connect6", "sockops", "cgroup/getsockopt"}) {
    ASSERT_TRUE(by_attach.contains(a)) << a;
    const PinnedLink& l = by_attach[a];
    EXPECT_EQ(l.type, "cgroup");
    EXPECT_EQ(l.cgroup_id, cg.st_ino) << "cgroup id is the cgroup directory's inode";
    auto fd = openPin(l.pin);
    ASSERT_TRUE(fd);
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd->get(), &info, &len), 0);
    EXPECT_EQ(l.id, info.id);
    EXPECT_EQ(l.prog_id, info.prog_id);
  }
  EXPECT_EQ(by_attach["cgroup/connect4"].program, "warren_connect4");
  EXPECT_EQ(by_attach["cgroup/connect4"].pin, pins_.path() + "/link_connect4");
  const PinnedLink& lookup = by_attach["sk_lookup"];
  EXPECT_EQ(lookup.type, "netns");
  EXPECT_EQ(lookup.netns_cookie, *cookie);
  EXPECT_NE(lookup.netns_ino, 0u);
  EXPECT_EQ(lookup.program, "warren_sk_lookup");
  EXPECT_EQ(lookup.pin, netnsLinkPath(pins_.path(), *cookie));

  ASSERT_EQ(inv->programs.size(), 5u);
  std::set<std::string> names;
  for (const auto& p : inv->programs) {
    names.insert(p.name);
    EXPECT_NE(p.id, 0u);
    EXPECT_FALSE(p.attach_type.empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{"warren_connect4", "warren_connect6", "warren_sockops",
                                          "warren_getsockopt", "warren_sk_lookup"}));
}

TEST_F(PinnedReadersTest, CountersAreTheLoadersPerCpuSums) {
  cgroup_.enter();
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  // A connect from this (not enrolled) netns: counted as a skip.
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(9);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  (void)::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));

  auto mine = readPinnedCounters(pins_.path());
  ASSERT_TRUE(mine) << mine.error().message();
  auto loaders = dp->counters();
  ASSERT_TRUE(loaders);
  ASSERT_EQ(mine->size(), size_t(WARREN_CNT_MAX));
  uint64_t total = 0;
  for (uint32_t i = 0; i < WARREN_CNT_MAX; ++i) {
    EXPECT_EQ((*mine)[i].name, counterName(i));
    EXPECT_EQ((*mine)[i].value, (*loaders)[i]) << (*mine)[i].name;
    total += (*mine)[i].value;
  }
  EXPECT_GE(total, 1u) << "the connect above went through connect4";
}

}  // namespace
}  // namespace warren::redirect
