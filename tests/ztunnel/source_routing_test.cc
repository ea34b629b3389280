// Source routing in a real netns (root): ztunnel's transparent connection to the app arrives
// from the client's address and the app's answers come back to it; removal restores the netns.
#include "ztunnel/control/source_routing.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/netns.h"
#include "tests/ztunnel/command_output.h"
#include "ztunnel/data/data_path_sockets.h"

namespace warren::ztunnel {
namespace {

std::string run(const std::string& cmd) { return testing::commandOutput(cmd); }

constexpr const char* kPodIp = "10.211.0.5";
constexpr const char* kClientIp = "10.244.7.9";  // another node's pod: not in this netns

class SourceRouting : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (ip netns add)";
    netns_ = "ztd-src-" + std::to_string(::getpid());
    ASSERT_EQ(std::system(("ip netns add " + netns_).c_str()), 0);
    // A pod's shape: lo, eth0 with the pod address, the default route out of eth0.
    std::string in = "ip -n " + netns_ + " ";
    ASSERT_EQ(
        std::system((in + "link set lo up && " + in + "link add eth0 type veth peer name eth1 && " +
                     in + "link set eth1 up && " + in + "addr add " + kPodIp + "/24 dev eth0 && " +
                     in + "link set eth0 up && " + in + "route add default dev eth0")
                        .c_str()),
        0);
    auto fd = openNetns("/run/netns/" + netns_);
    ASSERT_TRUE(fd) << fd.error().message();
    netns_fd_ = std::make_shared<const UniqueFd>(std::move(*fd));
  }
  void TearDown() override {
    netns_fd_.reset();
    if (!netns_.empty()) std::system(("ip netns del " + netns_ + " 2>/dev/null").c_str());
  }
  std::string rules() { return run("ip -n " + netns_ + " rule"); }
  std::string fwmarkAccept() {
    return run("ip netns exec " + netns_ + " cat /proc/sys/net/ipv4/tcp_fwmark_accept");
  }

  // The app listening on the pod address; ztunnel (dialApp) connects for `client`; returns the
  // peer address the app saw, after one byte went each way.
  std::string appSeesPeerOf(const ztunnel::SourceRouting& routing) {
    net::SocketOptions lo;
    lo.netns_path = "/run/netns/" + netns_;
    auto pod_addr = *net::SocketAddress::parse(std::string(kPodIp) + ":0");
    auto listener = net::SocketFactory::listenTcp(pod_addr, lo);
    if (!listener) return "listen: " + listener.error().message();
    auto bound = net::localAddress(listener->get());
    auto pod = EnrolledPod::make("uid", "app", "ns", "sa", "cluster.local", netns_fd_);
    if (!pod) return "pod: " + pod.error().message();
    pod->source_routing = routing;
    PodNetnsSockets sockets;
    auto client = *net::IpAddress::parse(kClientIp);
    auto dialed = sockets.dialApp(*pod, *bound, client);
    if (!dialed) return "dial: " + dialed.error().message();
    auto sa = dialed->connect_to.toSockaddr();
    int fd = dialed->fd.get();
    if (::connect(fd, sa.get(), sa.length) != 0 && errno != EINPROGRESS) return "connect failed";
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 3000) != 1) return "connect timed out (the SYN-ACK did not come back)";
    pollfd a{listener->get(), POLLIN, 0};
    if (::poll(&a, 1, 3000) != 1) return "nothing to accept";
    UniqueFd app(::accept(listener->get(), nullptr, nullptr));
    auto peer = net::peerAddress(app.get());
    if (!peer) return "peer: " + peer.error().message();
    if (::send(app.get(), "a", 1, 0) != 1 || ::send(fd, "z", 1, MSG_NOSIGNAL) != 1)
      return "send failed";
    char c = 0;
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, 3000) != 1 || ::recv(fd, &c, 1, 0) != 1 || c != 'a')
      return "the app's answer did not reach ztunnel's socket";
    pollfd r2{app.get(), POLLIN, 0};
    if (::poll(&r2, 1, 3000) != 1 || ::recv(app.get(), &c, 1, 0) != 1 || c != 'z')
      return "ztunnel's byte did not reach the app";
    return peer->ip.toString();
  }

  std::string netns_;
  std::shared_ptr<const UniqueFd> netns_fd_;
};

TEST_F(SourceRouting, TheAppSeesTheClientAddressAndRemovalRestoresTheNetns) {
  std::string before = rules();
  ASSERT_NE(before.find("0:\tfrom all lookup local"), std::string::npos) << before;
  std::string accept_before = fwmarkAccept();

  auto installed = installSourceRouting(netns_fd_->get());
  ASSERT_TRUE(installed) << installed.error().message();
  EXPECT_TRUE(installed->v4);
  auto again = installSourceRouting(netns_fd_->get());  // a restarted ztunnel: idempotent
  ASSERT_TRUE(again) << again.error().message();
  std::string r = rules();
  EXPECT_NE(r.find("0:\tfrom all fwmark 0x53a lookup 1337"), std::string::npos) << r;
  EXPECT_NE(r.find("1:\tfrom all lookup local"), std::string::npos) << r;
  EXPECT_EQ(r.find("0:\tfrom all lookup local"), std::string::npos) << r;
  EXPECT_EQ(r.find("fwmark 0x53a"), r.rfind("fwmark 0x53a")) << "installed twice: " << r;
  EXPECT_EQ(fwmarkAccept(), "1\n");

  EXPECT_EQ(appSeesPeerOf(*installed), kClientIp);

  ASSERT_TRUE(removeSourceRouting(netns_fd_->get(), *installed));
  EXPECT_EQ(rules(), before);
  EXPECT_EQ(fwmarkAccept(), accept_before);
  EXPECT_EQ(run("ip -n " + netns_ + " route show table 1337"), "");
  // Without the routing, ztunnel does not try: the app sees its own pod's address.
  EXPECT_EQ(appSeesPeerOf(ztunnel::SourceRouting{}), kPodIp);
}

TEST_F(SourceRouting, WithoutTheRoutingATransparentConnectionNeverCompletes) {
  // What the routing is for: claiming v4 without installing it, the SYN-ACK leaves by eth0.
  ztunnel::SourceRouting claimed;
  claimed.v4 = true;
  EXPECT_EQ(appSeesPeerOf(claimed), "connect timed out (the SYN-ACK did not come back)");
}

}  // namespace
}  // namespace warren::ztunnel
