// HboneClientPool's stated invariants (mesh/hbone/hbone_client_pool.h), each against a real
// HBONE server on loopback: real TLS 1.3 from a test CA, real HTTP/2, one event loop.
#include "mesh/hbone/hbone_client_pool.h"

#include <gtest/gtest.h>

#include <future>
#include <map>

#include "common/hbone/connect_request.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/uring/worker_threads.h"
#include "tests/common/identity/test_ca.h"

namespace warren::mesh {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClientId = "spiffe://cluster.local/ns/a/sa/client";
constexpr const char* kServerId = "spiffe://cluster.local/ns/b/sa/server";
constexpr const char* kOtherId = "spiffe://cluster.local/ns/b/sa/other";

identity::SpiffeId sid(const char* uri) { return *identity::SpiffeId::parse(uri); }

struct PoolFixture {
  identity::testing::TestCa ca = identity::testing::TestCa::root();
  tls::TlsContext client_ctx = *tls::TlsContext::client(ca.issue(kClientId));
  tls::TlsContext server_ctx = *tls::TlsContext::server(ca.issue(kServerId));
  std::unique_ptr<uring::WorkerThreads> thread;
  UniqueFd listener;
  net::SocketAddress server;
  http2::SessionConfig server_config;
  std::unique_ptr<HboneClientPool> pool;

  // Server behaviour, read on the loop.
  int answer = 200;
  bool refuse_first_stream = false;  // RST_STREAM(REFUSED_STREAM) + GOAWAY on the first one
  int accepted = 0;
  int requests = 0;
  std::map<const HboneConnection*, int> requests_on;  // CONNECTs per server connection
  int server_closed = 0;
  int server_closed_after_goaway = 0;  // the client's GOAWAY arrived before the close
  std::chrono::milliseconds pool_idle = HboneClientPool::kDefaultIdleTimeout;
  // Spreading off unless a test turns it on: invariants 1-5 alone.
  PoolSpread spread{.busy_streams = 1, .connections = 1};
  std::vector<std::weak_ptr<HboneConnection>> server_conns;
  // Each accepted connection's peer, and whether the pool said it dialled it, at the accept.
  std::vector<std::pair<net::SocketAddress, bool>> accepted_from;

  uring::EventLoop& loop() { return thread->loop(0); }

  void start() {
    uring::LoopOptions o;
    o.backend = uring::Backend::kEpoll;
    o.fallback_to_epoll = false;
    thread = std::move(*uring::WorkerThreads::start(1, o, nullptr));
    listener = std::move(*net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {}));
    server = *net::localAddress(listener.get());
    run([this] {
      pool = std::make_unique<HboneClientPool>(loop(), http2::SessionConfig{}, pool_idle, spread);
      loop().acceptMultishot(listener.get(), [this](int fd) {
        if (fd < 0) return;
        // What ztunnel's worker asks on its 15008 (Worker::acceptHbone), on the same loop.
        auto peer = net::peerAddress(fd);
        auto local = net::localAddress(fd);
        if (peer && local) accepted_from.emplace_back(*peer, pool->dialled(*peer, *local));
        serve(UniqueFd(fd));
      });
    });
  }

  void serve(UniqueFd fd) {
    ++accepted;
    auto engine = tls::TlsEngine::server(server_ctx);
    auto conn = HboneConnection::create(
        loop(), std::move(fd), std::move(*engine), http2::Role::kServer, server_config,
        [this](const std::shared_ptr<HboneConnection>& c, http2::StreamId id,
               const http2::HeaderList&) {
          ++requests;
          ++requests_on[c.get()];
          if (refuse_first_stream) {
            refuse_first_stream = false;
            (void)c->session().resetStream(id, http2::kRefusedStream);
            c->drain();  // GOAWAY: this connection takes no more streams
            return;
          }
          (void)c->session().respond(id, answer);
          c->flush();
        },
        [this](HboneConnection* c) {
          ++server_closed;
          if (c->session().goingAway()) ++server_closed_after_goaway;
        });
    server_conns.push_back(*conn);
    (*conn)->start();
  }

  HboneClientPool::Dialer dialer() {
    return {[this]() -> Result<const tls::TlsContext*> { return &client_ctx; },
            [](const net::SocketAddress& to) -> Result<DialedSocket> {
              auto fd = net::SocketFactory::tcpSocket(to.family(), {});
              if (!fd) return fail(fd.error());
              return DialedSocket{std::move(*fd), to};
            }};
  }

