// Http1Session in process, on a real event loop and real sockets: the client end is one side of
// a socketpair (what the HBONE stream is in production), the backends are a real warren-echo
// server on loopback and raw misbehaving servers, reached as endpoints outside the mesh (plain
// TCP; the HBONE path is the lab's: tests/e2e/test_waypoint_http.sh). Every answer is read back
// through the HTTP/1.1 codec. Each ended request goes, as in WaypointWorker::onRequestDone, to
// a real RequestTelemetry: its Istio series and access log lines are asserted.
#include "waypoint/proxy/http1_session.h"

#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "http1_session_fixture.h"

namespace warren::waypoint {
namespace {

TEST_F(Http1SessionTest, RoutesRewritesAndKeepsBothSidesAlive) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  int c = connect();
  for (int i = 0; i < 3; ++i) {
    send(c, "GET /api/x?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
    Response r = read(c);
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["path"], "/in/x?i=" + std::to_string(i));
    EXPECT_EQ(j["headers"]["X-Forwarded-For"][0], "10.244.1.5");
    EXPECT_EQ(j["headers"]["X-Forwarded-Proto"][0], "http");
    EXPECT_FALSE(r.closed);
  }
  auto recs = records();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].route_name, "HTTPRoute shop/r rule 0");
  ASSERT_TRUE(recs[2].upstream_host);
  EXPECT_EQ(recs[2].upstream_host->toString(), echo->addresses()[0].toString());
  EXPECT_EQ(recs[2].response_flags.toString(), "-");
  // The connection's part of the record (copied once, carried from request to request).
  for (const RequestRecord& rec : recs) {
    ASSERT_TRUE(rec.source.identity);
    EXPECT_EQ(rec.source.identity->uri(), "spiffe://cluster.local/ns/shop/sa/client");
    EXPECT_EQ(rec.source.labels.workload, "sleep");
    EXPECT_EQ(rec.service.host, "echo.shop.svc.cluster.local");
    EXPECT_EQ(rec.service_port, 80);
  }
  EXPECT_EQ(echo->requestsServed(), 3u);
}

