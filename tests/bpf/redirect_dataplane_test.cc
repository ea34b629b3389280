// The real loader against the real kernel (root): attach, re-adopt after a "restart", enrol a
// netns and watch connects get redirected with the original destination answered by
// getsockopt, then uninstall and check nothing is left.
#include "bpf/loader/redirect_dataplane.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "bpf/loader/pin_dir.h"
#include "bpf_test_env.h"
#include "common/net/socket_info.h"
#include "common/netns.h"

namespace warren::redirect {
namespace {

using testing::TempCgroup;
using testing::TempPinDir;

uint32_t attachedCount(const std::string& cgroup, bpf_attach_type type) {
  UniqueFd fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY));
  uint32_t ids[8] = {};
  uint32_t count = 8;
  if (bpf_prog_query(fd.get(), type, 0, nullptr, ids, &count) != 0) return 999;
  return count;
}

uint32_t linkId(const std::string& path) {
  auto fd = openPin(path);
  if (!fd) return 0;
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0) return 0;
  return info.id;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

class DataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    ASSERT_TRUE(cgroup_.ok()) << "cannot create a test cgroup";
  }
  TempPinDir pins_;
  TempCgroup cgroup_;
};

TEST_F(DataplaneTest, AttachesOnceReadoptsAfterRestartAndUninstallsEverything) {
  uint32_t first_id = 0;
  {
    auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
    ASSERT_TRUE(dp) << dp.error().message();
    first_id = linkId(pins_.path() + "/link_connect4");
    EXPECT_NE(first_id, 0u);
  }
  // The agent is gone: the pinned links still hold the programs on the cgroup.
  EXPECT_EQ(attachedCount(cgroup_.path(), BPF_CGROUP_INET4_CONNECT), 1u);
  {
    auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
    ASSERT_TRUE(dp) << dp.error().message();
    EXPECT_EQ(linkId(pins_.path() + "/link_connect4"), first_id) << "restart must re-adopt";
  }
  for (auto type : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_SOCK_OPS,
                    BPF_CGROUP_GETSOCKOPT}) {
    EXPECT_EQ(attachedCount(cgroup_.path(), type), 1u) << "attach type " << type;
  }
  ASSERT_TRUE(RedirectDataplane::uninstall(pins_.path()));
  EXPECT_FALSE(exists(pins_.path()));
  EXPECT_EQ(attachedCount(cgroup_.path(), BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(attachedCount(cgroup_.path(), BPF_CGROUP_GETSOCKOPT), 0u);
  EXPECT_TRUE(RedirectDataplane::uninstall(pins_.path())) << "uninstall twice is fine";
}

// Someone removes every pin by hand while the agent runs (issue 16's fault matrix): the pins
// were the links' only references, so this used to detach capture at once. The agent holds
// the links: nothing detaches, and repinMissing() (run by every reconcile) pins the same links
// and the maps again. An uninstall while the agent runs still wins: detached links are let go.
TEST_F(DataplaneTest, PinsRemovedByHandDetachNothingAndArePinnedAgain) {
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  const uint32_t id = linkId(pins_.path() + "/link_connect4");
  ASSERT_NE(id, 0u);
  size_t removed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(pins_.path())) {
    if (!e.is_directory()) removed += std::filesystem::remove(e.path()) ? 1 : 0;
  }
  EXPECT_GE(removed, 5u);
  EXPECT_FALSE(exists(pins_.path() + "/link_connect4"));
  const auto types = {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_SOCK_OPS,
                      BPF_CGROUP_GETSOCKOPT};
  for (auto type : types) EXPECT_EQ(attachedCount(cgroup_.path(), type), 1u) << "type " << type;

  ASSERT_TRUE(dp->repinMissing());
  EXPECT_EQ(linkId(pins_.path() + "/link_connect4"), id) << "the same link, pinned again";
  EXPECT_TRUE(exists(pins_.path() + "/" WARREN_MAP_ENROLLED));
  EXPECT_TRUE(exists(pins_.path() + "/" WARREN_MAP_COUNTERS));

  ASSERT_TRUE(RedirectDataplane::uninstall(pins_.path()));
  ASSERT_TRUE(dp->repinMissing());
  EXPECT_FALSE(exists(pins_.path())) << "pinned again after an uninstall";
  for (auto type : types) EXPECT_EQ(attachedCount(cgroup_.path(), type), 0u) << "type " << type;
}

