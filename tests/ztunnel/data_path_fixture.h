// The in-process data-path tier (no root, ztunnel's tests/direct.rs shape): the real
// DataPlane — workers on io_uring or epoll, OutboundProxy, InboundProxy, the HBONE client
// pool, TLS 1.3 with certificates a test CA signs for the real CertificateManager, HTTP/2 —
// over real sockets on loopback. Only the DataPathSockets differ from production: a pod is a
// loopback address of this netns (client 127.0.0.2, server 127.0.0.1), outgoing sockets are
// bound to their pod's address, a pod's 15008 is reached through a map to its listener's port,
// and the original destination of an app connection is what the test said it dialled.
//
// Two DataPlanes play two nodes' ztunnels: `client` holds pod A's listeners, `server` pod B's.
// This header holds the tier's fixture; data_path_test.cc (tunnelling, pool, certificates,
// policy) and data_path_resources_test.cc (what connections leave behind: windows, wake-ups,
// idle tunnels and pooled connections) hold its tests.
#pragma once

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

namespace warren::ztunnel::testing {

using namespace std::chrono_literals;
using mesh::testing::pod;
using relay::testing::readToEof;
using relay::testing::setBlocking;
using relay::testing::ThreadedServer;
using relay::testing::writeAll;

inline const net::IpAddress kClientIp = *net::IpAddress::parse("127.0.0.2");
inline const net::IpAddress kServerIp = *net::IpAddress::parse("127.0.0.1");
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

inline bool isOutbound(const accesslog::ConnectionRecord& r) { return r.direction == "outbound"; }
inline bool isInbound(const accesslog::ConnectionRecord& r) { return r.direction == "inbound"; }

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
    auto m = DataPathMetrics::create(registry_);
    ASSERT_TRUE(m);
    metrics_ = *m;
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
    listeners_.clear();
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

  // A ztunnel holding `pod`'s listeners (bound on the pod's address), one set per worker as
  // the ZDS client binds them: each port a SO_REUSEPORT group, so a second plane for the same
  // pod (a restarted ztunnel) joins the first one's groups. As on a ZDS add, the pod's
  // certificate is asked for now.
  DataPlane& startPlane(const std::shared_ptr<const EnrolledPod>& p, net::IpAddress ip,
                        DataPlaneOptions o) {
    unsigned workers = uring::WorkerThreads::count(o.workers);
    auto plane = std::make_unique<DataPlane>(std::move(o), store_, certs_, metrics_, sockets_);
    EXPECT_TRUE(plane->start());
    planes_.push_back(std::move(plane));
    enroll(*planes_.back(), p, ip, workers);
    return *planes_.back();
  }
  // `p` enrolled on `plane` too (a second pod of its node), with listeners for its workers.
  void enroll(DataPlane& plane, const std::shared_ptr<const EnrolledPod>& p, net::IpAddress ip,
              unsigned workers) {
    wanted_.insert(p->identity);
    certs_.setWanted("test", wanted_);
    auto [at, first] = ports_.try_emplace(p->uid, std::array<uint16_t, 3>{0, 0, 0});
    PodListeners l;
    auto sets = listenPodPorts(ip, at->second, {}, workers);
    EXPECT_TRUE(sets) << sets.error().message();
    l.sets = std::move(*sets);
    if (first) {
      for (size_t k = 0; k < 3; ++k) at->second[k] = net::localAddress(l.sets[0][k].get())->port;
    }
    EXPECT_TRUE(plane.addPod(p, l));
    listeners_[&plane].push_back(std::move(l));
  }
  net::SocketAddress listenerAddress(const std::string& uid, int which) {
    return {uid == kClientUid ? kClientIp : kServerIp, ports_.at(uid)[which]};
  }
  // What ZtunnelDaemon::drain does: the ZDS client closes its listeners, the workers theirs.
  void drainPlane(DataPlane& plane, std::chrono::steady_clock::time_point deadline) {
    listeners_.erase(&plane);
    plane.drain(deadline);
  }
  // Connections worker `worker` accepted on `listener` ("15001"...), from the metric. The
  // planes share the fixture's registry: 15001 is the client pod's, 15008 the server pod's.
  uint64_t accepted(unsigned worker, const char* listener) {
    auto c = metrics_.accepted->withLabels({std::to_string(worker), listener});
    return c ? (*c)->value() : 0;
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
  DataPathMetrics metrics_;
  std::shared_ptr<LoopbackSockets> sockets_ = std::make_shared<LoopbackSockets>();
  std::shared_ptr<EnrolledPod> client_pod_, server_pod_;
  std::map<std::string, std::array<uint16_t, 3>> ports_;  // each pod's 15001/15006/15008
  // What each plane's ZDS client holds, a set per enrolled pod.
  std::map<const DataPlane*, std::vector<PodListeners>> listeners_;
  std::vector<std::unique_ptr<DataPlane>> planes_;
  std::set<identity::SpiffeId> wanted_;
  DataPlane* client_ = nullptr;
  DataPlane* server_ = nullptr;
  Records records_;
};

// io_uring, and the epoll fallback ztunnel uses when io_uring cannot be set up.
inline std::string backendParamName(const ::testing::TestParamInfo<uring::Backend>& p) {
  return std::string(uring::backendName(p.param));
}

}  // namespace warren::ztunnel::testing