  HboneClientPool::Key key(std::vector<identity::SpiffeId> expected = {sid(kServerId)}) {
    return HboneClientPool::Key::make(sid(kClientId), server, std::move(expected));
  }

  // Opens one tunnel and waits for its outcome; the stream (if any) is kept open.
  int open(const HboneClientPool::Key& k) {
    std::promise<int> status;
    auto got = status.get_future();
    run([&] {
      hbone::ConnectRequest req;
      req.target = net::SocketAddress{server.ip, 8080};
      req.traceparent = hbone::TraceParent::random();
      pool->open(k, hbone::buildConnectHeaders(req), dialer(),
                 [this, &status](int s, std::unique_ptr<HboneStream> stream, const std::string&) {
                   if (stream) streams.push_back(std::move(stream));
                   status.set_value(s);
                 });
    });
    EXPECT_EQ(got.wait_for(10s), std::future_status::ready);
    return got.get();
  }

  template <class Fn>
  auto onLoop(Fn fn) {
    std::promise<decltype(fn())> p;
    auto f = p.get_future();
    loop().post([&] { p.set_value(fn()); });
    f.wait();
    return f.get();
  }
  void run(std::function<void()> fn) {
    std::promise<void> p;
    loop().post([&] {
      fn();
      p.set_value();
    });
    p.get_future().wait();
  }
  size_t connections(const HboneClientPool::Key& k) {
    return onLoop([&] { return pool->connections(k); });
  }
  // The server closes every connection; true once `k` has none left in the pool (bounded).
  bool serverClosesAll(const HboneClientPool::Key& k) {
    run([&] {
      for (auto& w : server_conns) {
        if (auto c = w.lock()) c->close("server went away");
      }
    });
    for (int i = 0; i < 200; ++i) {
      if (connections(k) == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  ~PoolFixture() {
    if (!thread) return;
    run([this] {
      streams.clear();
      pool->closeAll("test over");
      for (auto& w : server_conns) {
        if (auto c = w.lock()) c->close("test over");
      }
    });
    run([this] { pool.reset(); });
    thread->stop();
  }

  std::vector<std::unique_ptr<HboneStream>> streams;
};

TEST(HboneClientPool, ReusesAConnectionWhileItHasStreamRoom) {
  PoolFixture f;
  f.start();
  auto k = f.key();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.connections(k), 1u);
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 1);
}

TEST(HboneClientPool, KeyIsSourceDestinationAndTheSortedExpectedIdentities) {
  PoolFixture f;
  f.start();
  auto ab = f.key({sid(kServerId), sid(kOtherId)});
  auto ba = f.key({sid(kOtherId), sid(kServerId), sid(kOtherId)});
  EXPECT_EQ(ab, ba) << "sorted and unique";
  ASSERT_EQ(f.open(ab), 200);
  ASSERT_EQ(f.open(ba), 200);
  EXPECT_EQ(f.connections(ab), 1u);
  auto only = f.key({sid(kServerId)});
  ASSERT_EQ(f.open(only), 200);
  EXPECT_EQ(f.connections(only), 1u) << "other expected identities: a connection of its own";
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 2);
}

TEST(HboneClientPool, DialsAnotherConnectionWhenEveryOneIsFull) {
  PoolFixture f;
  f.server_config.max_concurrent_streams = 2;
  f.start();
  auto k = f.key();
  ASSERT_EQ(f.open(k), 200);
  ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.connections(k), 1u);
  ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.connections(k), 2u);
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 2);
}

TEST(HboneClientPool, ClosedConnectionsLeaveThePool) {
  PoolFixture f;
  f.start();
  auto k = f.key();
  ASSERT_EQ(f.open(k), 200);
  ASSERT_EQ(f.connections(k), 1u);
  EXPECT_TRUE(f.serverClosesAll(k));
  ASSERT_EQ(f.open(k), 200) << "the next tunnel dials afresh";
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 2);
}

