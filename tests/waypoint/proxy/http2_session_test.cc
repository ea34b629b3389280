// Http2Session in process, on a real event loop and real sockets: the client end is one side of
// a socketpair (what the HBONE stream is in production) driven by our own HTTP/2 client session
// on the test thread; the backend is a real warren-echo (h2c and GrpcEcho) on loopback, reached
// as an endpoint outside the mesh (plain TCP; the HBONE path is the lab's:
// tests/e2e/test_waypoint_conformance.sh). Asserts what the client got, what the echo saw, and
// the RequestRecord of every stream.
#include "waypoint/proxy/http2_session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/grpc/message_framer.h"
#include "common/relay/socket_stream.h"
#include "lab/echo/echo_server.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/state/workload_labels.h"
#include "tests/common/http2/raw_frames.h"
#include "tests/waypoint/proxy/route_edits.h"

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;

// shop/echo (VIP 10.96.0.10) port 80, protocol HTTP2: rule 0 /api rewritten to /in with a
// response header; rule 1 the GrpcEcho service's prefix. With no GRPCRoute, gRPC calls use the
// HTTPRoute rules (no match: 404, UNIMPLEMENTED for a gRPC call).
l7::ServiceRoutes routes() {
  l7::ServiceRoutes sr;
  sr.set_name("echo");
  sr.set_namespace_("shop");
  sr.set_hostname("echo.shop.svc.cluster.local");
  sr.add_addresses(std::string("\x0a\x60\x00\x0a", 4));
  l7::PortRoutes* p = sr.add_ports();
  p->set_port(80);
  p->set_protocol(l7::HTTP2);
  p->set_routes_attached(true);
  for (int i = 0; i < 2; ++i) {
    l7::RouteRule* r = p->add_rules();
    r->set_route("HTTPRoute/shop/r");
    r->set_index(static_cast<uint32_t>(i));
    if (i == 0) {
      auto* rw = r->add_filters()->mutable_url_rewrite();
      rw->mutable_path()->set_type(l7::PathModifier::REPLACE_PREFIX_MATCH);
      rw->mutable_path()->set_value("/in");
      auto* h = r->add_filters()->mutable_response_header_modifier()->add_set();
      h->set_name("X-Route");
      h->set_value("api");
    }
    auto* b = r->add_backends();
    b->set_service("shop/echo.shop.svc.cluster.local");
    b->set_port(80);
    b->set_weight(1);
    l7::RouteMatch* m = p->add_matches();
    m->set_rule(static_cast<uint32_t>(i));
    m->mutable_path()->set_value(i == 0 ? "/api"
                                        : "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho");
  }
  return sr;
}

// A blocking HTTP/2 client on one socket, our own engine in the client role.
class Client : private http2::SessionCallbacks {
 public:
  struct Answer {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    std::map<std::string, std::string> trailers;
    bool done = false;
    uint32_t reset = 0;  // RST_STREAM code, when reset
  };
  explicit Client(int fd) : fd_(fd) {
    session_ = std::move(*http2::Session::create(http2::Role::kClient, {}, *this, {}));
  }
  http2::StreamId send(http2::HeaderList headers, std::string body = "",
                       std::optional<http2::HeaderList> trailers = std::nullopt) {
    bool more = !body.empty() || trailers;
    auto id = *session_->openStream(headers, more ? http2::Body::kFollows : http2::Body::kNone);
    answers_[id];
    if (more) bodies_[id] = {std::move(body), 0, std::move(trailers)};
    pushBodies();
    return id;
  }
  // Runs the connection until every stream sent is done (or 10 s pass).
  void wait() {
    for (int i = 0; i < 1000 && !allDone(); ++i) pump(10);
  }
  Answer& answer(http2::StreamId id) { return answers_[id]; }
  std::optional<uint32_t> goaway;
  bool closed = false;

