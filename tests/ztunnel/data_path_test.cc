// The in-process data-path tier (data_path_fixture.h): tunnelling both ways, the pool, GOAWAY
// retry, waiting for certificates and workloads, 400/401/503, policy re-evaluation.
#include "tests/ztunnel/data_path_fixture.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;
using namespace warren::ztunnel::testing;
using mesh::testing::pod;
using relay::testing::readToEof;
using relay::testing::setBlocking;
using relay::testing::ThreadedServer;
using relay::testing::writeAll;

TEST_P(DataPathTest, TunnelsBytesBothWaysWithHalfCloseEachWay) {
  // Upstream: say hello, half-close, then hash what arrives until the client half-closes.
  std::promise<std::pair<std::string, size_t>> upstream_got;
  ThreadedServer upstream([&](int fd) {
    writeAll(fd, "hello", 5);
    ::shutdown(fd, SHUT_WR);
    upstream_got.set_value(relay::testing::hashToEof(fd));
  });
  startBoth();
  auto app = appConnect(upstream.address());
  // Server -> client half-close: "hello" then EOF, while the client's side stays open.
  EXPECT_EQ(readToEof(app.get()), "hello");
  // Client -> server: 8 MiB (flow-control windows must cycle), then the client's FIN.
  constexpr size_t kBytes = 8 << 20;
  std::string sent = relay::testing::sendPayload(app.get(), 11, kBytes);
  ASSERT_FALSE(sent.empty());
  ::shutdown(app.get(), SHUT_WR);
  auto got = upstream_got.get_future();
  ASSERT_EQ(got.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(got.get(), std::make_pair(sent, kBytes));
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->flags, "");
  EXPECT_EQ(out->bytes_sent, kBytes);
  EXPECT_EQ(out->bytes_recv, 5u);
  EXPECT_EQ(out->dst_identity, server_pod_->identity.uri());
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->src_identity, client_pod_->identity.uri()) << "the client's certificate";
  EXPECT_EQ(in->bytes_sent, kBytes);
}

TEST_P(DataPathTest, PoolReusesAConnectionUntilFullThenDialsAnother) {
  relay::testing::LoopEchoServer upstream;
  auto o = options();
  o.http2.max_concurrent_streams = 2;  // the server admits 2 streams per connection
  o.pool_spread.connections = 1;       // no spreading: invariants 1 and 2 alone
  startBoth(o, o);
  std::vector<UniqueFd> apps;
  auto open = [&] {
    apps.push_back(appConnect(upstream.address()));
    return echoes(apps.back().get(), "ping " + std::to_string(apps.size()));
  };
  ASSERT_TRUE(open());
  ASSERT_TRUE(open());
  EXPECT_EQ(client_->stats().client_connections, 1u) << "two tunnels share one connection";
  ASSERT_TRUE(open());
  EXPECT_EQ(client_->stats().client_connections, 2u) << "the first was full: a second one";
  EXPECT_EQ(server_->stats().server_connections, 2u);
  // A tunnel ends: its connection has room again and the next tunnel reuses it.
  apps.front().reset();
  ASSERT_TRUE(records_.await(isOutbound));
  ASSERT_TRUE(open());
  EXPECT_EQ(client_->stats().client_connections, 2u);
  EXPECT_EQ(sockets_->dials({kServerIp, 15008}), 2);
}