TEST_F(Http1SessionTest, EveryRequestIsCountedLoggedAndGetsARequestId) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  int c = connect();
  send(c, "GET /api/x HTTP/1.1\r\nHost: echo.shop\r\nUser-Agent: t/1\r\n\r\n");
  Response ok = read(c);
  ASSERT_EQ(ok.status, 200) << ok.body;
  send(c, "GET /api/y HTTP/1.1\r\nHost: echo.shop\r\nx-request-id: keep-me-1\r\n\r\n");
  ASSERT_EQ(read(c).status, 200);
  send(c, "GET /nothing HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response none = read(c);
  ASSERT_EQ(none.status, 404) << none.body;

  auto recs = records();
  ASSERT_EQ(recs.size(), 3u);
  // begin(): a new UUIDv4 forwarded when the client sent none, the client's kept otherwise.
  auto seen = nlohmann::json::parse(ok.body)["headers"]["X-Request-Id"][0].get<std::string>();
  EXPECT_EQ(seen, recs[0].request_id);
  EXPECT_EQ(seen.size(), 36u);
  EXPECT_EQ(seen[14], '4') << seen;
  EXPECT_EQ(recs[1].request_id, "keep-me-1");
  EXPECT_EQ(none.headers["x-request-id"], recs[2].request_id);

  // finish(): Istio's series, the client from the state and its identity, the endpoint chosen.
  const std::string text = registry_.render();
  const std::string source =
      "reporter=\"waypoint\",source_workload=\"sleep\",source_canonical_service=\"sleep\","
      "source_canonical_revision=\"unknown\",source_workload_namespace=\"shop\","
      "source_principal=\"spiffe://cluster.local/ns/shop/sa/client\",source_app=\"sleep\","
      "source_version=\"unknown\",source_cluster=\"unknown\","
      "destination_service=\"echo.shop.svc.cluster.local\","
      "destination_service_namespace=\"shop\",destination_service_name=\"echo\",";
  EXPECT_NE(text.find("istio_requests_total{" + source +
                      "destination_workload=\"echo-0\",destination_canonical_service=\"unknown\","
                      "destination_canonical_revision=\"unknown\","
                      "destination_workload_namespace=\"shop\","
                      "destination_principal=\"spiffe://cluster.local/ns/shop/sa/echo\","
                      "destination_app=\"unknown\",destination_version=\"unknown\",destination_"
                      "cluster=\"unknown\","
                      "request_protocol=\"http\",response_code=\"200\","
                      "grpc_response_status=\"\",response_flags=\"-\","
                      "connection_security_policy=\"mutual_tls\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("istio_requests_total{" + source +
                      "destination_workload=\"unknown\",destination_canonical_service=\"unknown\","
                      "destination_canonical_revision=\"unknown\","
                      "destination_workload_namespace=\"unknown\","
                      "destination_principal=\"unknown\",destination_app=\"unknown\","
                      "destination_version=\"unknown\",destination_cluster=\"unknown\","
                      "request_protocol=\"http\",response_code=\"404\","
                      "grpc_response_status=\"\",response_flags=\"NR\","
                      "connection_security_policy=\"mutual_tls\"} 1\n"),
            std::string::npos)
      << text;

  // The access log: one `request complete` line per request.
  auto lines = access_log_->last_formatted();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(
      lines[0].rfind(
          "request complete src.addr=10.244.1.5:40000 src.workload=\"sleep-7f9c-x1\" "
          "src.namespace=\"shop\" src.identity=\"spiffe://cluster.local/ns/shop/sa/client\" "
          "dst.addr=" +
              echo->addresses()[0].toString() +
              " dst.service=\"echo.shop.svc.cluster.local\" dst.workload=\"echo-0\" "
              "dst.namespace=\"shop\" dst.identity=\"spiffe://cluster.local/ns/shop/sa/echo\" "
              "method=\"GET\" path=\"/api/x\" "
              "protocol=\"HTTP/1.1\" authority=\"echo.shop\" response_code=200 "
              "route=\"HTTPRoute shop/r rule 0\" request_id=\"" +
              seen + "\" request_bytes=0 response_bytes=" + std::to_string(ok.body.size()),
          0),
      0u)
      << lines[0];
  EXPECT_NE(lines[2].find("response_code=404"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("flags=\"NR\""), std::string::npos) << lines[2];
}

TEST_F(Http1SessionTest, LargeChunkedUploadAndPipelining) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  int c = connect();
  // 8 MiB in 64 KiB chunks: more than every buffer on the way, so backpressure has to work.
  std::string head =
      "POST /api/upload HTTP/1.1\r\nHost: echo.shop\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::thread writer([c, head] {
    send(c, head);
    std::string chunk(64 * 1024, 'x');
    char size[32];
    snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    for (int i = 0; i < 128; ++i) send(c, std::string(size) + chunk + "\r\n");
    send(c, "0\r\n\r\nGET /api/second HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  });
  Response r = read(c, "POST");
  writer.join();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["bodyBytes"], 8u * 1024 * 1024);
  Response second = read(c);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(nlohmann::json::parse(second.body)["path"], "/in/second");
  EXPECT_EQ(records()[0].request_body_bytes, 8u * 1024 * 1024);
}

TEST_F(Http1SessionTest, LocalAnswers) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  struct Row {
    std::string request;
    int status;
    std::string body_has;
    bool closes;
    std::string flag;
  };
  std::vector<Row> rows = {
      {"GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n", 404, "no_route_matched", false, "NR"},
      {"GET /api/%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "", false, "-"},
      {"GET /api HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
       "duplicate_content_length", true, "DPE"},
      {"GET /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
       "unsupported_transfer_coding", true, "DPE"},
      {"GET /api HTTP/2.0\r\nHost: a\r\n\r\n", 505, "", true, "DPE"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.request);
    int c = connect();
    send(c, row.request);
    Response r = read(c);
    EXPECT_EQ(r.status, row.status) << r.body;
    EXPECT_NE(r.body.find(row.body_has), std::string::npos) << r.body;
    if (row.closes) {
      ::shutdown(c, SHUT_WR);
      EXPECT_TRUE(read(c).closed) << "the connection ends after a protocol error";
    }
  }
  auto recs = records();
  ASSERT_EQ(recs.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ(recs[i].response_flags.toString(), rows[i].flag) << i;
  EXPECT_EQ(echo->requestsServed(), 0u) << "none of these reached the backend";
}

TEST_F(Http1SessionTest, UpstreamDownIs503) {
  // A port nobody listens on: bind one, close it.
  auto fd = net::SocketFactory::listenTcp(*net::SocketAddress::parse("127.0.0.1:0"), {});
  ASSERT_TRUE(fd);
  uint16_t port = net::localAddress(fd->get())->port;
  fd->reset();
  backendPort(port);
  int c = connect();
  send(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  Response r = read(c);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("upstream connect error"), std::string::npos) << r.body;
  EXPECT_EQ(records().at(0).response_flags.toString(), "UF");
}

TEST_F(Http1SessionTest, BadUpstreamHttpIs502AndAnUpstreamCutIs503) {
  struct Row {
    std::string reply;
    int status;
    std::string flag;
  };
  for (const Row& row :
       {Row{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502, "UPE"},
        Row{"garbage\r\n\r\n", 502, "UPE"}, Row{"", 503, "UC"}}) {
    SCOPED_TRACE(row.reply);
    std::thread up;
    uint16_t port = rawUpstream(up, row.reply);
    backendPort(port);
    size_t before = records().size();
    int c = connect();
    send(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
    Response r = read(c);
    up.join();
    EXPECT_EQ(r.status, row.status) << r.body;
    ASSERT_EQ(records().size(), before + 1);
    EXPECT_EQ(records().back().response_flags.toString(), row.flag);
  }
}

// A response that arrives in one read leaves in one write: head, body and end gathered
// (StreamConduit::cork around pumpUp's parse pass), so the client's side wakes once and the
// HBONE stream sends one DATA frame. The client end keeps writes apart (SOCK_SEQPACKET); without
// the cork the head went alone and the body after it (two records here).
TEST_F(Http1SessionTest, AResponseLeavesAsOneWrite) {
  const std::string body(600, 'b');
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    std::thread up;
    backendPort(rawUpstream(up, "HTTP/1.1 200 OK\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body));
    int c = connect(SOCK_SEQPACKET);
    send(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
    timeval tv{10, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[65536];
    ssize_t n = ::recv(c, buf, sizeof(buf), 0);
    up.join();
    ASSERT_GT(n, 0) << std::strerror(errno);
    std::string first(buf, static_cast<size_t>(n));
    EXPECT_TRUE(first.starts_with("HTTP/1.1 200 OK\r\n")) << first;
    EXPECT_TRUE(first.ends_with("\r\n\r\n" + body))
        << "the first write must hold the whole response, it held: " << first;
  }
}

TEST_F(Http1SessionTest, AnUpstreamCutMidBodyCutsTheClient) {
  std::thread up;
  uint16_t port = rawUpstream(up, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this");
  backendPort(port);
  int c = connect();
  send(c, "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
  Response r = read(c);
  up.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.closed) << "the status was sent: only the connection's end can say it failed";
  EXPECT_EQ(records().at(0).response_flags.toString(), "UC");
}

// RequestAdmission at its one place between normalization and routing: a DENY answers 403
// before any upstream is chosen, the decision lands in the record; other requests route on.
TEST_F(Http1SessionTest, AdmissionDecidesBeforeRouting) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  l7::WaypointPolicy deny;
  auto* p = deny.mutable_authorization();
  p->set_namespace_("shop");
  p->set_name("deny-secret");
  p->set_action(l7::AuthorizationPolicy::DENY);
  p->add_rules()->add_to()->add_paths("/api/secret*");
  p->add_targets();
  auto policies = PolicyConfig::build({{"d", deny}}, {}, 1);
  auto admission = RequestAdmission::create(registry_, [policies] { return policies; });
  ASSERT_TRUE(admission) << admission.error().message();
  env_.admission = admission->get();
  int c = connect();
  send(c, "GET /api/./secret/x HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response r = read(c);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "RBAC: access denied");
  EXPECT_FALSE(r.closed) << "a denial keeps the connection";
  send(c, "GET /api/open HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  r = read(c);
  EXPECT_EQ(r.status, 200) << r.body;
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].response_code, 403);
  EXPECT_EQ(recs[0].authz.result, "denied");
  EXPECT_EQ(recs[0].authz.policy, "shop/deny-secret");
  EXPECT_EQ(recs[0].response_code_details, "rbac_access_denied_matched_policy[shop/deny-secret]");
  EXPECT_FALSE(recs[0].upstream_host) << "no upstream was chosen";
  EXPECT_EQ(recs[1].authz.result, "");
}

// Slowloris: a head that stays incomplete is answered 408 when the worker's sweep says so; a
// session between requests (nothing received) is not touched.
TEST_F(Http1SessionTest, HeaderTimeoutAnswers408AndCloses) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  int idle = connect();
  int slow = connect();
  send(slow, "GET /api/x HTTP/1.1\r\nHost: echo");
  // What the worker's sweep does once the time is up (the sweep's clock is not under test).
  int waiting = 0;
  for (int i = 0; i < 500 && waiting == 0; ++i) {
    std::promise<int> seen;
    loop_->post([this, &seen] {
      int n = 0;
      for (auto& [ptr, s] : std::map(sessions_)) {
        if (!s->awaitingHead()) continue;
        ++n;
        s->headerTimeout();
      }
      seen.set_value(n);
    });
    waiting = seen.get_future().get();
    if (waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(waiting, 1) << "only the slow client has part of a head";
  Response r = read(slow);
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.headers["connection"], "close");
  send(idle, "GET /api/y HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  EXPECT_EQ(read(idle).status, 200) << "the other client is served";
  auto recs = records();
  ASSERT_GE(recs.size(), 1u);
  EXPECT_EQ(recs[0].response_code, 408);
  EXPECT_EQ(recs[0].response_code_details, "request_header_timeout");
}

}  // namespace
}  // namespace warren::waypoint