 private:
  bool allDone() const {
    for (const auto& [id, a] : answers_)
      if (!a.done) return false;
    return true;
  }
  void pump(int timeout_ms) {
    pushBodies();
    auto out = session_->pendingOutput();
    while (!out.empty()) {
      ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      session_->drainOutput(static_cast<size_t>(n));
      out = session_->pendingOutput();
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    uint8_t buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed = true;
      for (auto& [id, a] : answers_) a.done = true;
      return;
    }
    (void)session_->dispatch({buf, static_cast<size_t>(n)});
  }
  void pushBodies() {
    for (auto& [id, b] : bodies_) {
      while (b.off < b.data.size()) {
        auto n = session_->writeData(
            id, {reinterpret_cast<const uint8_t*>(b.data.data()) + b.off, b.data.size() - b.off});
        if (!n || *n == 0) break;
        b.off += *n;
      }
      if (b.off == b.data.size() && !b.ended) {
        b.ended = true;
        if (b.trailers) {
          (void)session_->sendTrailers(id, *b.trailers);
        } else {
          (void)session_->closeWrite(id);
        }
      }
    }
  }
  void onRequest(http2::StreamId, const http2::HeaderList&) override {}
  void onResponse(http2::StreamId id, int status, const http2::HeaderList& h) override {
    answers_[id].status = status;
    for (const auto& f : h) answers_[id].headers[f.name] = f.value;
  }
  void onData(http2::StreamId id, std::span<const uint8_t> d) override {
    answers_[id].body.append(reinterpret_cast<const char*>(d.data()), d.size());
    session_->consume(id, d.size());
  }
  void onTrailers(http2::StreamId id, const http2::HeaderList& t) override {
    for (const auto& f : t) answers_[id].trailers[f.name] = f.value;
  }
  void onEndOfStream(http2::StreamId) override {}
  void onStreamClose(http2::StreamId id, uint32_t code) override {
    answers_[id].done = true;
    answers_[id].reset = code;
  }
  void onStreamWritable(http2::StreamId) override {}
  void onGoAway(uint32_t, uint32_t code) override { goaway = code; }

  struct Pending {
    std::string data;
    size_t off = 0;
    std::optional<http2::HeaderList> trailers;
    bool ended = false;
  };
  int fd_;
  std::unique_ptr<http2::Session> session_;
  std::map<http2::StreamId, Answer> answers_;
  std::map<http2::StreamId, Pending> bodies_;
};

http2::HeaderList get(std::string path) {
  return {{":method", "GET"}, {":scheme", "http"}, {":authority", "echo.shop"}, {":path", path}};
}

http2::HeaderList grpcCall(std::string method) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":authority", "echo.shop:80"},
          {":path", "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/" + method},
          {"content-type", "application/grpc"},
          {"te", "trailers"}};
}