TEST_P(DataPathTest, StreamRefusedAfterGoawayIsRetriedOnANewConnection) {
  relay::testing::LoopEchoServer upstream;
  auto client_o = options();
  client_o.pool_spread.connections = 1;  // T2 rides T1's connection, as a busy pool's would
  startPlane(client_pod_, kClientIp, client_o);
  client_ = planes_.back().get();
  DataPlane& old_server = startPlane(server_pod_, kServerIp, options());
  HoldableForwarder fwd(listenerAddress(kServerUid, 2));
  sockets_->route({kServerIp, 15008}, fwd.address());
  // T1 rides connection 1, served by the old ztunnel.
  auto t1 = appConnect(upstream.address());
  ASSERT_TRUE(echoes(t1.get(), "t1"));
  // The rolling restart: a new ztunnel joins the listeners' SO_REUSEPORT groups, the old one
  // drains. Its GOAWAY waits in the forwarder while the client opens T2 on connection 1.
  DataPlane& new_server = startPlane(server_pod_, kServerIp, options());
  fwd.hold(true);
  drainPlane(old_server, std::chrono::steady_clock::now());  // GOAWAY, listeners closed
  auto t2 = appConnect(upstream.address());
  ASSERT_TRUE(writeAll(t2.get(), "t2", 2));
  std::this_thread::sleep_for(200ms);  // T2's HEADERS reach the old server, which ignores them
  fwd.hold(false);  // the GOAWAY arrives: T2's stream was refused, the pool retries it
  std::string got(2, '\0');
  ASSERT_EQ(::recv(t2.get(), got.data(), 2, MSG_WAITALL), 2);
  EXPECT_EQ(got, "t2");
  // At least one new dial; the new ztunnel served exactly one connection. (Twice in about 15
  // `make test` runs, none of 570 runs alone or beside other data path tests, a third dial was
  // counted while the new ztunnel still served one connection: a dial that failed and was
  // retried, whose cause is not known; noted in issue 12.)
  EXPECT_GE(sockets_->dials({kServerIp, 15008}), 2) << "the retry dialled a new connection";
  EXPECT_EQ(new_server.stats().server_connections, 1u) << "the new ztunnel served the retry";
  EXPECT_TRUE(echoes(t1.get(), "t1 again")) << "the draining connection still carries T1";
}

// Issue 12 "use every core": each worker accepts on its own SO_REUSEPORT socket of every pod
// port, so the kernel spreads connections over the workers (they used to share one socket
// through dup(), and one worker took them all); each worker's pool gives concurrent tunnels
// connections of their own, which the server's workers share the same way. 24 tunnels held
// open: both workers of both ztunnels accept some (all on one: 2 in 2^24 per side).
TEST_P(DataPathTest, ConnectionsSpreadOverEveryWorker) {
  relay::testing::LoopEchoServer upstream;
  auto client_o = options();
  client_o.workers = 2;
  client_o.pool_spread.connections = 24;  // every held tunnel a connection of its own
  auto server_o = options();
  server_o.workers = 2;
  startBoth(client_o, server_o);
  constexpr int kTunnels = 24;
  std::vector<UniqueFd> apps;
  for (int i = 0; i < kTunnels; ++i) {
    apps.push_back(appConnect(upstream.address()));
    ASSERT_TRUE(echoes(apps.back().get(), "spread " + std::to_string(i))) << i;
  }
  uint64_t out0 = accepted(0, "15001"), out1 = accepted(1, "15001");
  uint64_t hb0 = accepted(0, "15008"), hb1 = accepted(1, "15008");
  std::printf("15001 accepted per worker: %llu/%llu; 15008: %llu/%llu\n",
              static_cast<unsigned long long>(out0), static_cast<unsigned long long>(out1),
              static_cast<unsigned long long>(hb0), static_cast<unsigned long long>(hb1));
  EXPECT_EQ(out0 + out1, static_cast<uint64_t>(kTunnels));
  EXPECT_GT(out0, 0u) << "the client ztunnel's worker 0 accepted nothing on 15001";
  EXPECT_GT(out1, 0u) << "the client ztunnel's worker 1 accepted nothing on 15001";
  EXPECT_EQ(client_->stats().client_connections, static_cast<size_t>(kTunnels))
      << "busy tunnels spread over connections of their own";
  EXPECT_EQ(hb0 + hb1, static_cast<uint64_t>(kTunnels));
  EXPECT_GT(hb0, 0u) << "the server ztunnel's worker 0 accepted no HBONE connection";
  EXPECT_GT(hb1, 0u) << "the server ztunnel's worker 1 accepted no HBONE connection";
  for (int i = 0; i < kTunnels; ++i) EXPECT_TRUE(echoes(apps[i].get(), "again")) << i;
}

