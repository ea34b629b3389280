// The in-process Http1Session fixture (shared by the session test files): a real event loop
// on its own thread, the client end of a socketpair per session (what the HBONE stream is in
// production), endpoints reached as plain TCP outside the mesh, telemetry wired as the worker
// wires it, and the resilience pieces (timers, retry budget, mirrors) a worker lends.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/accesslog/logfmt.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "lab/echo/echo_server.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/state/workload_labels.h"
#include "waypoint/proxy/http1_session.h"

namespace warren::waypoint {

namespace l7 = warren::l7::v1;

// shop/echo (VIP 10.96.0.10) port 80 -> routes; its one endpoint is 127.0.0.1:<port>.
inline l7::ServiceRoutes routes() {
  l7::ServiceRoutes sr;
  sr.set_name("echo");
  sr.set_namespace_("shop");
  sr.set_hostname("echo.shop.svc.cluster.local");
  sr.add_addresses(std::string("\x0a\x60\x00\x0a", 4));
  l7::PortRoutes* p = sr.add_ports();
  p->set_port(80);
  p->set_protocol(l7::HTTP1);
  p->set_routes_attached(true);
  l7::RouteRule* r = p->add_rules();
  r->set_route("HTTPRoute/shop/r");
  r->set_index(0);
  auto* rw = r->add_filters()->mutable_url_rewrite();
  rw->mutable_path()->set_type(l7::PathModifier::REPLACE_PREFIX_MATCH);
  rw->mutable_path()->set_value("/in");
  auto* b = r->add_backends();
  b->set_service("shop/echo.shop.svc.cluster.local");
  b->set_port(80);
  b->set_weight(1);
  l7::RouteMatch* m = p->add_matches();
  m->set_rule(0);
  m->mutable_path()->set_value("/api");
  return sr;
}

class Http1SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uring::LoopOptions lo;
    lo.backend = uring::Backend::kEpoll;  // the session is backend-agnostic; epoll runs anywhere
    auto loop = uring::EventLoop::create(lo);
    ASSERT_TRUE(loop) << loop.error().message();
    loop_ = std::move(*loop);
    pool_ = std::make_unique<mesh::HboneClientPool>(*loop_);
    client_tls_ = std::make_unique<mesh::TlsContextCache>(tls::TlsRole::kClient, certs_);
    upstreams_ = std::make_unique<Upstreams>(*loop_, *pool_, *client_tls_,
                                             [] { return std::optional<identity::SpiffeId>(); });
    useRoutes(routes());
    env_.routes = [this] {
      std::lock_guard lock(mu_);
      return config_;
    };
    env_.loop = loop_.get();
    env_.retry_budget = &budget_;
    env_.resilience = &counters_;
    mirrors_ = std::make_unique<RequestMirrors>(*loop_, *upstreams_);
    env_.mirrors = mirrors_.get();
    env_.upstreams = upstreams_.get();
    env_.random = &random_;
    auto telemetry = RequestTelemetry::create(registry_, RequestTelemetryOptions{});
    ASSERT_TRUE(telemetry) << telemetry.error().message();
    telemetry_ = std::move(*telemetry);
    env_.telemetry = telemetry_.get();
    access_log_->set_pattern("%v");
    auto logger = accesslog::accessLogger();
    logger->set_level(spdlog::level::info);
    logger->sinks().push_back(access_log_);
    env_.on_request_done = [this](const RequestRecord& r) {
      telemetry_->finish(r);  // what WaypointWorker::onRequestDone does
      std::lock_guard lock(mu_);
      records_.push_back(r);
    };
    env_.local_workload = [](const mesh::StateSnapshot& s) {
      return s.workloadByAddress(mesh::NetworkAddress{"", *net::IpAddress::parse("127.0.0.2")});
    };
  }
  void TearDown() override {
    loop_->post([this] {
      for (auto& [p, s] : std::map(sessions_)) s->abort("test over");
      sessions_.clear();
      mirrors_->closeAll();
      upstreams_->closeAll();
    });
    loop_->stop();
    if (thread_.joinable()) thread_.join();
    auto& sinks = accesslog::accessLogger()->sinks();
    std::erase(sinks, access_log_);
  }

  // The mesh state: the waypoint (127.0.0.2) and one endpoint of shop/echo at 127.0.0.1:port.
  void backendPort(uint16_t port) {
    endpoints({{"echo", *net::SocketAddress::parse("127.0.0.1:0")}}, port);
  }

  // One endpoint per entry: shop/<service> port 80 -> the entry's address (its port, or
  // `port` when that is 0). Services get VIPs 10.96.0.10, .11... in order of first mention;
  // endpoints are named <service>-<n> (uid "ep", then "ep1", "ep2"...).
  struct Endpoint {
    std::string service;
    net::SocketAddress at;
  };
  void endpoints(const std::vector<Endpoint>& eps, uint16_t port = 0) {
    mesh::StateUpdate u;
    std::map<std::string, int> per_service;
    for (size_t i = 0; i < eps.size(); ++i) {
      const Endpoint& e = eps[i];
      uint16_t target = e.at.port ? e.at.port : port;
      const std::string key = "shop/" + e.service + ".shop.svc.cluster.local";
      if (!per_service.contains(e.service)) {
        mesh::Service svc;
        svc.name = e.service;
        svc.namespace_ = "shop";
        svc.hostname = e.service + ".shop.svc.cluster.local";
        svc.addresses.push_back(
            {"", *net::IpAddress::parse("10.96.0." + std::to_string(10 + per_service.size()))});
        svc.ports.push_back({80, target, mesh::AppProtocol::kHttp11});
        u.services.push_back(svc);
      }
      mesh::Workload ep;
      ep.uid = i == 0 ? "ep" : "ep" + std::to_string(i);
      ep.name = e.service + "-" + std::to_string(per_service[e.service]++);
      ep.namespace_ = "shop";
      ep.service_account = e.service;
      ep.addresses.push_back(e.at.ip);
      ep.tunnel_protocol = mesh::TunnelProtocol::kNone;  // plain TCP to it
      ep.services[key] = {{80, target}};
      u.workloads.push_back(ep);
    }
    mesh::Workload self;
    self.uid = "wp";
    self.name = "waypoint-0";
    self.namespace_ = "shop";
    self.addresses.push_back(*net::IpAddress::parse("127.0.0.2"));
    self.tunnel_protocol = mesh::TunnelProtocol::kHbone;
    u.workloads.push_back(self);
    mesh::Workload client;  // the HBONE peer of every session here (forwarded for=)
    client.uid = "client";
    client.name = "sleep-7f9c-x1";
    client.workload_name = "sleep";
    client.namespace_ = "shop";
    client.service_account = "client";
    client.canonical_name = "sleep";
    client.addresses.push_back(*net::IpAddress::parse("10.244.1.5"));
    client.tunnel_protocol = mesh::TunnelProtocol::kHbone;
    u.workloads.push_back(client);
    ASSERT_TRUE(store_.apply(u).empty());
    if (!reader_) {  // once: the reader follows later publishes by itself
      reader_ = std::make_unique<mesh::SnapshotReader>(store_);
      env_.state = reader_.get();
    }
  }

  // A client connection to a new session; the loop runs on its own thread from the first one.
  // `type` SOCK_SEQPACKET keeps the session's writes apart: each recv() is one of them.
  int connect(int type = SOCK_STREAM) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    int server_side = sv[1];
    ::fcntl(server_side, F_SETFL, ::fcntl(server_side, F_GETFL) | O_NONBLOCK);
    loop_->post([this, server_side] {
      // What WaypointWorker::onConnect fills from the CONNECT and the state.
      const auto& snapshot = reader_->get();
      ConnectionFacts f;
      f.client = *net::SocketAddress::parse("10.244.1.5:40000");
      f.source = RequestPeer::of(
          snapshot->workloadByAddress(mesh::NetworkAddress{"", f.client.ip}),
          *identity::SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/client"), f.client);
      f.service_key = "shop/echo.shop.svc.cluster.local";
      f.service =
          mesh::serviceLabels(*snapshot->serviceByHostname("shop", "echo.shop.svc.cluster.local"));
      f.port = 80;
      auto s = std::make_shared<Http1Session>(
          env_, f,
          std::make_unique<StreamConduit>(
              std::make_unique<relay::SocketStream>(*loop_, UniqueFd(server_side)), nullptr),
          [this](Http1Session* p) {
            auto it = sessions_.find(p);
            if (it == sessions_.end()) return;
            auto gone = std::move(it->second);
            sessions_.erase(it);
            loop_->post([gone] {});
          });
      sessions_[s.get()] = s;
      s->start();
    });
    if (!thread_.joinable()) thread_ = std::thread([this] { loop_->run(); });
    clients_.emplace_back(sv[0]);
    return sv[0];
  }

  static void send(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd, bytes.data(), bytes.size());
      ASSERT_GT(n, 0);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    bool closed = false;  // the connection ended after it
  };

  // Reads one response (or the end of the connection) through the codec. Bytes after it (a
  // pipelined answer that came in the same read) wait for the next call on that fd.
  Response read(int fd, const std::string& method = "GET") {
    struct Events : http1::ParserEvents {
      Response r;
      bool done = false;
      http1::Flow onHead(const http1::MessageHead& h) override {
        if (h.isInterim()) return http1::Flow::kContinue;
        r.status = h.status;
        for (const auto& f : h.headers) r.headers[toLowerAscii(f.name)] = std::string(f.value);
        return http1::Flow::kContinue;
      }
      http1::Flow onBody(std::string_view d) override {
        r.body.append(d);
        return http1::Flow::kContinue;
      }
      http1::Flow onMessageComplete() override {
        done = true;
        return http1::Flow::kPause;
      }
    } ev;
    http1::Parser p(http1::Role::kResponse, ev);
    p.expectResponse(method);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string& held = unread_[fd];
    char buf[65536];
    while (!ev.done) {
      if (held.empty()) {
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          if (n < 0) ADD_FAILURE() << "recv: " << std::strerror(errno);
          (void)p.finish();
          ev.r.closed = true;
          break;
        }
        held.assign(buf, static_cast<size_t>(n));
      }
      auto used = p.feed(held);
      if (!used) {
        ADD_FAILURE() << "bad response: " << used.error().message();
        break;
      }
      held.erase(0, *used);
    }
    return ev.r;
  }

  std::map<int, std::string> unread_;  // per client fd: bytes read past the last response

  // The routes every new request sees (the waypoint's RouteConfig::build from a push).
  void useRoutes(const l7::ServiceRoutes& sr) {
    auto built = RouteConfig::build({{"k", sr}}, 1);
    std::lock_guard lock(mu_);
    config_ = std::move(built);
  }

  std::vector<RequestRecord> records() {
    std::lock_guard lock(mu_);
    return records_;
  }

  mesh::CertificateManager certs_{
      [](const identity::SpiffeId&) -> Result<identity::WorkloadCertificate> {
        return fail(Error::invalid("no CA in this test: endpoints are plain TCP"));
      }};
  std::unique_ptr<uring::EventLoop> loop_;
  std::unique_ptr<mesh::HboneClientPool> pool_;
  std::unique_ptr<mesh::TlsContextCache> client_tls_;
  std::unique_ptr<Upstreams> upstreams_;
  std::shared_ptr<const RouteConfig> config_;
  RetryBudget budget_;
  ResilienceCounters counters_;
  std::unique_ptr<RequestMirrors> mirrors_;
  mesh::SnapshotStore store_;
  std::unique_ptr<mesh::SnapshotReader> reader_;
  ProxyRandom random_;
  SessionEnv env_;
  std::map<Http1Session*, std::shared_ptr<Http1Session>> sessions_;
  std::thread thread_;
  std::vector<UniqueFd> clients_;
  std::mutex mu_;
  std::vector<RequestRecord> records_;
  metrics::Registry registry_;
  std::unique_ptr<RequestTelemetry> telemetry_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> access_log_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
};