class Http2SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uring::LoopOptions lo;
    lo.backend = uring::Backend::kEpoll;
    loop_ = std::move(*uring::EventLoop::create(lo));
    pool_ = std::make_unique<mesh::HboneClientPool>(*loop_);
    client_tls_ = std::make_unique<mesh::TlsContextCache>(tls::TlsRole::kClient, certs_);
    upstreams_ = std::make_unique<Upstreams>(*loop_, *pool_, *client_tls_,
                                             [] { return std::optional<identity::SpiffeId>(); });
    h2_upstreams_ = std::make_unique<H2Upstreams>(*loop_, *upstreams_, http2::SessionConfig{});
    config_ = RouteConfig::build({{"k", routes()}}, 1);
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
    telemetry_ = std::move(*RequestTelemetry::create(registry_, RequestTelemetryOptions{}));
    env_.telemetry = telemetry_.get();
    env_.on_request_done = [this](const RequestRecord& r) {
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
      h2_upstreams_->closeAll();
      upstreams_->closeAll();
    });
    loop_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // shop/<name> (VIP 10.96.0.<vip>) port 80 -> its one endpoint, <ip>:port (plain TCP).
  static void addService(mesh::StateUpdate& u, const std::string& name, int vip,
                         const std::string& uid, const std::string& ip, uint16_t port) {
    mesh::Service svc;
    svc.name = name;
    svc.namespace_ = "shop";
    svc.hostname = name + ".shop.svc.cluster.local";
    svc.addresses.push_back({"", *net::IpAddress::parse("10.96.0." + std::to_string(vip))});
    svc.ports.push_back({80, port, mesh::AppProtocol::kHttp2});
    u.services.push_back(svc);
    mesh::Workload ep;
    ep.uid = uid;
    ep.name = name + "-0";
    ep.namespace_ = "shop";
    ep.addresses.push_back(*net::IpAddress::parse(ip));
    ep.tunnel_protocol = mesh::TunnelProtocol::kNone;
    ep.services["shop/" + svc.hostname] = {{80, port}};
    u.workloads.push_back(ep);
  }

  // The waypoint (127.0.0.2) and one endpoint of shop/echo: 127.0.0.1:port; with a mirror
  // port, shop/mirror too, its endpoint 127.0.0.3:mirror_port.
  void backendPort(uint16_t port, uint16_t mirror_port = 0) {
    mesh::StateUpdate u;
    if (mirror_port) addService(u, "mirror", 11, "mep", "127.0.0.3", mirror_port);
    addService(u, "echo", 10, "ep", "127.0.0.1", port);
    mesh::Workload self;
    self.uid = "wp";
    self.name = "waypoint-0";
    self.namespace_ = "shop";
    self.addresses.push_back(*net::IpAddress::parse("127.0.0.2"));
    u.workloads.push_back(self);
    ASSERT_TRUE(store_.apply(u).empty());
    if (!reader_) {
      reader_ = std::make_unique<mesh::SnapshotReader>(store_);
      env_.state = reader_.get();
    }
  }

  void useRoutes(const l7::ServiceRoutes& sr) {
    auto built = RouteConfig::build({{"k", sr}}, 1);
    std::lock_guard lock(mu_);
    config_ = std::move(built);
  }

  int connect() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int server_side = sv[1];
    ::fcntl(server_side, F_SETFL, ::fcntl(server_side, F_GETFL) | O_NONBLOCK);
    loop_->post([this, server_side] {
      ConnectionFacts f;
      f.client = *net::SocketAddress::parse("10.244.1.5:40000");
      f.source = RequestPeer::of(nullptr, std::nullopt, f.client);
      f.service_key = "shop/echo.shop.svc.cluster.local";
      f.port = 80;
      auto s = std::make_shared<Http2Session>(
          env_, *h2_upstreams_, http2::SessionConfig{}, f,
          std::make_unique<StreamConduit>(
              std::make_unique<relay::SocketStream>(*loop_, UniqueFd(server_side)), nullptr),
          [this](Http2Session* p) {
            if (last_session_ == p) last_session_ = nullptr;
            auto it = sessions_.find(p);
            if (it == sessions_.end()) return;
            auto gone = std::move(it->second);
            sessions_.erase(it);
            loop_->post([gone] {});
          });
      sessions_[s.get()] = s;
      last_session_ = s.get();
      s->start();
    });
    if (!thread_.joinable()) thread_ = std::thread([this] { loop_->run(); });
    clients_.emplace_back(sv[0]);
    return sv[0];
  }

  // Runs `f` on the loop and waits for it.
  template <typename F>
  auto onLoop(F f) {
    std::promise<decltype(f())> p;
    loop_->post([&] { p.set_value(f()); });
    return p.get_future().get();
  }

  std::vector<RequestRecord> records(size_t want) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu_);
        if (records_.size() >= want) return records_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu_);
    return records_;
  }

  nlohmann::json h2Stats() {
    std::promise<nlohmann::json> p;
    loop_->post([&] { p.set_value(h2_upstreams_->toJson()); });
    return p.get_future().get();
  }

  mesh::CertificateManager certs_{
      [](const identity::SpiffeId&) -> Result<identity::WorkloadCertificate> {
        return fail(Error::invalid("no CA in this test: endpoints are plain TCP"));
      }};
  std::unique_ptr<uring::EventLoop> loop_;
  std::unique_ptr<mesh::HboneClientPool> pool_;
  std::unique_ptr<mesh::TlsContextCache> client_tls_;
  std::unique_ptr<Upstreams> upstreams_;
  std::unique_ptr<H2Upstreams> h2_upstreams_;
  std::shared_ptr<const RouteConfig> config_;
  mesh::SnapshotStore store_;
  std::unique_ptr<mesh::SnapshotReader> reader_;
  ProxyRandom random_;
  SessionEnv env_;
  RetryBudget budget_;
  ResilienceCounters counters_;
  std::unique_ptr<RequestMirrors> mirrors_;
  std::map<Http2Session*, std::shared_ptr<Http2Session>> sessions_;
  Http2Session* last_session_ = nullptr;  // on the loop thread only
  std::thread thread_;
  std::vector<UniqueFd> clients_;
  std::mutex mu_;
  std::vector<RequestRecord> records_;
  metrics::Registry registry_;
  std::unique_ptr<RequestTelemetry> telemetry_;
};