// Both pods on one node: both ends of every HBONE connection are in one ztunnel, the client
// end on the worker whose pool dialled, the server end on the worker the kernel's SO_REUSEPORT
// hash picks. When that is the same worker, it hands the connection to the other one
// (Worker::acceptHbone), so no worker runs both TLS ends of a tunnel. 12 tunnels, each on a
// connection of its own, to 12 upstreams: each one's inbound half is on another worker than
// its outbound half (by the hash alone, 1 in 4096).
TEST_P(DataPathTest, NodeLocalTunnelsRunTheirTwoEndsOnDifferentWorkers) {
  constexpr int kTunnels = 12;
  auto o = options();
  o.workers = 2;
  o.pool_spread.connections = kTunnels;
  DataPlane& plane = startPlane(client_pod_, kClientIp, o);
  enroll(plane, server_pod_, kServerIp, 2);
  sockets_->route({kServerIp, 15008}, listenerAddress(kServerUid, 2));
  std::vector<std::unique_ptr<relay::testing::LoopEchoServer>> upstreams;
  std::vector<UniqueFd> apps;
  for (int i = 0; i < kTunnels; ++i) {
    upstreams.push_back(std::make_unique<relay::testing::LoopEchoServer>());
    apps.push_back(appConnect(upstreams.back()->address()));
    ASSERT_TRUE(echoes(apps.back().get(), "local " + std::to_string(i))) << i;
  }
  EXPECT_EQ(plane.stats().client_connections, static_cast<size_t>(kTunnels));
  EXPECT_EQ(plane.stats().server_connections, static_cast<size_t>(kTunnels));
  // Each tunnel's two halves, by the upstream address both carry.
  std::map<std::string, int> outbound, inbound;
  for (const auto& c : plane.connections()) {
    const auto& d = c["destination"];
    std::string upstream = d["hbone_address"].get<std::string>();
    if (upstream.empty()) upstream = d["address"].get<std::string>();
    (c["direction"] == "outbound" ? outbound : inbound)[upstream] = c["worker"].get<int>();
  }
  ASSERT_EQ(outbound.size(), static_cast<size_t>(kTunnels)) << plane.connections().dump();
  ASSERT_EQ(inbound.size(), static_cast<size_t>(kTunnels)) << plane.connections().dump();
  for (const auto& up : upstreams) {
    std::string a = up->address().toString();
    ASSERT_TRUE(outbound.contains(a) && inbound.contains(a)) << a;
    EXPECT_NE(outbound[a], inbound[a]) << "both ends of the tunnel to " << a << " on one worker";
  }
  auto handed = [&](unsigned w) {
    auto c = metrics_.handovers->withLabels({std::to_string(w)});
    return c ? (*c)->value() : 0;
  };
  std::printf("15008 accepted per worker: %llu/%llu, handed over: %llu/%llu\n",
              static_cast<unsigned long long>(accepted(0, "15008")),
              static_cast<unsigned long long>(accepted(1, "15008")),
              static_cast<unsigned long long>(handed(0)),
              static_cast<unsigned long long>(handed(1)));
  for (int i = 0; i < kTunnels; ++i) EXPECT_TRUE(echoes(apps[i].get(), "again")) << i;
}

TEST_P(DataPathTest, ConnectionWaitsForTheCertificateThenProceeds) {
  relay::testing::LoopEchoServer upstream;
  {
    std::lock_guard lock(ca_mu_);
    ca_refuses_.insert(client_pod_->identity.uri());
  }
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(writeAll(app.get(), "early", 5));
  // No certificate: the connection waits (the CA keeps failing and backing off meanwhile).
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(records_.size(), 0u) << "nothing finished: the connection is waiting";
  EXPECT_EQ(sockets_->dials({kServerIp, 15008}), 0) << "no HBONE without a certificate";
  {
    std::lock_guard lock(ca_mu_);
    ca_refuses_.clear();
  }
  // The manager's next fetch succeeds and fires whenReady on the waiting worker's loop.
  std::string got(5, '\0');
  ASSERT_EQ(::recv(app.get(), got.data(), 5, MSG_WAITALL), 5);
  EXPECT_EQ(got, "early");
}

TEST_P(DataPathTest, ConnectionFailsCleanlyWhenNoCertificateComesInTime) {
  ThreadedServer upstream([](int) { ADD_FAILURE() << "nothing may reach the upstream"; });
  {
    std::lock_guard lock(ca_mu_);
    ca_refuses_.insert(client_pod_->identity.uri());
  }
  auto o = options();
  o.certificate_wait = 300ms;
  startBoth(o, options());
  auto app = appConnect(upstream.address());
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto r = records_.await(isOutbound);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, "TLS_FAILURE");
  EXPECT_NE(r->error.find("no certificate yet"), std::string::npos) << r->error;
}