// Every log line of the test, from the default logger (restored afterwards).
class LogLines {
 public:
  LogLines() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~LogLines() { spdlog::set_default_logger(previous_); }
  // Lines holding `text` (and `also`, when given).
  size_t count(const std::string& text, const std::string& also = "") const {
    size_t n = 0;
    for (const auto& line : sink_->last_formatted())
      n += line.find(text) != std::string::npos && line.find(also) != std::string::npos;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  std::shared_ptr<spdlog::logger> previous_;
};

size_t removeEveryPin(const std::string& dir) {
  size_t removed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_directory()) removed += std::filesystem::remove(e.path()) ? 1 : 0;
  }
  return removed;
}

// The repin check runs on every re-sync (every 2 s). A repair is logged once, naming every
// pin it put back, and counted; a pass with nothing missing logs and counts nothing; a failure
// that repeats pass after pass is counted each time but logged once, and its end is logged.
TEST_F(DataplaneTest, PinRepairsAreCountedAndLoggedOncePerRepair) {
  LogLines log;
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  const size_t removed = removeEveryPin(pins_.path());
  ASSERT_GE(removed, 5u);
  for (int pass = 0; pass < 3; ++pass) ASSERT_TRUE(dp->repinMissing()) << "pass " << pass;
  EXPECT_EQ(dp->pinRepairs().repairs, 1u);
  EXPECT_EQ(dp->pinRepairs().pins_restored, removed);
  EXPECT_EQ(dp->pinRepairs().failures, 0u);
  EXPECT_EQ(log.count("were removed (by hand?)"), 1u) << "one line per repair, not per pin";
  EXPECT_EQ(log.count(std::to_string(removed) + " pin(s) were removed"), 1u);
  EXPECT_EQ(log.count("were removed (by hand?)", "/link_connect4"), 1u)
      << "the repair's line names the pins";

  // The pin dir replaced by a pinned object (bpffs holds no plain files): nothing can be
  // pinned below it, pass after pass.
  removeEveryPin(pins_.path());
  std::filesystem::remove_all(pins_.path());
  UniqueFd squatter(bpf_map_create(BPF_MAP_TYPE_ARRAY, "squatter", 4, 4, 1, nullptr));
  ASSERT_TRUE(squatter);
  ASSERT_EQ(bpf_obj_pin(squatter.get(), pins_.path().c_str()), 0);
  for (int pass = 0; pass < 3; ++pass) EXPECT_FALSE(dp->repinMissing()) << "pass " << pass;
  EXPECT_EQ(dp->pinRepairs().failures, 3u);
  EXPECT_NE(dp->pinRepairs().last_error.find(pins_.path()), std::string::npos)
      << dp->pinRepairs().last_error;
  EXPECT_EQ(log.count("cannot put removed pins back"), 1u) << "a repeated failure logs once";
  for (auto type : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_SOCK_OPS})
    EXPECT_EQ(attachedCount(cgroup_.path(), type), 1u) << "still attached through the held fds";

  ASSERT_TRUE(std::filesystem::remove(pins_.path()));
  ASSERT_TRUE(dp->repinMissing());
  EXPECT_EQ(dp->pinRepairs().repairs, 2u);
  EXPECT_EQ(dp->pinRepairs().pins_restored, 2 * removed);
  EXPECT_EQ(dp->pinRepairs().last_error, "");
  EXPECT_EQ(log.count("can be put back again"), 1u);
  EXPECT_TRUE(exists(pins_.path() + "/link_connect4"));
}

