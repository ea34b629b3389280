// The in-process data-path tier (no root, ztunnel's tests/direct.rs shape): the real
// DataPlane — workers on io_uring or epoll, OutboundProxy, InboundProxy, the HBONE client
// pool, TLS 1.3 with certificates a test CA signs for the real CertificateManager, HTTP/2 —
// over real sockets on loopback. Only the DataPathSockets differ from production: a pod is a
// loopback address of this netns (client 127.0.0.2, server 127.0.0.1), outgoing sockets are
// bound to their pod's address, a pod's 15008 is reached through a map to its listener's port,
// and the original destination of an app connection is what the test said it dialled.
//
// Two DataPlanes play two nodes' ztunnels: `client` holds pod A's listeners, `server` pod B's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/metrics/registry.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/stream_relay.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/state/snapshot_store.h"
#include "tests/common/identity/test_ca.h"
#include "tests/common/relay/test_peers.h"
#include "tests/mesh/mesh_fixture.h"
#include "ztunnel/data/data_plane.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;
using mesh::testing::pod;
using relay::testing::readToEof;
using relay::testing::setBlocking;
using relay::testing::ThreadedServer;
using relay::testing::writeAll;

const net::IpAddress kClientIp = *net::IpAddress::parse("127.0.0.2");
const net::IpAddress kServerIp = *net::IpAddress::parse("127.0.0.1");
constexpr const char* kClientUid = "uid-client";
constexpr const char* kServerUid = "uid-server";

// The test's "network": sockets bound to the pod's address, pod 15008s mapped to listeners.
class LoopbackSockets final : public DataPathSockets {
 public:
  void addPod(const std::string& uid, net::IpAddress ip) {
    std::lock_guard lock(mu_);
    ips_[uid] = ip;
  }
  void route(net::SocketAddress from, net::SocketAddress to) {
    std::lock_guard lock(mu_);
    routes_[from] = to;
  }
  // The app at `client_port` dialled `dst` (what the eBPF record would say).
  void dialled(uint16_t client_port, net::SocketAddress dst) {
    std::lock_guard lock(mu_);
    original_[client_port] = dst;
  }
  int dials(const net::SocketAddress& to) {
    std::lock_guard lock(mu_);
    return dial_count_[to];
  }