TEST_P(DataPathTest, ServerWaitsForItsCertificateToo) {
  relay::testing::LoopEchoServer upstream;
  {
    std::lock_guard lock(ca_mu_);
    ca_refuses_.insert(server_pod_->identity.uri());
  }
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(writeAll(app.get(), "x", 1));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(records_.size(), 0u);
  {
    std::lock_guard lock(ca_mu_);
    ca_refuses_.clear();
  }
  char c = 0;
  ASSERT_EQ(::recv(app.get(), &c, 1, MSG_WAITALL), 1);
  EXPECT_EQ(c, 'x');
}

// Every rejection status reaches the client and nothing reaches the upstream.
TEST_P(DataPathTest, DenyIs401AndNothingGoesUpstream) {
  std::atomic<int> reached{0};
  ThreadedServer upstream([&](int) { ++reached; });
  mesh::StateUpdate u;
  mesh::Authorization deny;
  deny.namespace_ = "default";
  deny.name = "no-client";
  deny.scope = mesh::AuthorizationScope::kNamespace;
  deny.action = mesh::AuthorizationAction::kDeny;
  mesh::AuthorizationMatch m;
  m.principals = {mesh::StringMatch::exact("cluster.local/ns/default/sa/client")};
  deny.groups = {mesh::AuthorizationGroup{{mesh::AuthorizationRule{{m}}}}};
  u.policies = {deny};
  ASSERT_TRUE(store_.apply(u).empty());
  startBoth();
  auto app = appConnect(upstream.address());
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->flags, "DENY");
  EXPECT_NE(out->error.find("401"), std::string::npos) << out->error;
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "DENY");
  EXPECT_NE(in->error.find("default/no-client"), std::string::npos) << in->error;
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(reached, 0);
}

TEST_P(DataPathTest, UpstreamDownIs503) {
  // A port nothing listens on (bound and closed at once).
  net::SocketAddress dead;
  {
    auto l = net::SocketFactory::listenTcp(net::SocketAddress{kServerIp, 0}, {});
    ASSERT_TRUE(l);
    dead = *net::localAddress(l->get());
  }
  startBoth();
  auto app = appConnect(dead);
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->flags, "CONNECT");
  EXPECT_NE(out->error.find("503"), std::string::npos) << out->error;
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "UF");
}

TEST_P(DataPathTest, OwnPortIs503AndNothingGoesUpstream) {
  startBoth();
  // The app dials pod B's 15008 itself: the CONNECT would loop into ztunnel (SelfCall).
  auto app = appConnect({kServerIp, 15008});
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "CONNECT");
  EXPECT_NE(in->error.find("503 illegal_port"), std::string::npos) << in->error;
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_NE(out->error.find("503"), std::string::npos) << out->error;
}

TEST_P(DataPathTest, AddressNotTheServersIs400) {
  // xDS says pod C is at 127.0.0.4, but its 15008 answers as pod B (127.0.0.1): the CONNECT
  // names an IP that is not the server's own (a stale address, an IP reused by another pod).
  mesh::StateUpdate u;
  u.workloads = {pod("default", "server", {"127.0.0.4"}, "node-2", "server")};
  u.workloads[0].uid = "Kubernetes//Pod/default/stale";
  ASSERT_TRUE(store_.apply(u).empty());
  startBoth();
  sockets_->route({*net::IpAddress::parse("127.0.0.4"), 15008}, listenerAddress(kServerUid, 2));
  auto app = appConnect({*net::IpAddress::parse("127.0.0.4"), 8080});
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_NE(in->error.find("400 ip_mismatch"), std::string::npos) << in->error;
  auto out = records_.await(isOutbound);
  ASSERT_TRUE(out);
  EXPECT_NE(out->error.find("400"), std::string::npos) << out->error;
}

TEST_P(DataPathTest, PolicyChangeClosesANowDeniedConnection) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "before"));
  mesh::StateUpdate u;
  mesh::Authorization allow_other;  // an ALLOW that does not match: the client is now denied
  allow_other.namespace_ = "default";
  allow_other.name = "only-admin";
  allow_other.scope = mesh::AuthorizationScope::kNamespace;
  mesh::AuthorizationMatch m;
  m.principals = {mesh::StringMatch::exact("cluster.local/ns/default/sa/admin")};
  allow_other.groups = {mesh::AuthorizationGroup{{mesh::AuthorizationRule{{m}}}}};
  u.policies = {allow_other};
  ASSERT_TRUE(store_.apply(u).empty());
  server_->onSnapshot();
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "DENY");
  EXPECT_NE(in->error.find("denied"), std::string::npos) << in->error;
}

