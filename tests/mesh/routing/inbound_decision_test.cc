// The one inbound HBONE decision: a table of every outcome and its status (each matching
// Istio's ztunnel), the HTTP/2 server engine feeding it raw frames, and authorization alone
// (plaintext, re-evaluation).
#include "mesh/routing/inbound_decision.h"

#include <gtest/gtest.h>

#include "common/hbone/connect_request.h"
#include "common/http2/session.h"
#include "tests/mesh/mesh_fixture.h"
#include "tests/common/http2/raw_frames.h"
#include "tests/common/http2/session_pair.h"

namespace warren::mesh {
namespace {

using namespace testing;

constexpr const char* kClient = "spiffe://cluster.local/ns/default/sa/client";
constexpr const char* kIntruder = "spiffe://cluster.local/ns/other/sa/intruder";

std::shared_ptr<const StateSnapshot> mesh() {
  StateUpdate u;
  auto web = pod("default", "web-0", {"10.244.1.11", "fd00::11"}, "node-1", "web");
  web.services[svcKey("default", "web")] = {{80, 8080}};
  web.services[svcKey("default", "named")] = {{80, 9000}};
  web.authorization_policies = {"default/no-intruder"};
  auto wp = pod("default", "waypoint-0", {"10.244.2.40"}, "node-2", "waypoint");
  wp.services[svcKey("default", "waypoint")] = {{15008, 15008}};
  auto db = pod("default", "db-0", {"10.244.2.42"}, "node-2", "db");
  db.waypoint = waypointByHost("default", "waypoint");
  auto sandwich = pod("default", "sandwich-0", {"10.244.2.50"}, "node-2", "sw");
  sandwich.application_tunnel = ApplicationTunnel{ApplicationTunnelProtocol::kProxy, 15088};
  u.workloads = {web, wp, db, sandwich};
  auto reviews = service("default", "reviews", {"10.96.0.13"}, {{9080, 9080}});
  reviews.waypoint = waypointByHost("default", "waypoint");
  auto other_ns_web = service("other", "web", {"10.96.1.10"}, {{80, 7070}});
  other_ns_web.hostname = "web.default.svc.cluster.local";  // same hostname, other namespace
  u.services = {service("default", "web", {"10.96.0.10"}, {{80, 8080}, {81, 0}}),
                service("default", "named", {"10.96.0.11"}, {{80, 0}}),
                reviews,
                service("default", "waypoint", {"10.96.0.50"}, {{15008, 15008}}),
                other_ns_web,
                service("default", "nomap", {"10.96.0.17"}, {{80, 0}})};
  // web-0 denies one identity and its port 7000 to everyone.
  Authorization deny;
  deny.namespace_ = "default";
  deny.name = "no-intruder";
  deny.action = AuthorizationAction::kDeny;
  AuthorizationMatch by_principal;
  by_principal.principals = {StringMatch::exact("cluster.local/ns/other/sa/intruder")};
  AuthorizationMatch by_port;
  by_port.destination_ports = {7000};
  deny.groups = {AuthorizationGroup{{AuthorizationRule{{by_principal}}}},
                 AuthorizationGroup{{AuthorizationRule{{by_port}}}}};
  u.policies = {deny};
  return build(u);
}

http2::HeaderList connect(std::string authority) {
  return {{":method", "CONNECT"}, {":authority", std::move(authority)}};
}

struct Case {
  std::string name;
  std::string local;     // pod name; "" = the local workload is not in the state
  std::string local_ip;  // the connection's local IP
  http2::HeaderList headers;
  int status;        // 200 = accepted
  std::string want;  // upstream "ip:port" when accepted, rejection kind otherwise
  bool via_waypoint = false;
  std::string peer = kClient;
};

TEST(InboundDecision, OneAnswerPerCase) {
  auto snap = mesh();
  const Case cases[] = {
      {"own IP and port", "web-0", "10.244.1.11", connect("10.244.1.11:8080"), 200,
       "10.244.1.11:8080"},
      {"own IPv6", "web-0", "fd00::11", connect("[fd00::11]:8080"), 200, "[fd00::11]:8080"},
      {"v4-mapped spelling of the own IP", "web-0", "10.244.1.11",
       connect("[::ffff:10.244.1.11]:8080"), 200, "10.244.1.11:8080"},
      // 1. method (400)
      {"GET",
       "web-0",
       "10.244.1.11",
       {{":method", "GET"}, {":authority", "10.244.1.11:8080"}, {":path", "/"}},
       400,
       "not_connect"},
      {"lower-case connect",
       "web-0",
       "10.244.1.11",
       {{":method", "connect"}, {":authority", "10.244.1.11:8080"}},
       400,
       "not_connect"},
      {"no method",
       "web-0",
       "10.244.1.11",
       {{":authority", "10.244.1.11:8080"}},
       400,
       "not_connect"},
      // 2. authority (400)
      {"no authority", "web-0", "10.244.1.11", {{":method", "CONNECT"}}, 400, "bad_authority"},
      {"no port", "web-0", "10.244.1.11", connect("10.244.1.11"), 400, "bad_authority"},
      {"port 0", "web-0", "10.244.1.11", connect("10.244.1.11:0"), 400, "bad_authority"},
      {"empty", "web-0", "10.244.1.11", connect(""), 400, "bad_authority"},
      {"unbracketed v6", "web-0", "fd00::11", connect("fd00::11:8080"), 400, "bad_authority"},
      {"junk", "web-0", "10.244.1.11", connect("%%%"), 400, "bad_authority"},
      {"hostname, bad port", "web-0", "10.244.1.11", connect("web.default.svc.cluster.local:http"),
       400, "bad_authority"},
      // 3. the local workload (503)
      {"local workload not in the state", "", "10.244.1.11", connect("10.244.1.11:8080"), 503,
       "unknown_local_workload"},
      // 4. whose address (400)
      {"another pod's IP", "web-0", "10.244.1.11", connect("10.244.2.42:5432"), 400, "ip_mismatch"},
      {"own other address but not the one connected to", "web-0", "10.244.1.11",
       connect("[fd00::11]:8080"), 400, "ip_mismatch"},
      {"a VIP, for a plain workload", "web-0", "10.244.1.11", connect("10.96.0.10:80"), 400,
       "ip_mismatch"},
      {"waypoint of the target service (VIP)", "waypoint-0", "10.244.2.40",
       connect("10.96.0.13:9080"), 200, "10.244.2.40:9080", true},
      {"waypoint of the target workload", "waypoint-0", "10.244.2.40", connect("10.244.2.42:5432"),
       200, "10.244.2.40:5432", true},
      {"a waypoint, but not of this target", "waypoint-0", "10.244.2.40",
       connect("10.244.1.11:8080"), 400, "ip_mismatch"},
      {"sandwiched waypoint (application tunnel) accepts any target", "sandwich-0", "10.244.2.50",
       connect("10.96.0.10:80"), 200, "10.244.2.50:80", true},
      {"mismatch is decided before the port", "web-0", "10.244.1.11", connect("10.244.2.42:15008"),
       400, "ip_mismatch"},
      // 5. the target port (503)
      {"hostname, local namespace preferred", "web-0", "10.244.1.11",
       connect("web.default.svc.cluster.local:80"), 200, "10.244.1.11:8080"},
      {"hostname with a named port resolved by the local workload", "web-0", "10.244.1.11",
       connect("named.default.svc.cluster.local:80"), 200, "10.244.1.11:9000"},
      {"hostname, port with no target anywhere", "web-0", "10.244.1.11",
       connect("web.default.svc.cluster.local:81"), 503, "no_target_port"},
      {"hostname, unknown service port", "web-0", "10.244.1.11",
       connect("web.default.svc.cluster.local:82"), 503, "no_target_port"},
      {"unknown hostname", "web-0", "10.244.1.11", connect("nope.default.svc.cluster.local:80"),
       503, "unknown_hostname"},
      // 6. ztunnel's own ports (503, ztunnel's SelfCall)
      {"port 15008 (nested HBONE)", "web-0", "10.244.1.11", connect("10.244.1.11:15008"), 503,
       "illegal_port"},
      {"port 15001", "web-0", "10.244.1.11", connect("10.244.1.11:15001"), 503, "illegal_port"},
      {"port 15006", "web-0", "10.244.1.11", connect("10.244.1.11:15006"), 503, "illegal_port"},
      // 7. authorization (401)
      {"denied identity", "web-0", "10.244.1.11", connect("10.244.1.11:8080"), 401, "denied", false,
       kIntruder},
      {"denied port", "web-0", "10.244.1.11", connect("10.244.1.11:7000"), 401, "denied"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Workload* local = nullptr;
    if (!c.local.empty()) {
      local = snap->workloadByUid("Kubernetes//Pod/default/" + c.local);
      ASSERT_NE(local, nullptr);
    }
    InboundConnection conn{
        sock(c.local_ip.find(':') != std::string::npos ? "[" + c.local_ip + "]:15008"
                                                       : c.local_ip + ":15008"),
        sock("10.244.9.9:40000"), *identity::SpiffeId::parse(c.peer)};
    auto r = decideInbound(*snap, local, conn, c.headers);
    if (c.status == 200) {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(r->upstream.toString(), c.want);
      EXPECT_EQ(r->via_waypoint, c.via_waypoint);
      EXPECT_EQ(r->rbac.destination_port, r->upstream.port) << "RBAC sees the resolved port";
      EXPECT_EQ(r->rbac.source_identity, conn.peer_identity);
    } else {
      ASSERT_FALSE(r) << r->upstream.toString();
      EXPECT_EQ(r.error().status(), c.status);
      EXPECT_EQ(toString(r.error().kind), c.want) << r.error().detail;
      EXPECT_FALSE(r.error().detail.empty());
    }
  }
}

TEST(InboundDecision, StatusOfEveryKind) {
  using K = InboundReject::Kind;
  EXPECT_EQ(statusFor(K::kNotConnect), 400);
  EXPECT_EQ(statusFor(K::kBadAuthority), 400);
  EXPECT_EQ(statusFor(K::kIpMismatch), 400);
  EXPECT_EQ(statusFor(K::kDenied), 401);
  EXPECT_EQ(statusFor(K::kUnknownLocalWorkload), 503);
  EXPECT_EQ(statusFor(K::kUnknownHostname), 503);
  EXPECT_EQ(statusFor(K::kNoTargetPort), 503);
  EXPECT_EQ(statusFor(K::kIllegalPort), 503);
  EXPECT_EQ(kUpstreamFailedStatus, 503);
}

TEST(InboundDecision, DeniedNamesThePolicy) {
  auto snap = mesh();
  const Workload* web = snap->workloadByUid("Kubernetes//Pod/default/web-0");
  InboundConnection conn{sock("10.244.1.11:15008"), sock("10.244.9.9:40000"),
                         *identity::SpiffeId::parse(kIntruder)};
  auto r = decideInbound(*snap, web, conn, connect("10.244.1.11:8080"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().policy, "default/no-intruder");
  EXPECT_NE(r.error().detail.find("default/no-intruder"), std::string::npos);
}

TEST(InboundDecision, AcceptCarriesTheServiceAndTheParsedRequest) {
  auto snap = mesh();
  const Workload* web = snap->workloadByUid("Kubernetes//Pod/default/web-0");
  hbone::ConnectRequest req{hbone::HostPort{"web.default.svc.cluster.local", 80},
                            sock("10.244.9.9:41234"),
                            "web.default.svc.cluster.local",
                            {"c1", "default", "deployment", "pp", "pp", "v1", "r", "z"},
                            hbone::TraceParent::random(),
                            std::nullopt};
  InboundConnection conn{sock("10.244.1.11:15008"), sock("10.244.9.9:40000"),
                         *identity::SpiffeId::parse(kClient)};
  auto r = decideInbound(*snap, web, conn, hbone::buildConnectHeaders(req));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->service, svcKey("default", "web"));
  EXPECT_EQ(r->request.forwarded_for, req.source);
  EXPECT_EQ(r->request.forwarded_host, req.service_host);
  EXPECT_EQ(r->request.baggage, req.baggage);
  EXPECT_EQ(r->request.traceparent, req.traceparent);
  EXPECT_EQ(r->request.authority, req.target);
}

// Authorization alone: the plaintext listener and re-evaluation of open connections.
TEST(InboundDecision, AuthorizeDeniesWhenTheLocalWorkloadIsGone) {
  auto snap = mesh();
  const Workload* web = snap->workloadByUid("Kubernetes//Pod/default/web-0");
  ConnectionContext plaintext{std::nullopt, ip("10.244.9.9"), ip("10.244.1.11"), 8080};
  EXPECT_TRUE(authorizeInbound(*snap, web, plaintext).allowed);
  plaintext.destination_port = 7000;
  auto denied = authorizeInbound(*snap, web, plaintext);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.policy, "default/no-intruder");
  // The workload left xDS: its policies are unknown, so nothing is allowed (fail closed).
  auto gone = authorizeInbound(*snap, nullptr, plaintext);
  EXPECT_FALSE(gone.allowed);
  EXPECT_NE(gone.detail.find("not in the state"), std::string::npos);
}

// The HTTP/2 server engine and the decision together, as ztunnel's 15008 runs them, with
// hostile requests as raw frames.
TEST(InboundDecision, RawFramesThroughTheServerEngine) {
  auto snap = mesh();
  const Workload* web = snap->workloadByUid("Kubernetes//Pod/default/web-0");
  InboundConnection conn{sock("10.244.1.11:15008"), sock("10.244.9.9:40000"),
                         *identity::SpiffeId::parse(kClient)};
  struct RawCase {
    std::string name;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string want_status;  // empty: expect a RST_STREAM PROTOCOL_ERROR instead
  };
  const RawCase cases[] = {
      {"GET",
       {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "10.244.1.11:80"}},
       "400"},
      {"POST",
       {{":method", "POST"},
        {":scheme", "https"},
        {":path", "/x"},
        {":authority", "10.244.1.11:80"}},
       "400"},
      {"no port", {{":method", "CONNECT"}, {":authority", "10.244.1.11"}}, "400"},
      {"other ip", {{":method", "CONNECT"}, {":authority", "10.244.1.12:80"}}, "400"},
      {"loop to 15008", {{":method", "CONNECT"}, {":authority", "10.244.1.11:15008"}}, "503"},
      {"denied port", {{":method", "CONNECT"}, {":authority", "10.244.1.11:7000"}}, "401"},
      {"good", {{":method", "CONNECT"}, {":authority", "10.244.1.11:8080"}}, "200"},
      // Malformed for HTTP/2 itself: nghttp2 resets before the decision sees it.
      {"CONNECT without authority", {{":method", "CONNECT"}}, ""},
      {"CONNECT with path",
       {{":method", "CONNECT"}, {":authority", "10.244.1.11:80"}, {":path", "/"}},
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    http2::testing::Recorder events;
    int decisions = 0;
    events.on_request = [&](http2::StreamId id, const http2::HeaderList& headers) {
      ++decisions;
      auto d = decideInbound(*snap, web, conn, headers);
      EXPECT_TRUE(events.session->respond(id, d ? 200 : d.error().status()).has_value());
    };
    auto server = http2::Session::create(http2::Role::kServer, {}, events, {}).value();
    events.session = server.get();
    auto answer = http2::testing::sendRawRequest(*server, c.headers);
    ASSERT_TRUE(answer.dispatched);
    if (c.want_status.empty()) {
      EXPECT_TRUE(answer.statuses.empty());
      EXPECT_TRUE(answer.protocol_error_reset);
      EXPECT_EQ(decisions, 0);
    } else {
      ASSERT_EQ(answer.statuses.size(), 1u);
      EXPECT_EQ(answer.statuses[0].second, c.want_status);
    }
    EXPECT_FALSE(server->isClosed()) << "a bad request never costs the connection";
  }
}

}  // namespace
}  // namespace warren::mesh
