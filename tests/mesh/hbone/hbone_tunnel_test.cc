// The HBONE transport end to end over real loopback sockets, real TLS 1.3 with certificates
// from a test CA, and a real event loop: HboneConnection (client and server) + HboneStream +
// StreamRelay, the pieces the ztunnel data path is made of.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <future>
#include <thread>

#include "common/hbone/connect_request.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "common/relay/stream_relay.h"
#include "common/tls/kernel_tls.h"
#include "common/tls/tls_context.h"
#include "common/uring/worker_threads.h"
#include "mesh/hbone/hbone_connection.h"
#include "mesh/hbone/hbone_stream.h"
#include "tests/common/identity/test_ca.h"
#include "tests/common/relay/test_peers.h"

namespace warren::mesh {
namespace {

using namespace std::chrono_literals;
using relay::testing::ThreadedServer;

constexpr const char* kClientId = "spiffe://cluster.local/ns/a/sa/client";
constexpr const char* kServerId = "spiffe://cluster.local/ns/b/sa/server";

struct Fixture {
  identity::testing::TestCa ca = identity::testing::TestCa::root();
  tls::TlsContext client_ctx = *tls::TlsContext::client(ca.issue(kClientId));
  tls::TlsContext server_ctx = *tls::TlsContext::server(ca.issue(kServerId));
  std::unique_ptr<uring::WorkerThreads> loop_thread;
  UniqueFd listener;
  net::SocketAddress hbone_address;
  // Server side: what it saw.
  std::promise<std::string> peer_identity;
  std::atomic<int> answer_status{200};
  net::SocketAddress upstream;

  uring::EventLoop& loop() { return loop_thread->loop(0); }

  void start(uring::Backend backend = uring::Backend::kUring) {
    uring::LoopOptions o;
    o.backend = backend;
    o.fallback_to_epoll = false;
    auto t = uring::WorkerThreads::start(1, o, nullptr);
    ASSERT_TRUE(t) << t.error().message();
    loop_thread = std::move(*t);
    auto l = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {});
    ASSERT_TRUE(l);
    listener = std::move(*l);
    hbone_address = *net::localAddress(listener.get());
    loop().post([this] {
      loop().acceptMultishot(listener.get(), [this](int fd) {
        if (fd >= 0) serve(UniqueFd(fd));
      });
    });
  }

  void serve(UniqueFd fd) {
    auto engine = tls::TlsEngine::server(server_ctx);
    ASSERT_TRUE(engine);
    auto conn = HboneConnection::create(
        loop(), std::move(fd), std::move(*engine), http2::Role::kServer, {},
        [this](const std::shared_ptr<HboneConnection>& c, StreamId id,
               const http2::HeaderList& headers) {
          peer_identity.set_value(c->peerIdentity() ? c->peerIdentity()->uri() : "");
          const std::string* authority = http2::findHeader(headers, ":authority");
          if (answer_status != 200 || !authority) {
            (void)c->session().respond(id, answer_status);
            c->flush();
            return;
          }
          auto stream = std::make_unique<HboneStream>(c);
          stream->bind(id);
          c->attach(id, stream->handler());
          auto to = net::SocketAddress::parse(*authority);
          auto sock = net::SocketFactory::tcpSocket(AF_INET, {});
          ASSERT_TRUE(to && sock);
          auto held = std::make_shared<std::unique_ptr<HboneStream>>(std::move(stream));
          auto up = std::make_shared<UniqueFd>(std::move(*sock));
          std::weak_ptr<HboneConnection> weak = c;
          loop().connect(up->get(), to->toSockaddr().get(), to->toSockaddr().length,
                         [this, held, up, weak, id](int res) {
                           auto server = weak.lock();
                           ASSERT_EQ(res, 0);
                           ASSERT_TRUE(server);
                           ASSERT_TRUE(server->session().respond(id, 200));
                           server->flush();
                           auto relay = relay::StreamRelay::create(
                               std::move(*held),
                               std::make_unique<relay::SocketStream>(loop(), std::move(*up)),
                               [](const relay::RelayStats&, const std::optional<Error>&) {});
                           relay->start();
                           relays.push_back(relay);
                         });
        },
        nullptr);
    ASSERT_TRUE(conn);
    servers.push_back(*conn);
    (*conn)->start();
  }