TEST_P(DataPathTest, LocalWorkloadLeavingTheStateClosesItsConnections) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "before"));
  mesh::StateUpdate gone;
  gone.removed_addresses = {server_pod_->workload_uid};
  ASSERT_TRUE(store_.apply(gone).empty());
  server_->onSnapshot();
  EXPECT_TRUE(closedWithoutData(app.get()));
  auto in = records_.await(isInbound);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->flags, "DENY");
  EXPECT_NE(in->error.find("not in the state"), std::string::npos) << in->error;
}

TEST_P(DataPathTest, WaitsForThePodsWorkloadToArriveOverXds) {
  relay::testing::LoopEchoServer upstream;
  mesh::StateUpdate gone;
  gone.removed_addresses = {client_pod_->workload_uid};
  ASSERT_TRUE(store_.apply(gone).empty());
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(writeAll(app.get(), "hi", 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(records_.size(), 0u) << "waiting for the workload, not failed";
  mesh::StateUpdate back;
  back.workloads = {pod("default", "client", {"127.0.0.2"}, "node-1", "client")};
  ASSERT_TRUE(store_.apply(back).empty());  // the publish fires the worker's wait
  std::string got(2, '\0');
  ASSERT_EQ(::recv(app.get(), got.data(), 2, MSG_WAITALL), 2);
  EXPECT_EQ(got, "hi");
}

// Backpressure: an upstream that does not read bounds what the ztunnels hold. Per tunnel
// the data path may hold at most: two relays (client and server side) of 2 x 256 KiB, the
// client's per-stream send buffer (256 KiB) and TLS output (64 KiB), and on the server one
// stream window of received-but-unwritten DATA (4 MiB) plus its TLS output: about 5.5 MiB
// (6.5 MiB before frames went straight to the TLS engine, past a 1 MiB session output). The test
// pushes 64 MiB and asserts the ztunnels never held more than 8 MiB.
TEST_P(DataPathTest, ASlowReaderBoundsMemory) {
  constexpr size_t kCap = 8 << 20;
  constexpr size_t kTotal = 64 << 20;
  std::promise<void> start_reading;
  auto reading = start_reading.get_future().share();
  std::promise<size_t> upstream_total;
  ThreadedServer upstream([&](int fd) {
    reading.wait();
    upstream_total.set_value(relay::testing::hashToEof(fd).second);
  });
  startBoth();
  auto app = appConnect(upstream.address());
  ::fcntl(app.get(), F_SETFL, ::fcntl(app.get(), F_GETFL) | O_NONBLOCK);
  std::vector<char> chunk(256 << 10, 'b');
  size_t written = 0, peak = 0;
  auto last_progress = std::chrono::steady_clock::now();
  // Write until the sender is stuck for 1 s (everything between it and the upstream is full).
  while (written < kTotal && std::chrono::steady_clock::now() - last_progress < 1s) {
    ssize_t w =
        ::send(app.get(), chunk.data(), std::min(chunk.size(), kTotal - written), MSG_NOSIGNAL);
    if (w > 0) {
      written += static_cast<size_t>(w);
      last_progress = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(10ms);
    }
    peak = std::max(peak, client_->stats().buffered_bytes + server_->stats().buffered_bytes);
  }
  EXPECT_LT(written, kTotal) << "a reader that never reads must stop the sender";
  peak = std::max(peak, client_->stats().buffered_bytes + server_->stats().buffered_bytes);
  EXPECT_LE(peak, kCap) << "the ztunnels held " << peak << " bytes";
  std::printf("slow reader: the sender stopped after %zu bytes; the ztunnels held at most %zu\n",
              written, peak);
  EXPECT_GT(peak, 0u);
  // The reader starts: everything written arrives.
  start_reading.set_value();
  setBlocking(app.get(), 20s);
  std::string rest(kTotal - written, 'b');
  ASSERT_TRUE(writeAll(app.get(), rest.data(), rest.size()));
  ::shutdown(app.get(), SHUT_WR);
  auto total = upstream_total.get_future();
  ASSERT_EQ(total.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(total.get(), kTotal);
}

// Many tunnels opened, held idle and closed (the benchmark's 10,000 idle connections) leave
// nothing behind: per-connection state is counted, not timed.

INSTANTIATE_TEST_SUITE_P(Backends, DataPathTest,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         backendParamName);

}  // namespace
}  // namespace warren::ztunnel
