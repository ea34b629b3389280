// The socket relays through TcpRelayServer over real loopback sockets, on both backends and
// both engines: StreamRelay (copy) and SpliceRelay (splice through a pipe per direction). Every
// case also checks, through socketRelayCounters(), that the engine asked for is the one that
// moved the bytes.
#include "common/relay/stream_relay.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <tuple>

#include "common/relay/tcp_relay_server.h"
#include "test_peers.h"

namespace warren::relay {
namespace {

using namespace std::chrono_literals;
using namespace warren::relay::testing;

class StreamRelayTest
    : public ::testing::TestWithParam<std::tuple<uring::Backend, SocketRelayEngine>> {
 protected:
  uring::Backend backend() const { return std::get<0>(GetParam()); }
  SocketRelayEngine engine() const { return std::get<1>(GetParam()); }
  void SetUp() override {
    splice0_ = socketRelayCounters().splice.load();
    copy0_ = socketRelayCounters().copy.load();
  }
  // `n` relays ran, all on the engine this case asked for (no fallback).
  void expectEngineRan(uint64_t n) const {
    uint64_t splice = socketRelayCounters().splice.load() - splice0_;
    uint64_t copy = socketRelayCounters().copy.load() - copy0_;
    EXPECT_EQ(engine() == SocketRelayEngine::kSplice ? splice : copy, n);
    EXPECT_EQ(engine() == SocketRelayEngine::kSplice ? copy : splice, 0u);
  }

  std::unique_ptr<TcpRelayServer> startRelay(const net::SocketAddress& upstream,
                                             unsigned workers = 1) {
    TcpRelayConfig c;
    c.listen = net::SocketAddress::loopbackV4(0);
    c.upstream = upstream;
    c.workers = workers;
    c.loop.backend = backend();
    c.loop.fallback_to_epoll = false;
    c.engine = engine();
    auto s = TcpRelayServer::start(c);
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(*s) : nullptr;
  }

  // Waits (bounded) until the relay has no live connection.
  static bool drained(TcpRelayServer& r) {
    for (int i = 0; i < 500; ++i) {
      if (r.totals().active == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  uint64_t splice0_ = 0;
  uint64_t copy0_ = 0;
};

TEST_P(StreamRelayTest, EchoRoundTrip) {
  ThreadedServer upstream([](int fd) {
    auto data = readToEof(fd);
    writeAll(fd, data.data(), data.size());
  });
  auto relay = startRelay(upstream.address());
  ASSERT_TRUE(relay);
  auto c = connectTo(relay->address());
  ASSERT_TRUE(c);
  ASSERT_TRUE(writeAll(c.get(), "hello relay", 11));
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  EXPECT_EQ(readToEof(c.get()), "hello relay");
  ASSERT_TRUE(drained(*relay));
  auto t = relay->totals();
  EXPECT_EQ(t.relayed, 1u);
  EXPECT_EQ(t.bytes, 22u);
  expectEngineRan(1);
}

// A read EOF on one side becomes a write shutdown on the other, and the other direction keeps
// flowing after it: the upstream only answers once it saw the client's FIN.
TEST_P(StreamRelayTest, HalfClosePropagatesBothWays) {
  ThreadedServer upstream([](int fd) {
    auto data = readToEof(fd);  // returns only on the relayed FIN
    std::string answer = "got " + std::to_string(data.size());
    std::this_thread::sleep_for(50ms);  // the client's half-closed connection must stay up
    writeAll(fd, answer.data(), answer.size());
    ::shutdown(fd, SHUT_WR);
  });
  auto relay = startRelay(upstream.address());
  ASSERT_TRUE(relay);
  auto c = connectTo(relay->address());
  ASSERT_TRUE(c);
  std::string payload(100000, 'p');
  ASSERT_TRUE(writeAll(c.get(), payload.data(), payload.size()));
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  EXPECT_EQ(readToEof(c.get()), "got 100000");
  ASSERT_TRUE(drained(*relay)) << "both directions done must end the relay";
  EXPECT_EQ(relay->totals().bytes, 100000u + 10u);
  expectEngineRan(1);
}

TEST_P(StreamRelayTest, HundredMiBEachWayWithSha256Equality) {
  constexpr size_t kBytes = 100u << 20;
  std::promise<std::pair<std::string, size_t>> upstream_got;
  std::promise<std::string> upstream_sent;
  ThreadedServer upstream([&](int fd) {
    std::thread sender([&] {
      upstream_sent.set_value(sendPayload(fd, 2, kBytes));
      ::shutdown(fd, SHUT_WR);
    });
    upstream_got.set_value(hashToEof(fd));
    sender.join();
  });
  auto relay = startRelay(upstream.address(), 2);
  ASSERT_TRUE(relay);
  auto c = connectTo(relay->address(), 60s);
  ASSERT_TRUE(c);
  std::string client_sent;
  std::thread sender([&] {
    client_sent = sendPayload(c.get(), 1, kBytes);
    ::shutdown(c.get(), SHUT_WR);
  });
  auto [client_got_hash, client_got_bytes] = hashToEof(c.get());
  sender.join();
  auto [up_hash, up_bytes] = upstream_got.get_future().get();
  auto up_sent = upstream_sent.get_future().get();
  ASSERT_FALSE(client_sent.empty());
  EXPECT_EQ(up_bytes, kBytes);
  EXPECT_EQ(up_hash, client_sent) << "client -> upstream corrupted";
  EXPECT_EQ(client_got_bytes, kBytes);
  EXPECT_EQ(client_got_hash, up_sent) << "upstream -> client corrupted";
  ASSERT_TRUE(drained(*relay));
  auto t = relay->totals();
  EXPECT_EQ(t.bytes, 2 * kBytes);
  EXPECT_LE(t.peak_buffered, kMaxBufferedPerDirection);
  expectEngineRan(1);
}

// A receiver that stops reading: the relay's buffers stay under the cap, the sender blocks
// (its socket stops accepting bytes), and everything arrives once the receiver reads again.
TEST_P(StreamRelayTest, BackpressureBoundsMemoryAndBlocksTheSender) {
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<size_t> received;
  ThreadedServer upstream([&, released](int fd) {
    released.wait_for(30s);  // not reading until told
    size_t n = 0;
    char buf[65536];
    for (;;) {
      ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
      if (r <= 0) break;
      n += static_cast<size_t>(r);
    }
    received.set_value(n);
  });
  auto relay = startRelay(upstream.address());
  ASSERT_TRUE(relay);
  auto c = connectTo(relay->address());
  ASSERT_TRUE(c);
  int flags = ::fcntl(c.get(), F_GETFL);
  ::fcntl(c.get(), F_SETFL, flags | O_NONBLOCK);

  // Send until no byte is accepted for 600 ms: the sender is blocked.
  std::vector<char> chunk(64 * 1024, 'b');
  size_t sent = 0;
  int idle_polls = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (idle_polls < 3 && std::chrono::steady_clock::now() < deadline) {
    ssize_t w = ::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
      idle_polls = 0;
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    pollfd p{c.get(), POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) ++idle_polls;
  }
  ASSERT_EQ(idle_polls, 3) << "the sender never blocked after " << sent << " bytes";
  auto t = relay->totals();
  std::printf("backpressure: sender blocked after %zu bytes; relay peak buffered %zu, memory %zu\n",
              sent, t.peak_buffered, t.peak_memory);
  EXPECT_GT(t.peak_buffered, 0u);
  EXPECT_LE(t.peak_buffered, kMaxBufferedPerDirection) << "relay buffered past its cap";
  EXPECT_LE(t.peak_memory, 4 * kMaxBufferedPerDirection) << "per-connection memory unbounded";
  // Kernel socket buffers (client send, relay receive and send, upstream receive) plus the
  // relay's bounded buffer: far below what an unbounded relay would have swallowed.
  EXPECT_LT(sent, 64u << 20) << "sender was not held back";

  release.set_value();
  ::fcntl(c.get(), F_SETFL, flags);
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  auto fut = received.get_future();
  ASSERT_EQ(fut.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(fut.get(), sent) << "bytes lost after reading resumed";
  EXPECT_LE(relay->totals().peak_buffered, kMaxBufferedPerDirection);
  expectEngineRan(1);
}

TEST_P(StreamRelayTest, ThousandConcurrentConnections) {
  constexpr int kConns = 1000;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  // Per connection: client, relay accepted, relay upstream, echo side (+ 4 pipe ends: splice).
  const rlim_t want = (engine() == SocketRelayEngine::kSplice ? 8 : 4) * kConns + 100;
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, want + 100);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < want) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  LoopEchoServer echo;
  auto relay = startRelay(echo.address(), 2);
  ASSERT_TRUE(relay);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kConns; ++i) {
    clients.push_back(connectTo(relay->address(), 20s));
    ASSERT_TRUE(clients.back()) << "connect " << i << ": " << std::strerror(errno);
  }
  // All open at once, then each one talks.
  for (int i = 0; i < kConns; ++i) {
    std::string msg = "connection " + std::to_string(i) + std::string(40, '.');
    ASSERT_TRUE(writeAll(clients[i].get(), msg.data(), msg.size()));
  }
  for (int i = 0; i < kConns; ++i) {
    std::string msg = "connection " + std::to_string(i) + std::string(40, '.');
    std::string got(msg.size(), '\0');
    ASSERT_TRUE(readExactly(clients[i].get(), got.data(), got.size())) << "connection " << i;
    ASSERT_EQ(got, msg);
  }
  auto t = relay->totals();
  EXPECT_EQ(t.relayed, static_cast<uint64_t>(kConns));
  EXPECT_EQ(t.active, static_cast<uint64_t>(kConns));
  EXPECT_EQ(t.failures, 0u);
  clients.clear();
  ASSERT_TRUE(drained(*relay));
  expectEngineRan(kConns);
}

TEST_P(StreamRelayTest, UpstreamDownClosesTheClient) {
  net::SocketAddress dead;
  {
    auto l = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {});
    ASSERT_TRUE(l);
    dead = *net::localAddress(l->get());
  }  // closed: connects to it are refused
  auto relay = startRelay(dead);
  ASSERT_TRUE(relay);
  auto c = connectTo(relay->address(), 5s);
  ASSERT_TRUE(c);
  char b;
  EXPECT_LE(::recv(c.get(), &b, 1, 0), 0) << "client must see EOF or reset";
  for (int i = 0; i < 200 && relay->totals().failures == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(relay->totals().failures, 1u);
}

// The relay's listener and upstream socket made inside a test-created netns (as ztunnel binds
// inside each pod's netns): reachable from there, with the ztunnel mark on its sockets.
TEST_P(StreamRelayTest, ListensAndConnectsInsideANetns) {
  if (::geteuid() != 0) GTEST_SKIP() << "creating a network namespace needs root";
  std::string name = "warren-relay-test-" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("ip netns add " + name).c_str()), 0);
  struct Cleanup {
    std::string name;
    ~Cleanup() { std::system(("ip netns del " + name + " 2>/dev/null").c_str()); }
  } cleanup{name};
  ASSERT_EQ(std::system(("ip -n " + name + " link set lo up").c_str()), 0);
  net::SocketOptions in_ns;
  in_ns.netns_path = "/run/netns/" + name;
  {
    ThreadedServer upstream(
        [](int fd) {
          auto data = readToEof(fd);
          writeAll(fd, data.data(), data.size());
        },
        in_ns);
    TcpRelayConfig c;
    c.listen = net::SocketAddress::loopbackV4(0);
    c.upstream = upstream.address();
    c.workers = 2;
    c.loop.backend = backend();
    c.loop.fallback_to_epoll = false;
    c.engine = engine();
    c.sockets = in_ns;
    c.sockets.mark = net::kZtunnelMark;
    auto relay = TcpRelayServer::start(c);
    ASSERT_TRUE(relay) << relay.error().message();
    auto client = connectTo((*relay)->address(), 10s, in_ns);
    ASSERT_TRUE(client) << std::strerror(errno);
    ASSERT_TRUE(writeAll(client.get(), "in the pod", 10));
    ::shutdown(client.get(), SHUT_WR);
    EXPECT_EQ(readToEof(client.get()), "in the pod");
    EXPECT_EQ((*relay)->totals().relayed, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    BackendsAndEngines, StreamRelayTest,
    ::testing::Combine(::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                       ::testing::Values(SocketRelayEngine::kCopy, SocketRelayEngine::kSplice)),
    [](const auto& p) {
      return std::string(std::get<0>(p.param) == uring::Backend::kUring ? "uring" : "epoll") +
             (std::get<1>(p.param) == SocketRelayEngine::kSplice ? "_splice" : "_copy");
    });

}  // namespace
}  // namespace warren::relay