  // Client: one app connection (the test's end of a socketpair) tunnelled to `upstream`.
  // Returns the response status.
  std::future<int> tunnel(UniqueFd app_side) {
    auto status = std::make_shared<std::promise<int>>();
    auto result = status->get_future();
    auto app = std::make_shared<UniqueFd>(std::move(app_side));
    loop().post([this, status, app] {
      auto engine = tls::TlsEngine::client(client_ctx, {*identity::SpiffeId::parse(kServerId)});
      ASSERT_TRUE(engine);
      auto sock = net::SocketFactory::tcpSocket(AF_INET, {});
      ASSERT_TRUE(sock);
      int raw = sock->get();
      auto conn = HboneConnection::create(loop(), std::move(*sock), std::move(*engine),
                                          http2::Role::kClient, {}, nullptr, nullptr);
      ASSERT_TRUE(conn);
      client = *conn;
      loop().connect(raw, hbone_address.toSockaddr().get(), hbone_address.toSockaddr().length,
                     [c = *conn](int res) {
                       ASSERT_EQ(res, 0);
                       c->start();
                     });
      hbone::ConnectRequest req;
      req.target = *hbone::parseAuthority(upstream.toString());
      req.source = *net::SocketAddress::parse("10.0.0.1:4000");
      req.traceparent = hbone::TraceParent::random();
      auto stream = std::make_unique<HboneStream>(*conn);
      auto id = (*conn)->openStream(hbone::buildConnectHeaders(req), stream->handler());
      ASSERT_TRUE(id);
      stream->bind(*id);
      auto* raw_stream = stream.get();
      auto held = std::make_shared<std::unique_ptr<HboneStream>>(std::move(stream));
      raw_stream->onResponse([this, status, app, held](int s, const std::string&, bool) {
        status->set_value(s);
        if (s != 200) return;
        auto relay = relay::StreamRelay::create(
            std::make_unique<relay::SocketStream>(loop(), std::move(*app)), std::move(*held),
            [](const relay::RelayStats&, const std::optional<Error>&) {});
        relay->start();
        relays.push_back(relay);
      });
    });
    return result;
  }

  ~Fixture() {
    if (loop_thread) {
      std::promise<void> done;
      loop().post([&] {
        for (auto& r : relays) r->abort("test over");
        relays.clear();
        if (client) client->close("test over");
        client.reset();
        // The server ends keep themselves alive until closed: left open when the loop stops,
        // they leak (LeakSanitizer, make asan) instead of being freed.
        for (auto& w : servers)
          if (auto server = w.lock()) server->close("test over");
        done.set_value();
      });
      done.get_future().wait_for(5s);
      loop_thread->stop();
    }
  }