// An older agent pinned warren_counters with 15 counters; this one has more. The agent must
// still start (counters are statistics: the map is re-created), not fail on libbpf's re-use.
TEST_F(DataplaneTest, ReplacesACountersMapOfAnotherSize) {
  ASSERT_EQ(::mkdir(pins_.path().c_str(), 0700), 0);
  UniqueFd old(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "warren_counters", 4, 8, 15, nullptr));
  ASSERT_TRUE(old);
  const std::string pin = pins_.path() + "/" WARREN_MAP_COUNTERS;
  ASSERT_EQ(bpf_obj_pin(old.get(), pin.c_str()), 0);
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  EXPECT_TRUE(dp->counters());
  auto now = openPin(pin);
  ASSERT_TRUE(now);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(now->get(), &info, &len), 0);
  EXPECT_EQ(info.max_entries, static_cast<uint32_t>(WARREN_CNT_MAX));
}

TEST_F(DataplaneTest, RejectsRelativePinDir) {
  auto dp = RedirectDataplane::open({"relative/pins", cgroup_.path()});
  ASSERT_FALSE(dp);
  EXPECT_NE(dp.error().message().find("relative/pins"), std::string::npos);
}

UniqueFd listenOn(int family, const char* ip, uint16_t port) {
  UniqueFd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a->sin_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &a->sin6_addr);
    len = sizeof(*a);
  }
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return UniqueFd();
  if (::listen(s.get(), 16) != 0) return UniqueFd();
  return s;
}

// connect() to ip:port; returns 0 or the errno.
int connectTo(int family, const char* ip, uint16_t port, UniqueFd* out, int mark = 0) {
  UniqueFd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (mark) ::setsockopt(s.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a->sin_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &a->sin6_addr);
    len = sizeof(*a);
  }
  int rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len);
  int err = rc == 0 ? 0 : errno;
  if (out) *out = std::move(s);
  return err;
}

