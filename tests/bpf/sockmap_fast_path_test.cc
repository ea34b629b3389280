// The sk_msg fast path against the real kernel (root): off by default (nothing of it exists),
// on = a loopback pair in a fresh netns moves its bytes through the sk_msg redirect, intact
// and in order, end of stream included; a restart re-adopts the link (one sk_msg program on
// the map); turning it off or uninstalling removes every pin while connections already on the
// fast path keep working; a bulk sender into a reader that does not read is held after its
// redirect budget (redirection itself has no flow control), and its bytes arrive in order.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "bpf/loader/fast_path_reader.h"
#include "bpf/loader/pin_dir.h"
#include "bpf/loader/redirect_dataplane.h"
#include "bpf_test_env.h"
#include "common/netns.h"

namespace warren::redirect {
namespace {

using testing::TempCgroup;
using testing::TempPinDir;

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

uint32_t linkId(const std::string& path) {
  auto fd = openPin(path);
  if (!fd) return 0;
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0) return 0;
  return info.id;
}

// sk_msg programs attached to the pinned warren_socks (BPF_PROG_QUERY on a sockmap).
uint32_t msgProgramsOnMap(const std::string& map_pin) {
  auto fd = openPin(map_pin);
  if (!fd) return 0;
  uint32_t ids[4] = {};
  uint32_t count = 4;
  if (bpf_prog_query(fd->get(), BPF_SK_MSG_VERDICT, 0, nullptr, ids, &count) != 0) return 999;
  return count;
}

// The name of the one sock_ops program on the cgroup ("" when none or several).
std::string sockopsProgramName(const std::string& cgroup) {
  UniqueFd cg(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  uint32_t ids[4] = {};
  uint32_t count = 4;
  if (bpf_prog_query(cg.get(), BPF_CGROUP_SOCK_OPS, 0, nullptr, ids, &count) != 0 || count != 1)
    return "";
  UniqueFd prog(bpf_prog_get_fd_by_id(ids[0]));
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (!prog || bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) return "";
  return info.name;
}

// A connected loopback pair inside the current netns: {client, accepted server}.
struct Pair {
  UniqueFd client, server;
};

// With `dual_stack`, the client is an AF_INET6 socket dialling the IPv4 listener as
// ::ffff:127.0.0.1 (gRPC, Java): its addresses are v4-mapped, the server's plain IPv4.
// The listener on `port` (0: any).
Pair loopbackPair(bool dual_stack = false, uint16_t port = 0) {
  Pair p;
  UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof(a);
  if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(l.get(), 4) != 0 ||
      ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return p;
  if (dual_stack) {
    sockaddr_in6 m{};
    m.sin6_family = AF_INET6;
    m.sin6_port = a.sin_port;
    ::inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
    p.client.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(p.client.get(), reinterpret_cast<sockaddr*>(&m), sizeof(m)) != 0) return Pair{};
  } else {
    p.client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(p.client.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return Pair{};
  }
  p.server.reset(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return p;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + seed + i / 4096);
  return v;
}

// Sends `data` on `from` in uneven chunks, then shuts the write side; `to` must read exactly
// `data` and then end of stream. Reading on another thread, so neither side's buffers stall.
void expectStream(int from, int to, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> got;
  bool eof = false;
  std::thread reader([&] {
    uint8_t buf[7000];
    for (int i = 0; i < 100000; ++i) {
      ssize_t n = ::recv(to, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof = n == 0;
        return;
      }
      got.insert(got.end(), buf, buf + n);
    }
  });
  size_t off = 0;
  for (size_t chunk = 1; off < data.size(); chunk = chunk * 3 % 65521 + 1) {
    size_t n = std::min(chunk, data.size() - off);
    ssize_t w = ::send(from, data.data() + off, n, MSG_NOSIGNAL);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  ::shutdown(from, SHUT_WR);
  reader.join();
  EXPECT_EQ(off, data.size());
  EXPECT_TRUE(eof) << "no end of stream after the data";
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes differ or arrived out of order";
}

class FastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    ASSERT_TRUE(cgroup_.ok()) << "cannot create a test cgroup";
  }
  RedirectConfig config(bool on) const {
    return {pins_.path(), cgroup_.path(), on, "10.244.1.0/24"};
  }
  std::string socks() const { return pins_.path() + "/" WARREN_MAP_SOCKS; }
  std::string link() const { return pins_.path() + "/" WARREN_LINK_SK_MSG; }
  // The fast path on for this test's cgroup (dp_), and this thread in a fresh netns where a
  // loopback pair (pair_) is a fast-path pair. Use with ASSERT_NO_FATAL_FAILURE.
  void fastPathPairInFreshNetns() {
    ASSERT_NO_FATAL_FAILURE(fastPathInFreshNetns());
    pair_ = loopbackPair();
    ASSERT_TRUE(pair_.client && pair_.server);
  }
  // The same without the pair.
  void fastPathInFreshNetns() {
    cgroup_.enter();
    auto dp = RedirectDataplane::open(config(true));
    ASSERT_TRUE(dp) << dp.error().message();
    dp_.emplace(std::move(*dp));
    netns_ = testing::makeNetns();
    ASSERT_TRUE(netns_);
    auto guard = NetnsGuard::enter(netns_.get());
    ASSERT_TRUE(guard);
    guard_.emplace(std::move(*guard));
  }
  TempPinDir pins_;
  TempCgroup cgroup_;
  // Destroyed in reverse: the pair, back to the test's netns, the netns, then the programs.
  std::optional<RedirectDataplane> dp_;
  UniqueFd netns_;
  std::optional<NetnsGuard> guard_;
  Pair pair_;
};

TEST_F(FastPathTest, OffByDefaultNothingOfItExists) {
  auto dp = RedirectDataplane::open({pins_.path(), cgroup_.path()});
  ASSERT_TRUE(dp) << dp.error().message();
  EXPECT_FALSE(exists(socks()));
  EXPECT_FALSE(exists(pins_.path() + "/" WARREN_MAP_SOCKS_STATE));
  EXPECT_FALSE(exists(link()));
  EXPECT_EQ(sockopsProgramName(cgroup_.path()), "warren_sockops");
}

TEST_F(FastPathTest, LoopbackPairGoesSocketToSocketIntactReadoptedAndRemoved) {
  cgroup_.enter();
  auto dp = RedirectDataplane::open(config(true));
  ASSERT_TRUE(dp) << dp.error().message();
  ASSERT_TRUE(exists(socks()));
  ASSERT_TRUE(exists(link()));
  EXPECT_EQ(msgProgramsOnMap(socks()), 1u);
  // The kernel truncates program names to 15 characters.
  EXPECT_EQ(sockopsProgramName(cgroup_.path()), "warren_sockops_");

  UniqueFd netns = testing::makeNetns();
  ASSERT_TRUE(netns);
  auto guard = NetnsGuard::enter(netns.get());
  ASSERT_TRUE(guard);

  auto before = dp->counters();
  ASSERT_TRUE(before);
  Pair p = loopbackPair();
  ASSERT_TRUE(p.client && p.server);
  auto after_connect = dp->counters();
  ASSERT_TRUE(after_connect);
  EXPECT_EQ(
      (*after_connect)[WARREN_CNT_FASTPATH_INSERTED] - (*before)[WARREN_CNT_FASTPATH_INSERTED], 2u)
      << "both ends of the loopback pair go into warren_socks";

  // Request and answer, then a bulk stream each way, end of stream included.
  ASSERT_EQ(::send(p.client.get(), "ping", 4, MSG_NOSIGNAL), 4);
  char buf[8] = {};
  ASSERT_EQ(::recv(p.server.get(), buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_EQ(::send(p.server.get(), "pong", 4, MSG_NOSIGNAL), 4);
  ASSERT_EQ(::recv(p.client.get(), buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "pong");
  auto mid = dp->counters();
  ASSERT_TRUE(mid);
  EXPECT_GE((*mid)[WARREN_CNT_FASTPATH_REDIRECTED] - (*before)[WARREN_CNT_FASTPATH_REDIRECTED], 2u);
  EXPECT_EQ((*mid)[WARREN_CNT_FASTPATH_MISS] - (*before)[WARREN_CNT_FASTPATH_MISS], 0u);

  // Restart with the fast path still on: same link, one sk_msg program on the map.
  const uint32_t id = linkId(link());
  ASSERT_NE(id, 0u);
  {
    auto again = RedirectDataplane::open(config(true));
    ASSERT_TRUE(again) << again.error().message();
  }
  EXPECT_EQ(linkId(link()), id) << "a restart must re-adopt link_sk_msg";
  EXPECT_EQ(msgProgramsOnMap(socks()), 1u);

  // Off: the pins go, the established pair keeps working on the fast path until it closes,
  // also once no agent holds an fd of the program or map any more (each socket in the map
  // holds the sk_msg program, which holds the map).
  auto off = RedirectDataplane::open(config(false));
  ASSERT_TRUE(off) << off.error().message();
  dp = std::move(off);  // the first agent's objects are closed here
  EXPECT_FALSE(exists(socks()));
  EXPECT_FALSE(exists(link()));
  EXPECT_EQ(sockopsProgramName(cgroup_.path()), "warren_sockops");
  expectStream(p.client.get(), p.server.get(), pattern(3 << 20, 1));
  expectStream(p.server.get(), p.client.get(), pattern(1 << 20, 2));
  auto end = dp->counters();
  ASSERT_TRUE(end);
  EXPECT_GT((*end)[WARREN_CNT_FASTPATH_REDIRECTED], (*mid)[WARREN_CNT_FASTPATH_REDIRECTED]);

  // New connections no longer take it.
  Pair q = loopbackPair();
  ASSERT_TRUE(q.client && q.server);
  auto off_counters = dp->counters();
  ASSERT_TRUE(off_counters);
  EXPECT_EQ((*off_counters)[WARREN_CNT_FASTPATH_INSERTED], (*end)[WARREN_CNT_FASTPATH_INSERTED]);
  expectStream(q.client.get(), q.server.get(), pattern(100000, 3));
}

// A dual-stack client (AF_INET6, ::ffff:127.0.0.1) and its IPv4 server are one loopback pair:
// both ends are keyed as IPv4 (warren_addr.h), so each finds the other and the bytes go socket
// to socket, intact both ways.
TEST_F(FastPathTest, DualStackClientAndIpv4ServerAreOnePair) {
  ASSERT_NO_FATAL_FAILURE(fastPathInFreshNetns());
  auto& dp = dp_;
  auto before = dp->counters();
  ASSERT_TRUE(before);
  Pair p = loopbackPair(/*dual_stack=*/true);
  ASSERT_TRUE(p.client && p.server);
  auto after = dp->counters();
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[WARREN_CNT_FASTPATH_INSERTED] - (*before)[WARREN_CNT_FASTPATH_INSERTED], 2u);
  expectStream(p.client.get(), p.server.get(), pattern(1 << 20, 3));
  expectStream(p.server.get(), p.client.get(), pattern(1 << 20, 4));
  auto end = dp->counters();
  ASSERT_TRUE(end);
  EXPECT_GE((*end)[WARREN_CNT_FASTPATH_REDIRECTED] - (*before)[WARREN_CNT_FASTPATH_REDIRECTED], 2u)
      << "the pair's messages must find their peer";
  EXPECT_EQ((*end)[WARREN_CNT_FASTPATH_MISS] - (*before)[WARREN_CNT_FASTPATH_MISS], 0u);
}

// Port 15008 is HBONE between two ztunnels (warren_fastpath.h): never inserted, its bytes go
// through TCP, while an app pair beside it in the same netns is inserted.
TEST_F(FastPathTest, AnHbonePairStaysOnTcp) {
  ASSERT_NO_FATAL_FAILURE(fastPathInFreshNetns());
  auto& dp = dp_;
  auto before = dp->counters();
  ASSERT_TRUE(before);
  Pair hbone = loopbackPair(false, WARREN_PORT_HBONE);
  ASSERT_TRUE(hbone.client && hbone.server);
  auto after = dp->counters();
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[WARREN_CNT_FASTPATH_INSERTED], (*before)[WARREN_CNT_FASTPATH_INSERTED]);
  expectStream(hbone.client.get(), hbone.server.get(), pattern(256 << 10, 5));
  auto end = dp->counters();
  ASSERT_TRUE(end);
  EXPECT_EQ((*end)[WARREN_CNT_FASTPATH_REDIRECTED], (*before)[WARREN_CNT_FASTPATH_REDIRECTED]);
  Pair app = loopbackPair(false, 15001);
  ASSERT_TRUE(app.client && app.server);
  auto last = dp->counters();
  ASSERT_TRUE(last);
  EXPECT_EQ((*last)[WARREN_CNT_FASTPATH_INSERTED] - (*end)[WARREN_CNT_FASTPATH_INSERTED], 2u)
      << "the same pair on 15001 is an app leg";
}

TEST_F(FastPathTest, UninstallRemovesItWhileConnectionsKeepWorking) {
  ASSERT_NO_FATAL_FAILURE(fastPathPairInFreshNetns());
  auto& dp = dp_;
  Pair& p = pair_;
  expectStream(p.client.get(), p.server.get(), pattern(200000, 4));  // on the fast path
  auto c = dp->counters();
  ASSERT_TRUE(c);
  EXPECT_GT((*c)[WARREN_CNT_FASTPATH_REDIRECTED], 0u);

  dp.reset();  // the agent is gone: no fd of ours holds anything
  ASSERT_TRUE(RedirectDataplane::uninstall(pins_.path()));
  EXPECT_FALSE(exists(pins_.path()));
  EXPECT_EQ(sockopsProgramName(cgroup_.path()), "");
  expectStream(p.server.get(), p.client.get(), pattern(500000, 5));
}

// Someone removes every pin by hand while the agent runs (the fault matrix, with the flag on):
// link_sk_msg was held by its pin alone, so the sk_msg program came off the map and new pairs
// were no longer redirected, and the agent's repair put back every pin but the fast path's. The
// agent now holds the link as it holds the cgroup links: a pair made after the removal is still
// redirected, and repinMissing() pins the same link and both fast-path maps again.
TEST_F(FastPathTest, PinsRemovedByHandKeepTheFastPathAndArePinnedAgain) {
  ASSERT_NO_FATAL_FAILURE(fastPathPairInFreshNetns());
  auto& dp = dp_;
  const uint32_t id = linkId(link());
  ASSERT_NE(id, 0u);
  for (const auto& e : std::filesystem::recursive_directory_iterator(pins_.path())) {
    if (!e.is_directory()) std::filesystem::remove(e.path());
  }
  ASSERT_FALSE(exists(link()));
  // A pair made now (sockets already in the map keep the program they were given) is
  // redirected only while the link still puts the sk_msg program on the map.
  Pair q = loopbackPair();
  ASSERT_TRUE(q.client && q.server);
  auto before = dp->counters();
  ASSERT_TRUE(before);
  expectStream(q.client.get(), q.server.get(), pattern(200000, 6));
  auto after = dp->counters();
  ASSERT_TRUE(after);
  EXPECT_GT((*after)[WARREN_CNT_FASTPATH_REDIRECTED], (*before)[WARREN_CNT_FASTPATH_REDIRECTED])
      << "with its pin gone the sk_msg link came off warren_socks";

  ASSERT_TRUE(dp->repinMissing());
  EXPECT_EQ(linkId(link()), id) << "the same link, pinned again";
  EXPECT_TRUE(exists(socks()));
  EXPECT_TRUE(exists(pins_.path() + "/" WARREN_MAP_SOCKS_STATE));
  EXPECT_EQ(msgProgramsOnMap(socks()), 1u);
}

// ztunnel's question before a plaintext relay (redirect::fastPathMayRedirect): may the fast path
// move bytes of these sockets? Only a socket sockops_fastpath gave a record can be in
// warren_socks; one without a record (made before the fast path went on, or one end on another
// node) is TCP's alone, and splice reads all of it.
TEST_F(FastPathTest, ReaderTellsWhichSocketsTheFastPathMayMove) {
  cgroup_.enter();
  UniqueFd netns = testing::makeNetns();
  ASSERT_TRUE(netns);
  auto guard = NetnsGuard::enter(netns.get());
  ASSERT_TRUE(guard);
  auto off = RedirectDataplane::open(config(false));
  ASSERT_TRUE(off) << off.error().message();
  Pair before = loopbackPair();  // made with the fast path off: no record
  ASSERT_TRUE(before.client && before.server);
  const int old_fds[] = {before.client.get(), before.server.get()};
  EXPECT_FALSE(fastPathMayRedirect(pins_.path(), old_fds)) << "fast path off";

  auto on = RedirectDataplane::open(config(true));
  ASSERT_TRUE(on) << on.error().message();
  Pair now = loopbackPair();
  ASSERT_TRUE(now.client && now.server);
  const int new_fds[] = {now.client.get(), now.server.get()};
  EXPECT_TRUE(fastPathMayRedirect(pins_.path(), new_fds));
  EXPECT_TRUE(fastPathMayRedirect(pins_.path(), std::span(new_fds, 1)));
  EXPECT_FALSE(fastPathMayRedirect(pins_.path(), old_fds)) << "sockets made before it went on";
  const int mixed[] = {before.client.get(), now.server.get()};
  EXPECT_TRUE(fastPathMayRedirect(pins_.path(), mixed));
  // splice reads everything of a socket without a record, with the fast path on.
  expectStream(before.client.get(), before.server.get(), pattern(100000, 7));

  // The map's pin removed by hand: it cannot tell, so "may" while link_sk_msg is pinned.
  ASSERT_EQ(::unlink((pins_.path() + "/" WARREN_MAP_SOCKS_STATE).c_str()), 0);
  EXPECT_TRUE(fastPathMayRedirect(pins_.path(), old_fds));
  ASSERT_TRUE(on->repinMissing());
  EXPECT_FALSE(fastPathMayRedirect(pins_.path(), old_fds)) << "the map pinned again";
}

// Redirection into the peer's ingress queue has no flow control: the kernel charges the bytes
// to the receiving socket and only checks the protocol's global memory limit, so before the
// redirect budget a sender into a reader that does not read got rid of all 64 MiB at once
// (and in the benchmark, iperf3 went on until tcp_mem's hard limit and failed with ENOMEM).
// Now the socket redirects 4 MiB, then TCP's flow control holds it; every byte arrives in
// order across the switch.
TEST_F(FastPathTest, BulkIntoAReaderThatDoesNotReadIsHeldAfterTheBudget) {
  ASSERT_NO_FATAL_FAILURE(fastPathPairInFreshNetns());
  auto& dp = dp_;
  Pair& p = pair_;
  auto before = dp->counters();
  ASSERT_TRUE(before);

  constexpr size_t kTotal = 64 << 20;
  const auto data = pattern(kTotal, 9);
  ::fcntl(p.client.get(), F_SETFL, ::fcntl(p.client.get(), F_GETFL) | O_NONBLOCK);
  size_t sent = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (sent < kTotal && std::chrono::steady_clock::now() < until) {
    ssize_t w = ::send(p.client.get(), data.data() + sent, std::min<size_t>(kTotal - sent, 1 << 20),
                       MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else {
      ASSERT_EQ(errno, EAGAIN) << "send: " << std::strerror(errno);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // The budget (4 MiB) plus what TCP buffers for a reader that does not read.
  EXPECT_LT(sent, size_t{24} << 20) << "the kernel took " << sent << " bytes nobody read";
  auto held = dp->counters();
  ASSERT_TRUE(held);
  EXPECT_GT((*held)[WARREN_CNT_FASTPATH_REDIRECTED], (*before)[WARREN_CNT_FASTPATH_REDIRECTED]);
  EXPECT_EQ((*held)[WARREN_CNT_FASTPATH_BUDGET_SPENT] - (*before)[WARREN_CNT_FASTPATH_BUDGET_SPENT],
            1u);
  std::printf("bulk into a reader that does not read: %zu bytes taken before the sender waited\n",
              sent);

  // The reader starts: everything arrives, redirected bytes first, then TCP's, in order.
  std::vector<uint8_t> got;
  std::thread reader([&] {
    std::vector<uint8_t> buf(1 << 16);
    for (;;) {
      ssize_t n = ::recv(p.server.get(), buf.data(), buf.size(), 0);
      if (n <= 0) return;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  });
  ::fcntl(p.client.get(), F_SETFL, ::fcntl(p.client.get(), F_GETFL) & ~O_NONBLOCK);
  while (sent < kTotal) {
    ssize_t w = ::send(p.client.get(), data.data() + sent, kTotal - sent, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  ::shutdown(p.client.get(), SHUT_WR);
  reader.join();
  EXPECT_EQ(sent, kTotal);
  ASSERT_EQ(got.size(), kTotal);
  EXPECT_TRUE(got == data) << "bytes differ or arrived out of order across the switch to TCP";
}

}  // namespace
}  // namespace warren::redirect
