// The in-process data-path tier (data_path_fixture.h): the plaintext relays, which move bytes
// between two plain TCP sockets with splice (relay::SpliceRelay) — outbound passthrough (a
// destination outside the mesh) and 15006 inbound plaintext (a client outside the mesh). Each
// case carries 8 MiB one way (sha256 compared) and a reply the other way, half-closes each way,
// and checks through relay::socketRelayCounters() that the splice engine moved them.
#include "common/relay/socket_relay.h"
#include "tests/ztunnel/data_path_fixture.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;
using namespace warren::ztunnel::testing;
using relay::testing::readToEof;
using relay::testing::setBlocking;
using relay::testing::ThreadedServer;
using relay::testing::writeAll;

class DataPathPlainTest : public DataPathTest {
 protected:
  void SetUp() override {
    DataPathTest::SetUp();
    splice0_ = relay::socketRelayCounters().splice.load();
    copy0_ = relay::socketRelayCounters().copy.load();
  }
  uint64_t spliced() const { return relay::socketRelayCounters().splice.load() - splice0_; }
  uint64_t copied() const { return relay::socketRelayCounters().copy.load() - copy0_; }

  // Upstream: say hello, half-close, then hash what arrives until the client half-closes.
  static ThreadedServer helloThenHash(std::promise<std::pair<std::string, size_t>>& got) {
    return ThreadedServer([&got](int fd) {
      writeAll(fd, "hello", 5);
      ::shutdown(fd, SHUT_WR);
      got.set_value(relay::testing::hashToEof(fd));
    });
  }
  // Client (`c`): read the hello to EOF, send 8 MiB, half-close.
  void exchange(int c, std::promise<std::pair<std::string, size_t>>& upstream_got) {
    EXPECT_EQ(readToEof(c), "hello") << "upstream -> client, then its FIN";
    std::string sent = relay::testing::sendPayload(c, 17, kBytes);
    ASSERT_FALSE(sent.empty());
    ::shutdown(c, SHUT_WR);
    auto got = upstream_got.get_future();
    ASSERT_EQ(got.wait_for(20s), std::future_status::ready);
    EXPECT_EQ(got.get(), std::make_pair(sent, kBytes)) << "client -> upstream corrupted";
  }

  static constexpr size_t kBytes = 8 << 20;
  uint64_t splice0_ = 0;
  uint64_t copy0_ = 0;
};

TEST_P(DataPathPlainTest, PassthroughSplicesBothWaysWithHalfClose) {
  std::promise<std::pair<std::string, size_t>> upstream_got;
  ThreadedServer upstream = helloThenHash(upstream_got);
  startBoth();
  // 10.99.0.1 is no workload: buildRequest answers passthrough, dialled (through the test's
  // network) to the upstream.
  net::SocketAddress outside{*net::IpAddress::parse("10.99.0.1"), 80};
  sockets_->route(outside, upstream.address());
  auto app = appConnect(outside);
  exchange(app.get(), upstream_got);
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->flags, "");
  EXPECT_EQ(out->dst_addr, "10.99.0.1:80");
  EXPECT_EQ(out->bytes_sent, kBytes);
  EXPECT_EQ(out->bytes_recv, 5u);
  EXPECT_EQ(spliced(), 1u) << "the passthrough relay did not run on splice";
  EXPECT_EQ(copied(), 0u);
}

TEST_P(DataPathPlainTest, InboundPlaintextSplicesBothWaysWithHalfClose) {
  std::promise<std::pair<std::string, size_t>> upstream_got;
  ThreadedServer upstream = helloThenHash(upstream_got);
  startBoth();
  // A client outside the mesh (127.0.0.9, no workload) reaches pod B's 15006 directly (what
  // sk_lookup steers); the original destination is the accepted socket's own address, mapped
  // by the test's network to the app.
  auto plain = listenerAddress(kServerUid, 1);
  sockets_->route(plain, upstream.address());
  auto fd = net::SocketFactory::tcpSocket(AF_INET, {});
  ASSERT_TRUE(fd);
  auto src = net::SocketAddress{*net::IpAddress::parse("127.0.0.9"), 0}.toSockaddr();
  ASSERT_EQ(::bind(fd->get(), src.get(), src.length), 0);
  setBlocking(fd->get(), 10s);
  auto to = plain.toSockaddr();
  ASSERT_EQ(::connect(fd->get(), to.get(), to.length), 0) << std::strerror(errno);
  exchange(fd->get(), upstream_got);
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "");
  EXPECT_EQ(in->bytes_sent, kBytes);
  EXPECT_EQ(in->bytes_recv, 5u);
  EXPECT_EQ(spliced(), 1u) << "the 15006 relay did not run on splice";
  EXPECT_EQ(copied(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DataPathPlainTest,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         backendParamName);

}  // namespace
}  // namespace warren::ztunnel