std::unique_ptr<echo::EchoServer> startEcho(const std::string& at = "127.0.0.1:0") {
  echo::EchoServerOptions o;
  o.listen.push_back(*net::SocketAddress::parse(at));
  o.context.pod = "echo-0";
  auto s = echo::EchoServer::start(std::move(o));
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

TEST_F(Http2SessionTest, RoutesManyStreamsOverOneUpstreamConnection) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  Client c(connect());
  std::vector<http2::StreamId> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(c.send(get("/api/x?i=" + std::to_string(i))));
  c.wait();
  for (int i = 0; i < 20; ++i) {
    auto& a = c.answer(ids[static_cast<size_t>(i)]);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.headers["x-route"], "api");  // the route's response edit, name lower-cased
    auto j = nlohmann::json::parse(a.body);
    EXPECT_EQ(j["path"], "/in/x?i=" + std::to_string(i));
    EXPECT_EQ(j["proto"], "HTTP/2.0");  // h2c upstream too
    EXPECT_EQ(j["headers"]["X-Forwarded-For"][0], "10.244.1.5");
    EXPECT_EQ(j["headers"]["X-Forwarded-Proto"][0], "http");
    EXPECT_FALSE(j["headers"]["X-Request-Id"][0].get<std::string>().empty());
  }
  auto recs = records(20);
  ASSERT_EQ(recs.size(), 20u);
  for (const auto& r : recs) {
    EXPECT_EQ(r.response_code, 200);
    EXPECT_EQ(r.protocol, RequestProtocol::kHttp2);
    EXPECT_EQ(r.response_code_details, "via_upstream");
    EXPECT_EQ(r.route_name, "HTTPRoute shop/r rule 0");
    EXPECT_EQ(r.response_flags.toString(), "-");
    ASSERT_TRUE(r.upstream_host);
  }
  // One multiplexed upstream connection carried all 20 requests.
  auto st = h2Stats();
  EXPECT_EQ(st["h2_connections_opened"], 1) << st.dump();
  EXPECT_EQ(st["h2_streams_opened"], 20) << st.dump();
  EXPECT_EQ(echo->requestsServed(), 20u);
}

TEST_F(Http2SessionTest, StreamsALargeBodyBothWaysUnderFlowControl) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  Client c(connect());
  // 12 MiB: three times the stream window, so every window credit has to come back through us.
  std::string body(12u << 20, 'b');
  auto id = c.send({{":method", "POST"},
                    {":scheme", "http"},
                    {":authority", "echo.shop"},
                    {":path", "/api/upload"}},
                   body);
  c.wait();
  auto& a = c.answer(id);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(nlohmann::json::parse(a.body)["bodyBytes"], body.size());
  auto recs = records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].request_body_bytes, body.size());
}

TEST_F(Http2SessionTest, GrpcCallsCarryTrailersStatusAndMessageCounts) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  Client c(connect());
  std::vector<uint8_t> msg;
  grpc::appendMessage(msg, {});  // an empty EchoRequest
  auto ok = c.send(grpcCall("Echo"), std::string(msg.begin(), msg.end()));
  auto unimpl = c.send(grpcCall("EchoThree"), std::string(msg.begin(), msg.end()));
  c.wait();
  auto& a = c.answer(ok);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.trailers["grpc-status"], "0");
  EXPECT_FALSE(a.body.empty());
  auto& u = c.answer(unimpl);
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(u.headers["grpc-status"], "12");  // the echo's trailers-only answer
  EXPECT_TRUE(u.trailers.empty());
  auto recs = records(2);
  ASSERT_EQ(recs.size(), 2u);
  for (const auto& r : recs) {
    EXPECT_EQ(r.protocol, RequestProtocol::kGrpc);
    ASSERT_TRUE(r.grpc_status);
    EXPECT_EQ(r.grpc_request_messages, 1u);
    EXPECT_EQ(r.grpc_response_messages, *r.grpc_status == 0 ? 1u : 0u);
  }
}