// A port that refuses connections for as long as it lives: bound, never listening (a closed
// port could be taken by a parallel test's listener meanwhile).
struct RefusingPort {
  UniqueFd fd;
  uint16_t port = 0;
  RefusingPort() {
    fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
    port = ntohs(sa.sin_port);
  }
  net::SocketAddress address() const {
    return *net::SocketAddress::parse("127.0.0.1:" + std::to_string(port));
  }
};

inline std::unique_ptr<echo::EchoServer> startEcho(const std::string& at = "127.0.0.1:0") {
  echo::EchoServerOptions o;
  o.listen.push_back(*net::SocketAddress::parse(at));
  o.context.pod = "echo-0";
  auto s = echo::EchoServer::start(std::move(o));
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

// A raw upstream: accepts one connection, reads the request head, writes `reply`, closes.
inline uint16_t rawUpstream(std::thread& t, std::string reply) {
  auto fd = net::SocketFactory::listenTcp(*net::SocketAddress::parse("127.0.0.1:0"), {});
  EXPECT_TRUE(fd);
  uint16_t port = net::localAddress(fd->get())->port;
  int lfd = fd->release();
  t = std::thread([lfd, reply] {
    int flags = ::fcntl(lfd, F_GETFL);
    ::fcntl(lfd, F_SETFL, flags & ~O_NONBLOCK);
    int c = ::accept(lfd, nullptr, nullptr);
    ::close(lfd);
    if (c < 0) return;
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    (void)!::write(c, reply.data(), reply.size());
    ::close(c);
  });
  return port;
}

}  // namespace warren::waypoint
