// PinKeeper (bpf/loader/pin_keeper.h): the pure rule for one pin path as a table, the owner lock
// (pin_owner_lock.h) as another process sees it, and (root) the keeper against the real kernel:
// with no agent, pins removed by hand detach nothing and come back as the same objects; what
// an agent or an uninstall removes on purpose stays removed.
#include "bpf/loader/pin_keeper.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>

#include "bpf/loader/inbound_registration.h"
#include "bpf/loader/pin_dir.h"
#include "bpf/loader/pin_owner_lock.h"
#include "bpf/loader/redirect_dataplane.h"
#include "bpf_test_env.h"
#include "common/netns.h"

namespace warren::redirect {
namespace {

constexpr PinKind L = PinKind::kLink;
constexpr PinKind M = PinKind::kMap;
constexpr PinAction kHold = PinAction::kHold;
constexpr PinAction kRestore = PinAction::kRestore;
constexpr PinAction kRelease = PinAction::kRelease;

TEST(DecidePin, Table) {
  struct Row {
    const char* why;
    PinFacts facts;  // kind, present, held, attached, agent_alive, capture_attached
    PinAction want;
  };
  const Row rows[] = {
      // Pinned now: hold it, whoever runs.
      {"pinned link, attached", {L, true, false, true, false, true}, kHold},
      {"pinned link, attached, agent alive", {L, true, true, true, true, true}, kHold},
      {"pinned map", {M, true, false, false, false, true}, kHold},
      {"pinned map, agent alive", {M, true, true, false, true, true}, kHold},
      {"pinned map, nothing attached (an agent about to attach)",
       {M, true, false, false, false, false},
       kHold},
      {"pinned link whose target went (netns deleted)",
       {L, true, true, false, false, true},
       kRelease},
      {"pinned dead link, agent alive", {L, true, false, false, true, true}, kRelease},
      // Gone, and never held: nothing to put back.
      {"gone link, never held", {L, false, false, true, false, true}, kRelease},
      {"gone map, never held", {M, false, false, false, false, true}, kRelease},
      // Gone while an agent is alive: the agent's to repair, or removed by it on purpose.
      {"gone link, agent alive", {L, false, true, true, true, true}, kRelease},
      {"gone map, agent alive (fast path off, map of another shape)",
       {M, false, true, false, true, true},
       kRelease},
      // Gone with no agent.
      {"gone link, still attached: removed by hand", {L, false, true, true, false, true}, kRestore},
      {"gone link, detached: pod left, netns went, uninstall",
       {L, false, true, false, false, true},
       kRelease},
      {"gone link, detached, nothing else attached",
       {L, false, true, false, false, false},
       kRelease},
      {"gone map, capture attached: removed by hand",
       {M, false, true, false, false, true},
       kRestore},
      {"gone map, no link attached: uninstalled", {M, false, true, false, false, false}, kRelease},
  };
  for (const Row& r : rows)
    EXPECT_EQ(toString(decidePin(r.facts)), std::string(toString(r.want))) << r.why;
}

// A temporary directory standing in for <run-dir>; removed with what is in it.
class TempRunDir {
 public:
  TempRunDir() {
    char tmpl[] = "/tmp/warren-pin-keeper-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempRunDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PinOwnerLock, AliveWhileHeldAndNotAfter) {
  TempRunDir run;
  ASSERT_FALSE(run.path().empty());
  auto none = pinOwnerAlive(run.path());
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "no lock file: no owner";
  {
    auto lock = PinOwnerLock::acquire(run.path());
    ASSERT_TRUE(lock) << lock.error().message();
    EXPECT_TRUE(lock->held());
    EXPECT_TRUE(*pinOwnerAlive(run.path()));
    // A second owner (an agent started while the old one still stops) waits its turn.
    auto second = PinOwnerLock::acquire(run.path());
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->held());
    EXPECT_FALSE(second->tryAgain());
    EXPECT_TRUE(*pinOwnerAlive(run.path())) << "asking must not take or drop the lock";
  }
  EXPECT_FALSE(*pinOwnerAlive(run.path())) << "released with the fd (the kernel does it on death)";
  auto again = PinOwnerLock::acquire(run.path());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->held());
}

TEST(PinKeeper, HoldsNothingWithoutAPublishedPinDir) {
  TempRunDir run;
  PinKeeper keeper(run.path(), "test");
  ASSERT_TRUE(keeper.pass());
  EXPECT_EQ(keeper.state().pin_dir, "");
  EXPECT_EQ(keeper.state().held_links + keeper.state().held_maps, 0u);
  EXPECT_EQ(keeper.state().passes, 1u);
}

uint32_t attachedCount(const std::string& cgroup, bpf_attach_type type) {
  UniqueFd fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY));
  uint32_t ids[8] = {};
  uint32_t count = 8;
  if (bpf_prog_query(fd.get(), type, 0, nullptr, ids, &count) != 0) return 999;
  return count;
}