TEST_F(Http2SessionTest, LocalAnswersAreHttpOrGrpcByTheRequest) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  Client c(connect());
  auto http404 = c.send(get("/nothing"));
  auto grpc404 = c.send({{":method", "POST"},
                         {":scheme", "http"},
                         {":authority", "echo.shop"},
                         {":path", "/other.Service/Call"},
                         {"content-type", "application/grpc"}});
  auto bad_path = c.send(get("/a%00b"));
  c.wait();
  EXPECT_EQ(c.answer(http404).status, 404);
  EXPECT_NE(c.answer(http404).body.find("no_route_matched"), std::string::npos);
  auto& g = c.answer(grpc404);
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.headers["content-type"], "application/grpc");
  EXPECT_EQ(g.headers["grpc-status"], "12");  // UNIMPLEMENTED, as Envoy maps a 404
  EXPECT_TRUE(g.body.empty());
  EXPECT_EQ(c.answer(bad_path).status, 400);
  auto recs = records(3);
  ASSERT_EQ(recs.size(), 3u);
  int nr = 0;
  for (const auto& r : recs) nr += r.response_flags.has(ResponseFlag::kNoRouteFound) ? 1 : 0;
  EXPECT_EQ(nr, 2);
  EXPECT_EQ(echo->requestsServed(), 0u);
}

TEST_F(Http2SessionTest, AnUnreachableEndpointIs503OrUnavailable) {
  backendPort(1);  // nothing listens on 127.0.0.1:1
  Client c(connect());
  auto http = c.send(get("/api/x"));
  c.wait();
  std::vector<uint8_t> msg;
  grpc::appendMessage(msg, {});
  auto call = c.send(grpcCall("Echo"), std::string(msg.begin(), msg.end()));
  c.wait();
  EXPECT_EQ(c.answer(http).status, 503);
  EXPECT_EQ(c.answer(call).headers["grpc-status"], "14");
  auto recs = records(2);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(recs[0].response_flags.has(ResponseFlag::kUpstreamConnectionFailure))
      << recs[0].response_flags.toString();
}

TEST_F(Http2SessionTest, BadHttp2GetsItsErrorAndTheWorkerLivesOn) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  // A request whose host differs from :authority: 400 naming it; the connection lives on.
  {
    Client c(connect());
    auto bad = c.send({{":method", "GET"},
                       {":scheme", "http"},
                       {":authority", "echo.shop"},
                       {":path", "/api/x"},
                       {"host", "other"}});
    auto good = c.send(get("/api/y"));
    c.wait();
    EXPECT_EQ(c.answer(bad).status, 400);
    EXPECT_NE(c.answer(bad).body.find("host"), std::string::npos) << c.answer(bad).body;
    EXPECT_EQ(c.answer(good).status, 200);
  }
  // A frame that breaks the protocol (DATA on stream 0): GOAWAY PROTOCOL_ERROR, then the end.
  {
    int fd = connect();
    auto bytes = http2::testing::clientPreface();
    http2::testing::append(bytes, http2::testing::frame(http2::testing::kData, 0, 0, {1, 2, 3}));
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    http2::testing::Bytes got;
    uint8_t buf[4096];
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) got.insert(got.end(), buf, buf + n);
    bool goaway = false;
    for (const auto& f : http2::testing::parseFrames(got)) {
      if (f.type == http2::testing::kGoAway) {
        goaway = true;
        EXPECT_EQ(f.errorCode(), http2::kProtocolError);
      }
    }
    EXPECT_TRUE(goaway);
  }
  // A malformed request (an upper-case field name): that stream is reset PROTOCOL_ERROR, and
  // the connection goes on.
  {
    int fd = connect();
    namespace t = http2::testing;
    auto bytes = t::clientPreface();
    t::append(bytes, t::headersFrame(1,
                                     {{":method", "GET"},
                                      {":scheme", "http"},
                                      {":authority", "echo.shop"},
                                      {":path", "/api/x"},
                                      {"Bad-Name", "x"}},
                                     t::kEndHeaders | t::kEndStream));
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    t::Bytes got;
    uint8_t buf[4096];
    std::optional<uint32_t> reset;
    for (ssize_t n; !reset && (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
      got.insert(got.end(), buf, buf + n);
      for (const auto& f : t::parseFrames(got)) {
        if (f.type == t::kRstStream && f.stream == 1) reset = f.errorCode();
        EXPECT_NE(f.type, t::kGoAway);
      }
    }
    ASSERT_TRUE(reset);
    EXPECT_EQ(*reset, http2::kProtocolError);
  }
  // And a new client is served as before.
  Client c(connect());
  auto id = c.send(get("/api/z"));
  c.wait();
  EXPECT_EQ(c.answer(id).status, 200);
}