  std::vector<std::shared_ptr<relay::StreamRelay>> relays;
  std::shared_ptr<HboneConnection> client;
  std::vector<std::weak_ptr<HboneConnection>> servers;  // touched on the loop thread only
};

std::pair<UniqueFd, UniqueFd> socketPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Upstream: hashes everything to EOF, answers with the hash and the byte count, closes.
// `start_after`: the upstream reads nothing for that long first, so what the client sends backs
// up through the tunnel into its buffers.
ThreadedServer hashingUpstream(std::chrono::milliseconds start_after = 0ms) {
  return ThreadedServer([start_after](int fd) {
    std::this_thread::sleep_for(start_after);
    auto [hex, n] = relay::testing::hashToEof(fd);
    std::string answer = hex + " " + std::to_string(n);
    relay::testing::writeAll(fd, answer.data(), answer.size());
  });
}

class HboneTunnelOnBackend : public ::testing::TestWithParam<uring::Backend> {};

// `bytes` through one tunnel and back as a hash, with the client's identity at the server; then
// both ends' record layers are settled: the kernel's (a kernel with the TLS ULP) or the
// engines' own, never OpenSSL's.
void carryBytesAndSettle(uring::Backend backend, size_t bytes) {
  ThreadedServer upstream = hashingUpstream();
  Fixture f;
  f.upstream = upstream.address();
  f.start(backend);
  auto [loop_side, test_side] = socketPair();
  auto status = f.tunnel(std::move(loop_side));
  relay::testing::setBlocking(test_side.get(), 30s);
  std::string sent = relay::testing::sendPayload(test_side.get(), 7, bytes);
  ASSERT_FALSE(sent.empty());
  ASSERT_EQ(status.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(status.get(), 200);
  ::shutdown(test_side.get(), SHUT_WR);  // -> END_STREAM -> upstream EOF
  std::string answer = relay::testing::readToEof(test_side.get());
  EXPECT_EQ(answer, sent + " " + std::to_string(bytes));
  auto peer = f.peer_identity.get_future();
  ASSERT_EQ(peer.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(peer.get(), kClientId);
  // kTLS was offered on both ends after the handshake and the kernel took the records (a kernel
  // with the TLS ULP), or it has none, the process knew it before the first connection (this
  // lab's kernel) and the bytes above went through the engines' own record layers, not
  // OpenSSL's.
  auto layers = std::make_shared<std::promise<std::array<int, 6>>>();
  f.loop().post([&f, layers] {
    std::array<int, 6> r{};
    if (f.client) {
      r = {f.client->recordLayerSettled(),
           f.client->recordsInKernel(),
           f.client->ownRecords(),
           0,
           0,
           0};
    }
    for (auto& w : f.servers)
      if (auto c = w.lock()) {
        r[3] = c->recordLayerSettled();
        r[4] = c->recordsInKernel();
        r[5] = c->ownRecords();
      }
    layers->set_value(r);
  });
  auto k = layers->get_future();
  ASSERT_EQ(k.wait_for(5s), std::future_status::ready);
  auto [client_settled, client_kernel, client_own, server_settled, server_kernel, server_own] =
      k.get();
  EXPECT_TRUE(client_settled);
  EXPECT_TRUE(server_settled);
  if (tls::kernelTlsWanted()) {
    EXPECT_TRUE(client_kernel && server_kernel) << "the kernel has the TLS ULP: both ends use it";
  } else {
    EXPECT_FALSE(client_kernel || server_kernel);
    EXPECT_TRUE(client_own && server_own) << "no kTLS: the engines seal and open the records";
  }
}

TEST_P(HboneTunnelOnBackend, CarriesBytesBothWaysWithHalfCloseAndIdentities) {
  carryBytesAndSettle(GetParam(), 24 << 20);  // several windows' worth: flow control must cycle
}

// The offer itself, as on a kernel with the TLS ULP: the process forgets what its start-up check
// learned, so both ends offer their records after the handshake. On this lab's kernel the first
// offer is refused (ENOENT), counted and remembered, and both engines switch to their own record
// layer in the middle of the connection (HboneConnection::settleRecordLayer), the bytes exact.
TEST_P(HboneTunnelOnBackend, OffersItsRecordsToTheKernelAfterTheHandshake) {
  tls::testing::forgetKernelTlsRefusal();
  const auto before = tls::kernelTlsCounts();
  carryBytesAndSettle(GetParam(), 4 << 20);
  const auto after = tls::kernelTlsCounts();
  EXPECT_GT(after.installed + after.unavailable, before.installed + before.unavailable)
      << "no end offered its records to the kernel";
  EXPECT_EQ(after.failed, before.failed);
}

// io_uring, and the epoll fallback ztunnel uses when io_uring cannot be set up.
INSTANTIATE_TEST_SUITE_P(Backends, HboneTunnelOnBackend,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         [](const auto& p) { return std::string(uring::backendName(p.param)); });

// Both ends of a tunnel export their state (records and HTTP/2 session) at a quiet moment after
// a bulk transfer, and the two exports describe one connection from its two sides: one end's
// sending keys and record count are the other's receiving ones, one end's windows the other's.
TEST(HboneTunnel, BothEndsExportOneConnectionsStateAtAQuietMoment) {
  constexpr size_t kBytes = 6 << 20;  // beyond the first stream window: updates must have flowed
  ThreadedServer upstream([](int fd) {
    std::vector<char> got(kBytes);
    if (!relay::testing::readExactly(fd, got.data(), got.size())) return;
    relay::testing::writeAll(fd, "ok", 2);
    (void)relay::testing::readToEof(fd);  // the stream stays open until the test ends
  });
  Fixture f;
  f.upstream = upstream.address();
  f.start();
  auto [loop_side, test_side] = socketPair();
  auto status = f.tunnel(std::move(loop_side));
  relay::testing::setBlocking(test_side.get(), 30s);
  ASSERT_FALSE(relay::testing::sendPayload(test_side.get(), 3, kBytes).empty());
  ASSERT_EQ(status.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(status.get(), 200);
  char ok[2];
  ASSERT_TRUE(relay::testing::readExactly(test_side.get(), ok, 2));

  using State = HboneConnection::State;
  struct Both {
    Result<State> client = fail(Error::invalid("not asked"));
    Result<State> server = fail(Error::invalid("not asked"));
  };
  // Quiet: both exports succeed and every record either end sent has been opened by the other
  // (nothing in flight between them, so the windows must agree exactly).
  auto quiet = [](const Both& b) {
    return b.client && b.server && b.client->records.tx.seq == b.server->records.rx.seq &&
           b.server->records.tx.seq == b.client->records.rx.seq;
  };
  Both both;
  for (int i = 0; i < 300 && !quiet(both); ++i) {
    std::this_thread::sleep_for(10ms);
    auto p = std::make_shared<std::promise<Both>>();
    f.loop().post([&f, p] {
      Both b;
      if (f.client) b.client = f.client->exportState();
      for (auto& w : f.servers)
        if (auto c = w.lock()) b.server = c->exportState();
      p->set_value(std::move(b));
    });
    auto got = p->get_future();
    ASSERT_EQ(got.wait_for(5s), std::future_status::ready);
    both = got.get();
  }
  ASSERT_TRUE(both.client) << both.client.error().message();
  ASSERT_TRUE(both.server) << both.server.error().message();
  ASSERT_TRUE(quiet(both)) << "records still in flight after 3 s";
  State& c = *both.client;
  State& s = *both.server;
  EXPECT_EQ(c.records.cipher_suite, s.records.cipher_suite);
  EXPECT_EQ(c.records.tx.key, s.records.rx.key);
  EXPECT_EQ(c.records.tx.iv, s.records.rx.iv);
  EXPECT_EQ(s.records.tx.key, c.records.rx.key);
  EXPECT_GE(c.records.tx.seq, kBytes / (16 << 10));  // the bulk went as full records
  EXPECT_TRUE(c.session.client);
  EXPECT_FALSE(s.session.client);
  EXPECT_EQ(c.session.send_window, s.session.receive_window);
  EXPECT_EQ(s.session.send_window, c.session.receive_window);
  EXPECT_EQ(s.session.last_peer_stream, 1);
  EXPECT_EQ(c.session.next_local_stream, 3);
  ASSERT_EQ(c.session.streams.size(), 1u);
  ASSERT_EQ(s.session.streams.size(), 1u);
  const auto& cs = c.session.streams[0];
  const auto& ss = s.session.streams[0];
  EXPECT_EQ(cs.id, 1);
  EXPECT_EQ(ss.id, 1);
  EXPECT_EQ(cs.send_window, ss.receive_window);
  EXPECT_EQ(ss.send_window, cs.receive_window);
  EXPECT_FALSE(cs.sent_end || ss.sent_end);
  EXPECT_TRUE(cs.queued.empty() && ss.queued.empty());  // every byte was delivered
  EXPECT_EQ(ss.unconsumed, 0u);                         // and passed on by the relays
  EXPECT_EQ(cs.unconsumed, 0u);
  tls::cleanse(c.records);
  tls::cleanse(s.records);
}

// A burst grows a connection's output buffers (HTTP/2 output, TLS output, the send buffer) to
// ~1.5 MiB; kept, every idle pooled connection after a bulk transfer holds that (the ztunnel's
// RSS after iperf3). Once its last stream ended and nothing is in flight, they are given back.
TEST(HboneTunnel, AnIdleConnectionGivesBackWhatABurstGrew) {
  // A slow start backs the burst up into the client's buffers (with frames and reads sized to
  // whole records, a fast upstream keeps them under kIdleKeep).
  ThreadedServer upstream = hashingUpstream(300ms);
  Fixture f;
  f.upstream = upstream.address();
  f.start();
  // On the loop: the client connection's and the server connections' held capacity, and the
  // streams open on them.
  auto held = [&f] {
    auto p = std::make_shared<std::promise<std::array<size_t, 3>>>();
    f.loop().post([&f, p] {
      std::array<size_t, 3> r{0, 0, 0};
      if (f.client) {
        r[0] = f.client->heldCapacity();
        r[2] += f.client->openStreams();
      }
      for (auto& w : f.servers)
        if (auto c = w.lock()) {
          r[1] += c->heldCapacity();
          r[2] += c->openStreams();
        }
      p->set_value(r);
    });
    auto answer = p->get_future();
    if (answer.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "the loop did not answer within 5 s";
      return std::array<size_t, 3>{SIZE_MAX, SIZE_MAX, SIZE_MAX};
    }
    return answer.get();
  };
  auto [loop_side, test_side] = socketPair();
  auto status = f.tunnel(std::move(loop_side));
  relay::testing::setBlocking(test_side.get(), 30s);
  std::atomic<bool> sending{true};
  std::atomic<size_t> peak{0};
  std::thread sampler([&] {
    while (sending.load()) {
      peak.store(std::max(peak.load(), held()[0]));
      std::this_thread::sleep_for(2ms);
    }
  });
  std::string sent = relay::testing::sendPayload(test_side.get(), 3, 16 << 20);
  sending.store(false);
  sampler.join();
  ASSERT_EQ(status.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(status.get(), 200);
  ::shutdown(test_side.get(), SHUT_WR);
  EXPECT_EQ(relay::testing::readToEof(test_side.get()), sent + " " + std::to_string(16 << 20));
  EXPECT_GT(peak.load(), HboneConnection::kIdleKeep) << "the burst did not grow the buffers: "
                                                        "test is not testing";
  std::array<size_t, 3> after{};
  for (int i = 0; i < 500; ++i) {
    after = held();
    if (after[0] == SIZE_MAX) break;  // the loop did not answer (already a failure)
    if (after[2] == 0 && after[0] <= HboneConnection::kIdleKeep &&
        after[1] <= HboneConnection::kIdleKeep)
      break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(after[2], 0u) << "streams still open";
  EXPECT_LE(after[0], HboneConnection::kIdleKeep) << "client kept " << after[0] << " bytes";
  EXPECT_LE(after[1], HboneConnection::kIdleKeep) << "server kept " << after[1] << " bytes";
  ASSERT_TRUE(f.client);
}

TEST(HboneTunnel, NonOkStatusReachesTheClientAndNoByteFlows) {
  ThreadedServer upstream([](int) { ADD_FAILURE() << "the upstream must not be reached"; });
  Fixture f;
  f.upstream = upstream.address();
  f.answer_status = 401;
  f.start();
  auto [loop_side, test_side] = socketPair();
  auto status = f.tunnel(std::move(loop_side));
  ASSERT_EQ(status.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(status.get(), 401);
}

}  // namespace
}  // namespace warren::mesh
