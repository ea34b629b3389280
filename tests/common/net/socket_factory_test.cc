#include "common/net/socket_factory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/net/socket_info.h"
#include "common/netns.h"

namespace warren::net {
namespace {

int intOpt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

// Connects a factory socket to `to` and waits (bounded) for the handshake.
Result<UniqueFd> connectBlocking(const SocketAddress& to, const SocketOptions& o = {}) {
  auto fd = SocketFactory::tcpSocket(to.family(), o);
  if (!fd) return fd;
  if (::connect(fd->get(), to.toSockaddr().get(), to.toSockaddr().length) != 0 &&
      errno != EINPROGRESS)
    return fail(WARREN_SYS_ERROR("connect " + to.toString()));
  pollfd p{fd->get(), POLLOUT, 0};
  if (::poll(&p, 1, 5000) != 1) return fail(Error(ErrorCode::kTimeout, "connect timed out"));
  int err = intOpt(fd->get(), SOL_SOCKET, SO_ERROR);
  if (err != 0) return fail(Error::system(err, "connect " + to.toString()));
  return fd;
}

UniqueFd acceptBlocking(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return UniqueFd();
  return UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

ino_t netnsInode(const char* path) {
  struct stat st {};
  ::stat(path, &st);
  return st.st_ino;
}

TEST(SocketFactoryTest, ListenerAndConnectionOptions) {
  SocketOptions o;
  o.reuse_port = true;
  auto listener = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), o);
  ASSERT_TRUE(listener) << listener.error().message();
  auto bound = localAddress(listener->get());
  ASSERT_TRUE(bound);
  EXPECT_NE(bound->port, 0);
  EXPECT_EQ(bound->ip.toString(), "127.0.0.1");
  EXPECT_EQ(intOpt(listener->get(), SOL_SOCKET, SO_REUSEPORT), 1);
  EXPECT_TRUE(::fcntl(listener->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(listener->get(), F_GETFD) & FD_CLOEXEC);

  auto client = connectBlocking(*bound);
  ASSERT_TRUE(client) << client.error().message();
  int fd = client->get();
  EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(intOpt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 180);
  EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 180);
  EXPECT_EQ(intOpt(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
  EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);

  auto accepted = acceptBlocking(listener->get());
  ASSERT_TRUE(accepted);
  ASSERT_TRUE(SocketFactory::configureAccepted(accepted.get(), {}));
  EXPECT_TRUE(::fcntl(accepted.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(intOpt(accepted.get(), IPPROTO_TCP, TCP_KEEPCNT), 9);
  auto peer = peerAddress(accepted.get());
  auto local = localAddress(fd);
  ASSERT_TRUE(peer && local);
  EXPECT_EQ(*peer, *local);
}

TEST(SocketFactoryTest, ReusePortAllowsTwoListenersOtherwiseBindFailsClearly) {
  SocketOptions reuse;
  reuse.reuse_port = true;
  auto a = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), reuse);
  ASSERT_TRUE(a);
  auto port = localAddress(a->get())->port;
  auto b = SocketFactory::listenTcp(SocketAddress::loopbackV4(port), reuse);
  EXPECT_TRUE(b) << b.error().message();
  auto c = SocketFactory::listenTcp(SocketAddress::loopbackV4(port), {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().sysErrno(), EADDRINUSE);
  EXPECT_NE(c.error().message().find("bind 127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(SocketFactoryTest, MarkIsApplied) {
  if (::geteuid() != 0) GTEST_SKIP() << "SO_MARK needs CAP_NET_ADMIN (run as root)";
  SocketOptions o;
  o.mark = kZtunnelMark;
  o.transparent = true;  // best effort: must not fail the call either way
  o.freebind = true;
  auto fd = SocketFactory::tcpSocket(AF_INET, o);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(static_cast<uint32_t>(intOpt(fd->get(), SOL_SOCKET, SO_MARK)), 0x539u);
  EXPECT_EQ(intOpt(fd->get(), SOL_IP, IP_FREEBIND), 1);
}

TEST(SocketFactoryTest, Ipv6Listener) {
  auto l = SocketFactory::listenTcp(SocketAddress::loopbackV6(0), {});
  if (!l && l.error().sysErrno() == EADDRNOTAVAIL) GTEST_SKIP() << "no IPv6 on loopback";
  ASSERT_TRUE(l) << l.error().message();
  auto bound = localAddress(l->get());
  ASSERT_TRUE(bound && bound->isV6());
  auto client = connectBlocking(*bound);
  ASSERT_TRUE(client) << client.error().message();
  auto od = originalDestination(client->get());
  ASSERT_FALSE(od);
  EXPECT_EQ(od.error().code(), ErrorCode::kNotFound);
}

TEST(SocketFactoryTest, OriginalDestinationOnPlainSocketIsAClearError) {
  auto listener = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), {});
  ASSERT_TRUE(listener);
  auto client = connectBlocking(*localAddress(listener->get()));
  ASSERT_TRUE(client);
  auto accepted = acceptBlocking(listener->get());
  ASSERT_TRUE(accepted);
  // On a host without connection tracking the kernel refuses (ENOENT / ENOPROTOOPT); on one
  // with it (after `podman run`, on any kube-proxy node) conntrack answers with the socket's
  // own address, which is not the eBPF record and must be refused just the same.
  auto od = originalDestination(accepted.get());
  ASSERT_FALSE(od) << "trusted " << od->toString();
  EXPECT_EQ(od.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(od.error().message().find("no original destination"), std::string::npos)
      << od.error().message();
  if (od.error().sysErrno() != 0) {
    EXPECT_TRUE(od.error().sysErrno() == ENOENT || od.error().sysErrno() == ENOPROTOOPT)
        << od.error().message();
  } else {
    EXPECT_NE(od.error().message().find("conntrack"), std::string::npos) << od.error().message();
  }
  // Not a socket at all: a system error, no crash.
  auto bad = originalDestination(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().sysErrno(), EBADF);
}

TEST(SocketFactoryTest, BadNetnsPathIsNamed) {
  SocketOptions o;
  o.netns_path = "/run/netns/warren-does-not-exist";
  auto fd = SocketFactory::tcpSocket(AF_INET, o);
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().message().find("/run/netns/warren-does-not-exist"), std::string::npos);
  auto bad_family = SocketFactory::tcpSocket(AF_UNIX, {});
  ASSERT_FALSE(bad_family);
  EXPECT_EQ(bad_family.error().code(), ErrorCode::kInvalidArgument);
}

// A netns created for this test with `ip netns add`, removed in TearDown even on failure.
class SocketFactoryNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "creating a network namespace needs root";
    name_ = "warren-net-test-" + std::to_string(::getpid());
    ASSERT_EQ(std::system(("ip netns add " + name_).c_str()), 0);
    created_ = true;
    ASSERT_EQ(std::system(("ip -n " + name_ + " link set lo up").c_str()), 0);
  }
  void TearDown() override {
    if (created_) std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
  }
  std::string path() const { return "/run/netns/" + name_; }
  std::string name_;
  bool created_ = false;
};

// A host with connection tracking, made in a netns of our own: an iptables REDIRECT makes
// conntrack remember every connection there, so SO_ORIGINAL_DST answers for sockets Warren's
// eBPF never recorded. Neither the redirected connection nor a plain one may be trusted.
TEST_F(SocketFactoryNetnsTest, ConntrackAnswersAreNeverTrusted) {
  if (std::system("command -v iptables >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "iptables is not installed";
  }
  SocketOptions in_ns;
  in_ns.netns_path = path();
  auto listener = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), in_ns);
  ASSERT_TRUE(listener) << listener.error().message();
  uint16_t port = localAddress(listener->get())->port;
  uint16_t redirected = port == 65535 ? port - 1 : port + 1;
  ASSERT_EQ(
      std::system(("ip netns exec " + name_ +
                   " iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport " +
                   std::to_string(redirected) + " -j REDIRECT --to-ports " + std::to_string(port))
                      .c_str()),
      0);
  for (uint16_t dial : {redirected, port}) {
    SCOPED_TRACE("dialled port " + std::to_string(dial));
    auto client = connectBlocking(SocketAddress::loopbackV4(dial), in_ns);
    ASSERT_TRUE(client) << client.error().message();
    auto accepted = acceptBlocking(listener->get());
    ASSERT_TRUE(accepted);
    auto od = originalDestination(accepted.get());
    ASSERT_FALSE(od) << "trusted conntrack's " << od->toString();
    EXPECT_EQ(od.error().code(), ErrorCode::kNotFound);
    EXPECT_NE(od.error().message().find("conntrack"), std::string::npos) << od.error().message();
  }
}