uint32_t objectId(const std::string& path) {
  auto fd = openPin(path);
  if (!fd) return 0;
  bpf_link_info info{};  // the id comes first in link, map and program info alike
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0) return 0;
  return info.id;
}

std::map<std::string, uint32_t> pinIds(const std::string& dir) {
  std::map<std::string, uint32_t> ids;
  for (const auto& pin : listPins(dir)) ids[pin.path] = objectId(pin.path);
  return ids;
}

size_t removeEveryPin(const std::string& dir) {
  size_t removed = 0;
  for (const auto& pin : listPins(dir)) removed += ::unlink(pin.path.c_str()) == 0;
  return removed;
}

const auto kCgroupTypes = {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_SOCK_OPS,
                           BPF_CGROUP_GETSOCKOPT};

// The node after an agent ran and died: pins of the cgroup links, one enrolled netns' sk_lookup
// link and the maps; the agent's pin dir published in the run dir; no owner lock held.
class PinKeeperKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    ASSERT_TRUE(cgroup_.ok()) << "cannot create a test cgroup";
    ASSERT_FALSE(run_.path().empty());
    ASSERT_TRUE(writePinDirFile(run_.path(), pins_.path()));
    netns_ = testing::makeNetns();
    ASSERT_TRUE(netns_);
    auto cookie = netnsCookie(netns_.get());
    ASSERT_TRUE(cookie);
    cookie_ = *cookie;
    auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path(), false, "", run_.path()});
    ASSERT_TRUE(dp) << dp.error().message();
    ASSERT_TRUE(dp->reconcile({{cookie_, netns_.get()}}));
  }  // the "agent" is gone here: its fds and its owner lock with it

  uint32_t lookupAttached() {
    uint32_t ids[4] = {};
    uint32_t count = 4;
    if (bpf_prog_query(netns_.get(), BPF_SK_LOOKUP, 0, nullptr, ids, &count) != 0) return 999;
    return count;
  }

  testing::TempPinDir pins_;
  testing::TempCgroup cgroup_;
  TempRunDir run_;
  UniqueFd netns_;
  uint64_t cookie_ = 0;
};

TEST_F(PinKeeperKernelTest, WithNoAgentRemovedPinsDetachNothingAndComeBackAsTheSameObjects) {
  const auto before = pinIds(pins_.path());
  ASSERT_GE(before.size(), 10u);  // 5 links + the maps
  PinKeeper keeper(run_.path(), "test");
  ASSERT_TRUE(keeper.pass());
  EXPECT_FALSE(keeper.state().agent_alive);
  EXPECT_EQ(keeper.state().held_links, 5u);
  EXPECT_EQ(keeper.state().held_links + keeper.state().held_maps, before.size());

  ASSERT_EQ(removeEveryPin(pins_.path()), before.size());
  for (auto type : kCgroupTypes)
    EXPECT_EQ(attachedCount(cgroup_.path(), type), 1u) << "type " << type;
  EXPECT_EQ(lookupAttached(), 1u) << "the netns link is held too";

  ASSERT_TRUE(keeper.pass());
  EXPECT_EQ(pinIds(pins_.path()), before) << "every pin back, the same kernel objects";
  EXPECT_EQ(keeper.state().repairs.repairs, 1u);
  EXPECT_EQ(keeper.state().repairs.pins_restored, before.size());
  ASSERT_TRUE(keeper.pass());
  EXPECT_EQ(keeper.state().repairs.repairs, 1u) << "a pass with nothing missing repairs nothing";

  // The next agent re-adopts what the keeper kept: one attachment each, the same links.
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path(), false, "", run_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  EXPECT_EQ(objectId(pins_.path() + "/link_connect4"), before.at(pins_.path() + "/link_connect4"));
  for (auto type : kCgroupTypes)
    EXPECT_EQ(attachedCount(cgroup_.path(), type), 1u) << "type " << type;
  EXPECT_EQ(lookupAttached(), 1u);
}