TEST_F(DataplaneTest, EnrolledNetnsConnectsLandOn15001WithOriginalDestination) {
  cgroup_.enter();
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  UniqueFd netns = testing::makeNetns();
  ASSERT_TRUE(netns);
  auto cookie = netnsCookie(netns.get());
  ASSERT_TRUE(cookie);
  ASSERT_TRUE(dp->reconcile({{*cookie, netns.get()}}));
  auto state = dp->pinnedState();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->enrolled, std::set<uint64_t>{*cookie});
  EXPECT_EQ(state->lookup_links.size(), 1u);

  auto guard = NetnsGuard::enter(netns.get());
  ASSERT_TRUE(guard);
  // Fail closed: nothing listens on 15001 yet, so the redirected connect is refused.
  EXPECT_EQ(connectTo(AF_INET, "10.9.8.7", 8080, nullptr), ECONNREFUSED);

  UniqueFd l4 = listenOn(AF_INET, "127.0.0.1", WARREN_PORT_OUTBOUND);
  UniqueFd l6 = listenOn(AF_INET6, "::1", WARREN_PORT_OUTBOUND);
  ASSERT_TRUE(l4 && l6);

  UniqueFd c4;
  ASSERT_EQ(connectTo(AF_INET, "10.9.8.7", 8080, &c4), 0);
  UniqueFd a4(::accept4(l4.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(a4);
  // Read the way ztunnel does (net::originalDestination): the eBPF answer must be the one it
  // trusts (optlen exactly a sockaddr_in, offered more).
  auto orig = net::originalDestination(a4.get());
  ASSERT_TRUE(orig) << orig.error().message();
  EXPECT_EQ(orig->toString(), "10.9.8.7:8080");

  UniqueFd c6;
  ASSERT_EQ(connectTo(AF_INET6, "fd00::42", 80, &c6), 0);
  UniqueFd a6(::accept4(l6.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(a6);
  auto orig6 = net::originalDestination(a6.get());
  ASSERT_TRUE(orig6) << orig6.error().message();
  EXPECT_EQ(orig6->toString(), "[fd00::42]:80");

  // A dual-stack AF_INET6 socket dialling an IPv4 destination as ::ffff:a.b.c.d (gRPC and Java
  // clients do) is an IPv4 capture: it reaches the IPv4 listener (not [::1]:15001, where l6
  // would take it and ztunnel listens on nothing), and the original destination is the IPv4
  // one, answered to getsockopt(SOL_IP) as for connect4.
  UniqueFd cm;
  ASSERT_EQ(connectTo(AF_INET6, "::ffff:10.9.8.7", 8081, &cm), 0);
  pollfd pm{l4.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&pm, 1, 5000), 1) << "the v4-mapped connect did not reach 127.0.0.1:15001";
  UniqueFd am(::accept4(l4.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(am);
  auto orig_mapped = net::originalDestination(am.get());
  ASSERT_TRUE(orig_mapped) << orig_mapped.error().message();
  EXPECT_EQ(orig_mapped->toString(), "10.9.8.7:8081");
  pollfd p6{l6.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p6, 1, 0), 0) << "the v4-mapped connect also reached [::1]:15001";

  // ztunnel's own sockets (mark 0x539, and 0x53a: its connections to the app from the
  // client's address) and loopback destinations go where they asked: here there is no route to
  // 10.9.8.7, so the unredirected connect fails.
  EXPECT_EQ(connectTo(AF_INET, "10.9.8.7", 8080, nullptr, WARREN_ZTUNNEL_MARK), ENETUNREACH);
  EXPECT_EQ(connectTo(AF_INET, "10.9.8.7", 8080, nullptr, WARREN_ZTUNNEL_SOURCE_MARK), ENETUNREACH);
  UniqueFd direct;
  EXPECT_EQ(connectTo(AF_INET, "127.0.0.1", WARREN_PORT_OUTBOUND, &direct), 0);
  UniqueFd a_direct(::accept4(l4.get(), nullptr, nullptr, SOCK_CLOEXEC));
  auto none = net::originalDestination(a_direct.get());
  EXPECT_FALSE(none) << "a direct loopback connect has no original destination, got "
                     << none->toString();

  auto counters = dp->counters();
  ASSERT_TRUE(counters);
  EXPECT_GE((*counters)[WARREN_CNT_CONNECT_REDIRECTED], 4u);
  EXPECT_GE((*counters)[WARREN_CNT_CONNECT_SKIP_MARK], 2u);
  EXPECT_GE((*counters)[WARREN_CNT_CONNECT_SKIP_LOOPBACK], 1u);
  EXPECT_GE((*counters)[WARREN_CNT_GETSOCKOPT_ANSWERED], 3u);

  // Unenrolled: connects go straight to their destination again; the established connection
  // is untouched.
  ASSERT_TRUE(dp->reconcile({}));
  EXPECT_EQ(connectTo(AF_INET, "10.9.8.7", 8080, nullptr), ENETUNREACH);
  EXPECT_EQ(::send(c4.get(), "x", 1, MSG_NOSIGNAL), 1);
  char got = 0;
  EXPECT_EQ(::recv(a4.get(), &got, 1, 0), 1);
  state = dp->pinnedState();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->enrolled.empty());
  EXPECT_TRUE(state->lookup_links.empty());
}

TEST_F(DataplaneTest, ExemptSourcesAreReplaced) {
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  EXPECT_TRUE(dp->setExemptSources(
      {*net::IpAddress::parse("10.0.0.1"), *net::IpAddress::parse("fd00::1")}));
  EXPECT_TRUE(dp->setExemptSources({}));  // and back to none
}

}  // namespace
}  // namespace warren::redirect