  Result<mesh::DialedSocket> dial(const EnrolledPod& pod, const net::SocketAddress& to) override {
    std::lock_guard lock(mu_);
    ++dial_count_[to];
    auto fd = net::SocketFactory::tcpSocket(to.family(), {});
    if (!fd) return fail(fd.error());
    auto src = net::SocketAddress{ips_.at(pod.uid), 0}.toSockaddr();
    if (::bind(fd->get(), src.get(), src.length) != 0) return fail(WARREN_SYS_ERROR("bind"));
    auto it = routes_.find(to);
    return mesh::DialedSocket{std::move(*fd), it == routes_.end() ? to : it->second};
  }
  Result<net::SocketAddress> originalDestination(const EnrolledPod&, int fd) override {
    auto peer = net::peerAddress(fd);
    if (!peer) return fail(peer.error());
    std::lock_guard lock(mu_);
    auto it = original_.find(peer->port);
    if (it == original_.end()) return fail(Error::notFound("no original destination"));
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, net::IpAddress> ips_;
  std::map<net::SocketAddress, net::SocketAddress> routes_;
  std::map<uint16_t, net::SocketAddress> original_;
  std::map<net::SocketAddress, int> dial_count_;
};

// Completed connection records, as the access log has them.
class Records {
 public:
  void add(const accesslog::ConnectionRecord& r) {
    std::lock_guard lock(mu_);
    records_.push_back(r);
    cv_.notify_all();
  }
  // Waits (bounded) for a record matching `pred`.
  std::optional<accesslog::ConnectionRecord> await(
      const std::function<bool(const accesslog::ConnectionRecord&)>& pred,
      std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    std::optional<accesslog::ConnectionRecord> found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& r : records_) {
        if (pred(r)) {
          found = r;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return records_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<accesslog::ConnectionRecord> records_;
};

bool isOutbound(const accesslog::ConnectionRecord& r) { return r.direction == "outbound"; }
bool isInbound(const accesslog::ConnectionRecord& r) { return r.direction == "inbound"; }

// A TCP forwarder between the client ztunnel and pod B's 15008 whose server-to-client
// direction can be held, so a GOAWAY can be in flight while the client opens a stream.
class HoldableForwarder {
 public:
  explicit HoldableForwarder(net::SocketAddress target) : target_(target) {
    listener_ = std::move(*net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {}));
    address_ = *net::localAddress(listener_.get());
    thread_ = std::thread([this] { run(); });
  }
  ~HoldableForwarder() {
    stop_ = true;
    thread_.join();
  }
  const net::SocketAddress& address() const { return address_; }
  void hold(bool on) { held_ = on; }

 private:
  void run() {
    std::vector<std::pair<UniqueFd, UniqueFd>> pairs;  // client side, server side
    while (!stop_) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (auto& [c, s] : pairs) {
        fds.push_back({c.get(), POLLIN, 0});
        fds.push_back({s.get(), static_cast<short>(held_ ? 0 : POLLIN), 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        auto s = relay::testing::connectTo(target_, 10s);
        if (c >= 0 && s) pairs.emplace_back(UniqueFd(c), std::move(s));
      }
      char buf[64 << 10];
      for (size_t i = 0; i < pairs.size(); ++i) {
        auto& [c, s] = pairs[i];
        auto pump = [&](int from, int to, short revents) {
          if (!(revents & (POLLIN | POLLHUP | POLLERR))) return true;
          ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
          if (n == 0) {
            ::shutdown(to, SHUT_WR);
            return false;
          }
          return n < 0 || writeAll(to, buf, static_cast<size_t>(n));
        };
        if (i + 1 >= fds.size() / 2 + 1) break;
        bool ok = pump(c.get(), s.get(), fds[1 + 2 * i].revents);
        ok = pump(s.get(), c.get(), fds[2 + 2 * i].revents) && ok;
        (void)ok;  // a finished side just stops producing; the test tears everything down
      }
    }
  }

  net::SocketAddress target_;
  UniqueFd listener_;
  net::SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> held_{false};
  std::thread thread_;
};

class DataPathTest : public ::testing::TestWithParam<uring::Backend> {
 protected:
  void SetUp() override {
    auto tcp = metrics::IstioTcpMetrics::create(registry_);
    ASSERT_TRUE(tcp);
    tcp_ = *tcp;
    client_pod_ = std::make_shared<EnrolledPod>(
        *EnrolledPod::make(kClientUid, "client", "default", "client", "cluster.local"));
    server_pod_ = std::make_shared<EnrolledPod>(
        *EnrolledPod::make(kServerUid, "server", "default", "server", "cluster.local"));
    sockets_->addPod(kClientUid, kClientIp);
    sockets_->addPod(kServerUid, kServerIp);
    // The mesh as xDS describes it: both pods enrolled (HBONE).
    mesh::StateUpdate u;
    auto a = pod("default", "client", {"127.0.0.2"}, "node-1", "client");
    auto b = pod("default", "server", {"127.0.0.1"}, "node-2", "server");
    u.workloads = {a, b};
    ASSERT_TRUE(store_.apply(u).empty());
    certs_.start();
  }

  void TearDown() override {
    planes_.clear();  // stops the workers before the certificate manager goes
    certs_.stop();
  }

  DataPlaneOptions options() {
    DataPlaneOptions o;
    o.workers = 1;
    o.backend = GetParam();
    o.workload_wait = 2s;
    o.certificate_wait = 5s;
    o.observer = [this](const accesslog::ConnectionRecord& r) { records_.add(r); };
    return o;
  }

  // A ztunnel holding `pod`'s three listeners (bound on the pod's address). As on a ZDS add,
  // the pod's certificate is asked for now.
  DataPlane& startPlane(const std::shared_ptr<const EnrolledPod>& p, net::IpAddress ip,
                        DataPlaneOptions o) {
    wanted_.insert(p->identity);
    certs_.setWanted("test", wanted_);
    auto plane = std::make_unique<DataPlane>(std::move(o), store_, certs_, tcp_, sockets_);
    EXPECT_TRUE(plane->start());
    auto& l = listeners_[p->uid];
    if (!l.outbound) {
      for (UniqueFd* fd : {&l.outbound, &l.inbound_plain, &l.hbone}) {
        auto s = net::SocketFactory::listenTcp(net::SocketAddress{ip, 0}, {});
        EXPECT_TRUE(s) << s.error().message();
        *fd = std::move(*s);
      }
    }
    EXPECT_TRUE(plane->addPod(p, l));
    planes_.push_back(std::move(plane));
    return *planes_.back();
  }
  net::SocketAddress listenerAddress(const std::string& uid, int which) {
    auto& l = listeners_[uid];
    int fd = which == 0 ? l.outbound.get() : which == 1 ? l.inbound_plain.get() : l.hbone.get();
    return *net::localAddress(fd);
  }
  // Both ztunnels, pod B's 15008 reachable at its IP:15008.
  void startBoth(DataPlaneOptions client_o, DataPlaneOptions server_o) {
    client_ = &startPlane(client_pod_, kClientIp, std::move(client_o));
    server_ = &startPlane(server_pod_, kServerIp, std::move(server_o));
    sockets_->route({kServerIp, 15008}, listenerAddress(kServerUid, 2));
  }
  void startBoth() { startBoth(options(), options()); }

  // The app in pod A connects to `dst`: captured by A's 15001 (the socket factory says where
  // it was going, as the eBPF record would).
  UniqueFd appConnect(const net::SocketAddress& dst) {
    auto fd = net::SocketFactory::tcpSocket(AF_INET, {});
    EXPECT_TRUE(fd);
    auto src = net::SocketAddress{kClientIp, 0}.toSockaddr();
    EXPECT_EQ(::bind(fd->get(), src.get(), src.length), 0);
    auto local = net::localAddress(fd->get());
    sockets_->dialled(local->port, dst);
    auto to = listenerAddress(kClientUid, 0).toSockaddr();
    setBlocking(fd->get(), 10s);
    EXPECT_EQ(::connect(fd->get(), to.get(), to.length), 0) << std::strerror(errno);
    return std::move(*fd);
  }

  // Sends `text` and reads it back (an echo upstream): the tunnel carries bytes now.
  static bool echoes(int fd, const std::string& text) {
    if (!writeAll(fd, text.data(), text.size())) return false;
    std::string got(text.size(), '\0');
    size_t n = 0;
    while (n < got.size()) {
      ssize_t r = ::recv(fd, got.data() + n, got.size() - n, 0);
      if (r <= 0) return false;
      n += static_cast<size_t>(r);
    }
    return got == text;
  }

  // Waits (bounded) until `p` carries no proxied connection.
  static bool settled(DataPlane* p) {
    for (int i = 0; i < 500; ++i) {
      if (p->stats().connections == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The app's connection ends without a byte (EOF or reset): what a rejected tunnel looks like.
  static bool closedWithoutData(int fd) {
    char c;
    ssize_t r = ::recv(fd, &c, 1, 0);
    return r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE));
  }

  mesh::SnapshotStore store_;
  identity::testing::TestCa ca_ = identity::testing::TestCa::root();
  std::mutex ca_mu_;
  std::set<std::string> ca_refuses_;  // identities the CA does not answer for (yet)
  mesh::CertificateManager certs_{
      [this](const identity::SpiffeId& id) -> Result<identity::WorkloadCertificate> {
        {
          std::lock_guard lock(ca_mu_);
          if (ca_refuses_.contains(id.uri())) {
            return fail(Error(ErrorCode::kUnavailable, "test CA holds " + id.uri()));
          }
        }
        return ca_.issue(id);
      },
      std::chrono::milliseconds(20), std::chrono::milliseconds(100)};
  metrics::Registry registry_;
  metrics::IstioTcpMetrics tcp_{};
  std::shared_ptr<LoopbackSockets> sockets_ = std::make_shared<LoopbackSockets>();
  std::shared_ptr<EnrolledPod> client_pod_, server_pod_;
  std::map<std::string, PodListeners> listeners_;
  std::vector<std::unique_ptr<DataPlane>> planes_;
  std::set<identity::SpiffeId> wanted_;
  DataPlane* client_ = nullptr;
  DataPlane* server_ = nullptr;
  Records records_;
};

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
  startPlane(client_pod_, kClientIp, client_o);
  client_ = planes_.back().get();
  DataPlane& old_server = startPlane(server_pod_, kServerIp, options());
  HoldableForwarder fwd(listenerAddress(kServerUid, 2));
  sockets_->route({kServerIp, 15008}, fwd.address());
  // T1 rides connection 1, served by the old ztunnel.
  auto t1 = appConnect(upstream.address());
  ASSERT_TRUE(echoes(t1.get(), "t1"));
  // The rolling restart: a new ztunnel holds the same listener, the old one drains. Its
  // GOAWAY waits in the forwarder while the client opens T2 on connection 1.
  DataPlane& new_server = startPlane(server_pod_, kServerIp, options());
  fwd.hold(true);
  old_server.drain(std::chrono::steady_clock::now());  // GOAWAY, listeners closed, no wait
  auto t2 = appConnect(upstream.address());
  ASSERT_TRUE(writeAll(t2.get(), "t2", 2));
  std::this_thread::sleep_for(200ms);  // T2's HEADERS reach the old server, which ignores them
  fwd.hold(false);  // the GOAWAY arrives: T2's stream was refused, the pool retries it
  std::string got(2, '\0');
  ASSERT_EQ(::recv(t2.get(), got.data(), 2, MSG_WAITALL), 2);
  EXPECT_EQ(got, "t2");
  EXPECT_EQ(sockets_->dials({kServerIp, 15008}), 2) << "the retry dialled a new connection";
  EXPECT_EQ(new_server.stats().server_connections, 1u) << "the new ztunnel served the retry";
  EXPECT_TRUE(echoes(t1.get(), "t1 again")) << "the draining connection still carries T1";
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
// client's per-stream send buffer (256 KiB) and session output (1 MiB), and on the server
// one stream window of received-but-unwritten DATA (4 MiB) plus its session output (1 MiB):
// about 7.5 MiB. The test pushes 64 MiB and asserts the ztunnels never held more than 8 MiB.
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
TEST_P(DataPathTest, ManyIdleTunnelsLeaveNothingBehind) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  {
    auto first = appConnect(upstream.address());
    ASSERT_TRUE(echoes(first.get(), "x"));
  }
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(100ms);
  auto c0 = client_->stats();
  auto s0 = server_->stats();
  constexpr int kTunnels = 1000;
  std::vector<UniqueFd> apps;
  for (int i = 0; i < kTunnels; ++i) {
    apps.push_back(appConnect(upstream.address()));
    ASSERT_TRUE(echoes(apps.back().get(), "y")) << i;
  }
  auto c1 = client_->stats();
  auto s1 = server_->stats();
  EXPECT_EQ(c1.connections, static_cast<size_t>(kTunnels));
  EXPECT_EQ(s1.connections, static_cast<size_t>(kTunnels));
  EXPECT_EQ(c1.client_connections, static_cast<size_t>(kTunnels) / 100) << "100 streams each";
  apps.clear();
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(200ms);
  auto c2 = client_->stats();
  auto s2 = server_->stats();
  EXPECT_EQ(c2.connections, 0u);
  std::printf(
      "%d tunnels held: %zu/%zu loop operations (client/server), %zu/%zu after they "
      "closed (%zu/%zu before)\n",
      kTunnels, c1.loop_operations, s1.loop_operations, c2.loop_operations, s2.loop_operations,
      c0.loop_operations, s0.loop_operations);
  // What stays is the listeners (3) and the pooled connections, each with what the one pooled
  // connection before had (its read, keep-alive timer and idle clock).
  EXPECT_EQ(c2.loop_operations, 3 + (c0.loop_operations - 3) * c2.client_connections);
  EXPECT_EQ(c2.tracked_streams, 0u);
  EXPECT_EQ(s2.tracked_streams, 0u);
}

// Issue 12: the data path hands work to itself by posting to its own loop (stream deliveries,
// write completions); those posts used to write the loop's eventfd each time. Counted: 200
// round trips of 64 bytes through both ztunnels wake neither loop (the one wake-up each is the
// stats() call that reads the count, posted from this thread).
TEST_P(DataPathTest, RoundTripsDoNotWakeTheLoops) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "warm"));
  uint64_t c0 = client_->stats().loop_wakeups;
  uint64_t s0 = server_->stats().loop_wakeups;
  std::string msg(64, 'r');
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(echoes(app.get(), msg)) << i;
  uint64_t c1 = client_->stats().loop_wakeups;
  uint64_t s1 = server_->stats().loop_wakeups;
  std::printf("200 round trips of 64 B: %llu client and %llu server loop wake-ups\n",
              static_cast<unsigned long long>(c1 - c0), static_cast<unsigned long long>(s1 - s0));
  EXPECT_LE(c1 - c0, 1u);
  EXPECT_LE(s1 - s0, 1u);
}