// ---- resilience: the route's timeouts, retries and mirrors, as on HTTP/1.1 ------------------

// routes() with its first rule (/api, rewritten to /in) edited.
l7::ServiceRoutes routesWith(const std::function<void(l7::RouteRule&)>& edit) {
  return withFirstRule(routes(), edit);
}

http2::HeaderList post(std::string path) {
  return {{":method", "POST"}, {":scheme", "http"}, {":authority", "echo.shop"}, {":path", path}};
}

TEST_F(Http2SessionTest, AFailingBackendIsRetriedWithItsBodyUntilRetriesRunOut) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 2, {503}, 5); }));
  Client c(connect());
  auto ok = c.send(get("/api/x?failFirst=2&failKey=h2ok"));
  c.wait();
  ASSERT_EQ(c.answer(ok).status, 200) << c.answer(ok).body;
  EXPECT_EQ(nlohmann::json::parse(c.answer(ok).body)["failKeySeen"], 3) << "two failures, then 200";
  auto recs = records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].upstream_attempts, 3u);
  EXPECT_EQ(recs[0].response_flags.toString(), "-");

  // A body is sent again whole on the next attempt (BodyReplay), over a new stream.
  auto body = c.send(post("/api/x?failFirst=1&failKey=h2body"), std::string(3000, 'b'));
  c.wait();
  ASSERT_EQ(c.answer(body).status, 200) << c.answer(body).body;
  EXPECT_EQ(nlohmann::json::parse(c.answer(body).body)["bodyBytes"], 3000);
  EXPECT_EQ(records(2)[1].upstream_attempts, 2u);

  // Retries run out: the last answer goes to the client, flagged URX.
  auto out = c.send(get("/api/x?failFirst=9&failKey=h2never"));
  c.wait();
  EXPECT_EQ(c.answer(out).status, 503);
  EXPECT_NE(c.answer(out).body.find("failing request 3 of 9"), std::string::npos)
      << c.answer(out).body;
  recs = records(3);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].upstream_attempts, 3u);
  EXPECT_EQ(recs[2].response_flags.toString(), "URX");
  // A status the policy does not list is answered at once.
  auto other = c.send(get("/api/x?failFirst=1&failKey=h2500&failStatus=500"));
  c.wait();
  EXPECT_EQ(c.answer(other).status, 500);
  EXPECT_EQ(records(4)[3].upstream_attempts, 1u);
  EXPECT_EQ(onLoop([&] { return counters_.retries; }), 5u);  // 2 + 1 (the body) + 2 + 0
  EXPECT_EQ(onLoop([&] { return counters_.retries_exhausted; }), 1u);
}