// dialled: the pool knows its connections by their two addresses from the connect on (asked at
// the accept, which the loop may see before the connect's completion) until they close.
TEST(HboneClientPool, KnowsItsConnectionsByLocalAddressUntilTheyClose) {
  PoolFixture f;
  f.start();
  auto k = f.key();
  ASSERT_EQ(f.open(k), 200);
  auto seen = f.onLoop([&] { return f.accepted_from; });
  ASSERT_EQ(seen.size(), 1u);
  net::SocketAddress client = seen[0].first;
  EXPECT_TRUE(seen[0].second) << "asked at the accept";
  EXPECT_TRUE(f.onLoop([&] { return f.pool->dialled(client, f.server); }));
  EXPECT_FALSE(f.onLoop([&] { return f.pool->dialled(f.server, client); })) << "the other way";
  net::SocketAddress elsewhere{f.server.ip, static_cast<uint16_t>(f.server.port ^ 1)};
  EXPECT_FALSE(f.onLoop([&] { return f.pool->dialled(client, elsewhere); })) << "another target";
  ASSERT_TRUE(f.serverClosesAll(k));
  EXPECT_FALSE(f.onLoop([&] { return f.pool->dialled(client, f.server); })) << "closed: forgotten";
}

TEST(HboneClientPool, AConnectionIdleForTheTimeoutSendsGoawayAndLeaves) {
  PoolFixture f;
  f.pool_idle = 300ms;
  f.start();
  auto k = f.key();
  ASSERT_EQ(f.open(k), 200);
  // A tunnel open longer than the timeout keeps its connection.
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(f.connections(k), 1u) << "a connection with a stream is not idle";
  ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 1) << "the second tunnel reused it";
  // Both tunnels end: the clock starts.
  f.run([&] { f.streams.clear(); });
  EXPECT_EQ(f.connections(k), 1u);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    gone = f.connections(k) == 0 && f.onLoop([&] { return f.server_closed; }) == 1;
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(gone) << "the idle connection was not closed";
  EXPECT_EQ(f.onLoop([&] { return f.server_closed_after_goaway; }), 1)
      << "closed with a GOAWAY first, not just dropped";
  ASSERT_EQ(f.open(k), 200) << "the next tunnel dials afresh";
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 2);
}

TEST(HboneClientPool, IdleTimeoutZeroKeepsConnections) {
  PoolFixture f;
  f.pool_idle = 0ms;
  f.start();
  auto k = f.key();
  ASSERT_EQ(f.open(k), 200);
  f.run([&] { f.streams.clear(); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(f.connections(k), 1u);
}

TEST(HboneClientPool, AStreamRefusedBeforeProcessingIsRetriedOnANewConnection) {
  PoolFixture f;
  f.refuse_first_stream = true;
  f.start();
  auto k = f.key();
  EXPECT_EQ(f.open(k), 200) << "the refusal never reaches the caller";
  EXPECT_EQ(f.onLoop([&] { return f.requests; }), 2);
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 2) << "the retry used a new connection";
}

// Invariant 6, with the default spread (4 connections): tunnels open at once get connections
// of their own up to the limit, then share the least loaded; a tunnel that finds a connection
// with no open stream rides it.
TEST(HboneClientPool, BusyTunnelsSpreadOverConnectionsUpToTheLimit) {
  PoolFixture f;
  f.spread = PoolSpread{};
  f.start();
  auto k = f.key();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.connections(k), 4u) << "each overlapping tunnel on a connection of its own";
  for (int i = 0; i < 4; ++i) ASSERT_EQ(f.open(k), 200);
  EXPECT_EQ(f.connections(k), 4u) << "past the limit, tunnels share";
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 4);
  std::vector<int> per_connection = f.onLoop([&] {
    std::vector<int> n;
    for (const auto& [c, requests] : f.requests_on) n.push_back(requests);
    return n;
  });
  EXPECT_EQ(per_connection, (std::vector<int>{2, 2, 2, 2})) << "least loaded first";
}

TEST(HboneClientPool, AConnectionWithoutOpenStreamsTakesTheNextTunnel) {
  PoolFixture f;
  f.spread = PoolSpread{};
  f.start();
  auto k = f.key();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(f.open(k), 200);
    f.run([&] { f.streams.clear(); });  // one tunnel at a time: nothing overlaps
  }
  EXPECT_EQ(f.connections(k), 1u);
  EXPECT_EQ(f.onLoop([&] { return f.accepted; }), 1) << "no handshake where streams do not overlap";
}

TEST(HboneClientPool, AnAnswerIsFinalEvenANonOkOne) {
  PoolFixture f;
  f.answer = 401;
  f.start();
  EXPECT_EQ(f.open(f.key()), 401);
  EXPECT_EQ(f.onLoop([&] { return f.requests; }), 1) << "no retry after a response";
}

}  // namespace
}  // namespace warren::mesh