// Issue 16: a pooled connection that carries no tunnel for the idle timeout is closed with
// GOAWAY (both ztunnels let go of it); a tunnel open longer than that keeps it.
TEST_P(DataPathTest, PooledConnectionIdleForTheTimeoutIsClosed) {
  relay::testing::LoopEchoServer upstream;
  auto o = options();
  o.pool_idle_timeout = 300ms;
  startBoth(o, options());
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "one"));
  std::this_thread::sleep_for(700ms);
  EXPECT_TRUE(echoes(app.get(), "still here")) << "a connection with a tunnel is not idle";
  EXPECT_EQ(client_->stats().client_connections, 1u);
  app.reset();
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {
    closed = client_->stats().client_connections == 0 && server_->stats().server_connections == 0;
    if (!closed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(closed) << "the idle pooled connection is still open";
  auto again = appConnect(upstream.address());
  EXPECT_TRUE(echoes(again.get(), "two"));
  EXPECT_EQ(sockets_->dials({kServerIp, 15008}), 2) << "the next tunnel dialled afresh";
}

// A stream reset by the peer while bytes it delivered still wait in the stream (the relay had
// not taken them: its other side was slow) must give those bytes back to the HBONE
// connection's window. They used to stay unconsumed for good: each such reset shrank the
// pooled connection's receive window and left the stream in the session's table, until the
// window was gone and every new tunnel on that connection stalled (the benchmark's third
// repeat and its profile, after thousands of connections). Counted: no stream may stay
// tracked, and a tunnel opened afterwards on the same connection still carries 32 MiB.
// Writes up to `bytes` without blocking for `limit` (until everything between the writer and
// a reader that does not read is full); returns how much went.
size_t pushFor(int fd, size_t bytes, std::chrono::milliseconds limit) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string data(1 << 20, 'p');
  size_t sent = 0;
  auto until = std::chrono::steady_clock::now() + limit;
  while (sent < bytes && std::chrono::steady_clock::now() < until) {
    ssize_t w = ::send(fd, data.data(), std::min(data.size(), bytes - sent), MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  return sent;
}

void resetOnClose(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

TEST_P(DataPathTest, StreamsResetWithUnreadBytesGiveTheirWindowBack) {
  // More than the socket buffers, the relay and a stream window can hold together, so the
  // receiving ztunnel's stream holds undelivered bytes when the reset comes.
  constexpr size_t kPush = 32 << 20;
  std::atomic<bool> release{false};
  // Reads nothing until released: the server ztunnel keeps what the client sent.
  ThreadedServer sleepy([&](int fd) {
    while (!release) std::this_thread::sleep_for(10ms);
    (void)relay::testing::hashToEof(fd);
  });
  // Sends until stuck, then resets: the client ztunnel keeps what the app has not read.
  ThreadedServer blurt([&](int fd) {
    pushFor(fd, kPush, 1s);
    resetOnClose(fd);
  });
  ThreadedServer echo([](int fd) {
    std::vector<char> buf(64 << 10);
    for (;;) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0 || !writeAll(fd, buf.data(), static_cast<size_t>(n))) break;
    }
    ::shutdown(fd, SHUT_WR);
  });
  startBoth();
  // Each leak was up to one stream window (4 MiB) of the 16 MiB connection window: 5 rounds
  // used to leave the pooled connection unable to carry a byte.
  for (int i = 0; i < 5; ++i) {
    // The app sends until stuck, then resets: the RST_STREAM reaches a server stream that
    // holds bytes the upstream has not taken.
    auto app = appConnect(sleepy.address());
    EXPECT_GT(pushFor(app.get(), kPush, 1s), 0u);
    resetOnClose(app.get());
    app.reset();
    // The upstream sends until stuck and resets while the app does not read: the server's
    // RST_STREAM reaches a client stream that holds bytes the app has not taken.
    auto quiet = appConnect(blurt.address());
    std::this_thread::sleep_for(1200ms);
    quiet.reset();
  }
  release = true;
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(200ms);
  auto c = client_->stats();
  auto s = server_->stats();
  EXPECT_EQ(c.client_connections, 1u) << "every tunnel rode the one pooled connection";
  EXPECT_EQ(c.tracked_streams, 0u) << "client: streams left with unconsumed bytes";
  EXPECT_EQ(s.tracked_streams, 0u) << "server: streams left with unconsumed bytes";
  // The pooled connection's windows are whole: 32 MiB (twice the 16 MiB connection window)
  // go through a new tunnel on it, both ways.
  auto app = appConnect(echo.address());
  std::promise<std::pair<std::string, size_t>> back;
  std::thread reader([&] { back.set_value(relay::testing::hashToEof(app.get())); });
  std::string sent = relay::testing::sendPayload(app.get(), 5, 32 << 20);
  ::shutdown(app.get(), SHUT_WR);
  auto got = back.get_future();
  bool ready = got.wait_for(30s) == std::future_status::ready;
  if (!ready) ::shutdown(app.get(), SHUT_RDWR);  // unblock the reader
  reader.join();
  ASSERT_TRUE(ready) << "the tunnel stalled";
  EXPECT_EQ(got.get(), std::make_pair(sent, size_t{32 << 20}));
  EXPECT_EQ(client_->stats().client_connections, 1u);
}

// io_uring, and the epoll fallback ztunnel uses when io_uring cannot be set up.
INSTANTIATE_TEST_SUITE_P(Backends, DataPathTest,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         [](const auto& p) { return std::string(uring::backendName(p.param)); });

}  // namespace
}  // namespace warren::ztunnel