TEST_F(Http2SessionTest, AConnectFailureIsRetriedAndTimeoutsAnswer504WithUT) {
  backendPort(1);  // nothing listens on 127.0.0.1:1
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 1, {}, 1); }));
  {
    Client c(connect());
    auto id = c.send(get("/api/x"));
    c.wait();
    EXPECT_EQ(c.answer(id).status, 503);
    auto rec = records(1)[0];
    EXPECT_EQ(rec.upstream_attempts, 2u) << "a connect failure is retried";
    EXPECT_EQ(rec.response_flags.toString(), "UF,URX");
  }
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  struct Row {
    std::string name;
    std::function<void(l7::RouteRule&)> edit;
    std::string flags, details;
    uint32_t attempts;
  };
  const std::vector<Row> rows = {
      {"timeouts.request", [](l7::RouteRule& r) { setMillis(r.mutable_request_timeout(), 150); },
       "UT", "response_timeout", 1},
      {"backendRequest retried, then out of retries",
       [](l7::RouteRule& r) {
         setMillis(r.mutable_backend_request_timeout(), 100);
         retryOn(r, 1, {503}, 1);
       },
       "UT,URX", "upstream_per_try_timeout", 2},
  };
  size_t n = 1;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    useRoutes(routesWith(row.edit));
    Client c(connect());
    auto id = c.send(get("/api/slow?delay=3s"));
    c.wait();
    EXPECT_EQ(c.answer(id).status, 504);
    EXPECT_EQ(c.answer(id).body, "upstream request timeout\n");
    auto rec = records(++n).back();
    EXPECT_EQ(rec.response_code, 504);
    EXPECT_EQ(rec.response_flags.toString(), row.flags);
    EXPECT_EQ(rec.response_code_details, row.details);
    EXPECT_EQ(rec.upstream_attempts, row.attempts);
  }
  EXPECT_EQ(onLoop([&] { return counters_.request_timeouts; }), 1u);
  EXPECT_EQ(onLoop([&] { return counters_.backend_timeouts; }), 2u);
}

TEST_F(Http2SessionTest, AMirrorGetsACopyOverH2cAndNeverChangesTheAnswer) {
  auto primary = startEcho();
  auto mirror = startEcho("127.0.0.3:0");
  backendPort(primary->addresses()[0].port, mirror->addresses()[0].port);
  useRoutes(routesWith([](l7::RouteRule& r) {
    auto* m = r.add_filters()->mutable_request_mirror();
    m->mutable_backend()->set_service("shop/mirror.shop.svc.cluster.local");
    m->mutable_backend()->set_port(80);
  }));
  Client c(connect());
  auto id = c.send(post("/api/m"), "hello");
  c.wait();
  ASSERT_EQ(c.answer(id).status, 200) << c.answer(id).body;
  EXPECT_EQ(nlohmann::json::parse(c.answer(id).body)["bodyBytes"], 5);
  for (int i = 0; i < 500 && mirror->requestsServed() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(mirror->requestsServed(), 1u) << "the mirror got its copy";
  EXPECT_EQ(primary->requestsServed(), 1u);
  auto stats = onLoop([&] { return mirrors_->toJson(); });
  for (int i = 0; i < 200 && stats["answered"] != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = onLoop([&] { return mirrors_->toJson(); });
  }
  EXPECT_EQ(stats["answered"], 1) << stats.dump();
  // A mirror that cannot be reached: the same answer.
  mirror.reset();
  auto again = c.send(post("/api/m"), "hello");
  c.wait();
  EXPECT_EQ(c.answer(again).status, 200);
}

// HEADERS without END_HEADERS, then nothing: the worker's request-header sweep sees the block
// waiting and its timeout ends the connection with GOAWAY ENHANCE_YOUR_CALM.
TEST_F(Http2SessionTest, AHeaderBlockThatNeverEndsGetsGoAway) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  namespace t = http2::testing;
  int fd = connect();
  auto bytes = t::clientPreface();
  t::append(bytes, t::headersFrame(1, {{":method", "GET"}, {":scheme", "http"}}, 0));
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  bool waiting = false;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = onLoop([&] { return last_session_ && last_session_->awaitingHead(); });
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(waiting);
  EXPECT_EQ(onLoop([&] { return last_session_->headsParsed(); }), 1u);
  onLoop([&] {
    last_session_->headerTimeout();
    return 0;
  });
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  t::Bytes got;
  uint8_t buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) got.insert(got.end(), buf, buf + n);
  std::optional<uint32_t> goaway;
  for (const auto& f : t::parseFrames(got))
    if (f.type == t::kGoAway) goaway = f.errorCode();
  ASSERT_TRUE(goaway) << "the connection ends with a GOAWAY";
  EXPECT_EQ(*goaway, http2::kEnhanceYourCalm);
  EXPECT_EQ(echo->requestsServed(), 0u);
}

}  // namespace
}  // namespace warren::waypoint