// ztunnel may run at its RLIMIT_NOFILE (the fault matrix's fd exhaustion): a pass must not need
// a new fd in the steady state, nor to put back a pin it holds, and must keep its hold when it
// cannot open one.
TEST_F(PinKeeperKernelTest, PassesNeedNoNewFdAndKeepTheHoldAtTheLimit) {
  PinKeeper keeper(run_.path(), "test");
  ASSERT_TRUE(keeper.pass());
  ASSERT_TRUE(keeper.pass());  // the owner lock's fd is open from here on
  const uint64_t held = keeper.state().held_links + keeper.state().held_maps;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit at_limit = saved;
  at_limit.rlim_cur = static_cast<rlim_t>(lowest_free);  // no fd number left below it
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &at_limit), 0);
  ASSERT_LT(::dup(0), 0) << "the limit leaves no fd";

  const bool steady = static_cast<bool>(keeper.pass());
  const std::string link = pins_.path() + "/link_connect4";
  const std::string map = pins_.path() + "/" WARREN_MAP_ENROLLED;
  const bool removed = ::unlink(link.c_str()) == 0 && ::unlink(map.c_str()) == 0;
  const bool repaired = static_cast<bool>(keeper.pass());
  const bool after = static_cast<bool>(keeper.pass());
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);

  EXPECT_TRUE(steady) << "a steady pass opened an fd";
  ASSERT_TRUE(removed);
  EXPECT_TRUE(repaired) << keeper.state().repairs.last_error;
  EXPECT_TRUE(after) << "the pins it put back are known without an fd";
  EXPECT_EQ(keeper.state().repairs.pins_restored, 2u);
  EXPECT_EQ(keeper.state().held_links + keeper.state().held_maps, held);
  EXPECT_TRUE(std::filesystem::exists(link));
  EXPECT_TRUE(std::filesystem::exists(map));
}

TEST_F(PinKeeperKernelTest, WhileAnAgentIsAliveWhatGoesStaysGone) {
  PinKeeper keeper(run_.path(), "test");
  ASSERT_TRUE(keeper.pass());
  auto lock = PinOwnerLock::acquire(run_.path());
  ASSERT_TRUE(lock && lock->held());
  std::optional<PinOwnerLock> agent(std::move(*lock));
  // The agent drops a map on purpose (fast path off, a map of another shape).
  const std::string counters = pins_.path() + "/" WARREN_MAP_COUNTERS;
  ASSERT_EQ(::unlink(counters.c_str()), 0);
  ASSERT_TRUE(keeper.pass());
  EXPECT_TRUE(keeper.state().agent_alive);
  EXPECT_FALSE(std::filesystem::exists(counters));
  agent.reset();  // the agent dies later: the map it dropped must not come back then either
  ASSERT_TRUE(keeper.pass());
  EXPECT_FALSE(keeper.state().agent_alive);
  EXPECT_FALSE(std::filesystem::exists(counters));
  EXPECT_EQ(keeper.state().repairs.pins_restored, 0u);
}

TEST_F(PinKeeperKernelTest, DetachedLinksAndAnUninstallStayGone) {
  PinKeeper keeper(run_.path(), "test");
  ASSERT_TRUE(keeper.pass());
  // The pod leaves the mesh: its netns link is detached, then unpinned (the agent's order).
  const std::string link = netnsLinkPath(pins_.path(), cookie_);
  auto fd = openPin(link);
  ASSERT_TRUE(fd);
  ASSERT_EQ(bpf_link_detach(fd->get()), 0);
  ASSERT_EQ(::unlink(link.c_str()), 0);
  ASSERT_TRUE(keeper.pass());
  EXPECT_FALSE(std::filesystem::exists(link));
  EXPECT_EQ(lookupAttached(), 0u);
  EXPECT_EQ(keeper.state().held_links, 4u);

  // `warren-agent uninstall` with no agent (and, here, without the owner lock).
  ASSERT_TRUE(RedirectDataplane::uninstall(pins_.path()));
  ASSERT_TRUE(keeper.pass());
  EXPECT_FALSE(std::filesystem::exists(pins_.path())) << "pinned again after an uninstall";
  EXPECT_EQ(keeper.state().held_links + keeper.state().held_maps, 0u);
  EXPECT_EQ(keeper.state().repairs.pins_restored, 0u);
  for (auto type : kCgroupTypes)
    EXPECT_EQ(attachedCount(cgroup_.path(), type), 0u) << "type " << type;
}

}  // namespace
}  // namespace warren::redirect