TEST_F(SocketFactoryNetnsTest, ListenerLivesInTheNetnsAndTheThreadComesBack) {
  ino_t before = netnsInode("/proc/thread-self/ns/net");
  SocketOptions in_ns;
  in_ns.netns_path = path();
  in_ns.mark = kZtunnelMark;
  auto listener = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), in_ns);
  ASSERT_TRUE(listener) << listener.error().message();
  EXPECT_EQ(netnsInode("/proc/thread-self/ns/net"), before) << "thread left in the test netns";
  auto bound = localAddress(listener->get());
  ASSERT_TRUE(bound);

  // From inside the netns (a factory socket made there) the listener answers...
  auto inside = connectBlocking(*bound, in_ns);
  ASSERT_TRUE(inside) << inside.error().message();
  EXPECT_TRUE(acceptBlocking(listener->get()));
  // ...from the host netns the same address is someone else's loopback.
  auto host = SocketFactory::listenTcp(SocketAddress::loopbackV4(bound->port), {});
  EXPECT_TRUE(host) << "port " << bound->port << " should be free in the host netns: "
                    << (host ? "" : host.error().message());

  // The netns cookie of sockets made there differs from ours.
  auto ns_fd = openNetns(path());
  ASSERT_TRUE(ns_fd);
  auto self_fd = openNetns("/proc/thread-self/ns/net");
  ASSERT_TRUE(self_fd);
  auto c1 = netnsCookie(ns_fd->get());
  auto c2 = netnsCookie(self_fd->get());
  ASSERT_TRUE(c1 && c2);
  EXPECT_NE(*c1, *c2);

  // The fd form works too.
  SocketOptions by_fd;
  by_fd.netns_fd = ns_fd->get();
  auto other = SocketFactory::listenTcp(SocketAddress::loopbackV4(bound->port), by_fd);
  ASSERT_FALSE(other) << "same port in the same netns without SO_REUSEPORT must clash";
  EXPECT_EQ(other.error().sysErrno(), EADDRINUSE);
}

}  // namespace
}  // namespace warren::net
