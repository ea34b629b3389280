// Http1Session with a DestinationRule in process (the fixture of http1_session_test.cc, a real
// warren-echo and a refusing port as endpoints of shop/echo): outlier detection ejects the
// endpoint that keeps failing so every later request reaches the live one; every endpoint
// ejected answers 503 UH; http2MaxRequests answers the request over the limit 503 UO and gives
// the place back when the request in flight ends; tcp.maxConnections makes a request wait for
// the connection in use and get it when it is released, and http1MaxPendingRequests answers the
// one that finds the queue full 503 UO. The lab's path is
// tests/e2e/test_waypoint_resilience.sh.
#include <gtest/gtest.h>

#include "http1_session_fixture.h"
#include "waypoint/proxy/destination_control.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;

class Http1SessionDestinationTest : public Http1SessionTest {
 protected:
  // A DestinationRule on shop/echo, filled by `fill`, applied through the Upstreams as the
  // worker wires it.
  void useRule(const std::function<void(l7::DestinationPolicy&)>& fill) {
    l7::WaypointPolicy w;
    w.set_waypoint("shop/waypoint");
    auto* p = w.mutable_destination();
    p->set_namespace_("shop");
    p->set_name("echo-rule");
    auto* t = p->add_targets();
    t->set_kind(l7::PolicyTarget::SERVICE);
    t->set_namespace_("shop");
    t->set_name("echo");
    fill(*p);
    policies_ = PolicyConfig::build({{"r", w}}, {}, 1);
    ASSERT_TRUE(policies_->diagnostics().empty()) << policies_->diagnostics()[0];
    auto d = DestinationControl::create(registry_, [this] { return policies_; });
    ASSERT_TRUE(d) << d.error().message();
    destinations_ = std::move(*d);
    upstreams_->setDestinations(destinations_.get());
  }
  static void outlier(l7::DestinationPolicy& p, uint32_t consecutive_5xx, uint32_t max_percent) {
    auto* od = p.mutable_outlier_detection();
    od->set_consecutive_5xx_errors(consecutive_5xx);
    od->mutable_interval()->set_seconds(10);
    od->mutable_base_ejection_time()->set_seconds(30);
    od->set_max_ejection_percent(max_percent);
  }
  // One request on a connection of its own: its status and body.
  Response get(const std::string& target) {
    int c = connect();
    send(c, "GET " + target + " HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
    return read(c);
  }
  std::vector<RequestRecord> recordsAfter(size_t n) {
    for (int i = 0; i < 500 && records().size() < n; ++i)
      std::this_thread::sleep_for(milliseconds(10));
    auto r = records();
    EXPECT_GE(r.size(), n);
    return r;
  }

  // The access-log record of the request to `path` says 503 UO, circuit breaker overflow.
  static void expectOverflowRecorded(const std::vector<RequestRecord>& recs,
                                     const std::string& path) {
    bool seen = false;
    for (const auto& r : recs) {
      if (r.path != path) continue;
      seen = true;
      EXPECT_EQ(r.response_flags.toString(), "UO");
      EXPECT_EQ(r.response_code_details, "upstream_reset_before_response_started{overflow}");
    }
    EXPECT_TRUE(seen) << "no record for " << path;
  }

  metrics::Registry registry_;
  std::shared_ptr<const PolicyConfig> policies_;
  std::unique_ptr<DestinationControl> destinations_;
};

// The per-endpoint request counts (least request) keep idle endpoints' zeros up to
// kMaxIdleCounters and then sweep them; with more endpoints than that busy at once, a sweep
// per request end would walk them all every time: the next sweep waits for the counts to
// double again.
TEST_F(Http1SessionDestinationTest, IdleRequestCountsAreSweptOnlyAsTheyDouble) {
  Upstreams u(*loop_, *pool_, *client_tls_, [] { return std::optional<identity::SpiffeId>(); });
  constexpr size_t kBusy = 3000;
  for (size_t i = 0; i < kBusy; ++i) u.begin("busy-" + std::to_string(i));
  // Requests end one after another with thousands still in flight elsewhere.
  for (size_t i = 0; i < 200; ++i) u.end("busy-" + std::to_string(i));
  EXPECT_EQ(u.idleSweeps(), 1u) << "each end swept all " << kBusy << " counts";
  EXPECT_EQ(u.active("busy-0"), 0u);
  EXPECT_EQ(u.active("busy-2999"), 1u);
  // Pods come and go: one request each to endpoints never seen again. The zeros left behind
  // stay bounded (swept once the counts are twice what was busy at the last sweep).
  size_t most = 0;
  for (size_t i = 0; i < 20000; ++i) {
    std::string uid = "gone-" + std::to_string(i);
    u.begin(uid);
    u.end(uid);
    most = std::max(most, u.countersKept());
  }
  EXPECT_LE(most, 2 * kBusy + 1);
  EXPECT_GE(u.idleSweeps(), 2u);
  EXPECT_EQ(u.active("busy-2999"), 1u) << "a busy count survives every sweep";
  for (size_t i = 200; i < kBusy; ++i) u.end("busy-" + std::to_string(i));
  // Quiet again: the sweeps bring the kept counts back to the floor.
  for (size_t i = 0; i < 5000; ++i) {
    std::string uid = "later-" + std::to_string(i);
    u.begin(uid);
    u.end(uid);
  }
  EXPECT_LE(u.countersKept(), 2 * Upstreams::kMaxIdleCounters + 1);
}

TEST_F(Http1SessionDestinationTest, TheFailingEndpointIsEjectedAndTheOtherServesTheRest) {
  RefusingPort dead;
  auto live = startEcho();
  endpoints({{"echo", dead.address()}, {"echo", live->addresses()[0]}});
  useRule([](l7::DestinationPolicy& p) { outlier(p, 2, 50); });
  int n503 = 0, n200 = 0;
  for (int i = 0; i < 30; ++i) {
    Response r = get("/api/x");
    n503 += r.status == 503;
    n200 += r.status == 200;
  }
  // The dead endpoint was chosen (least request, random ties) until its second failure.
  EXPECT_EQ(n503, 2);
  EXPECT_EQ(n200, 28);
  EXPECT_EQ(destinations_->ejections(), 1u);
  nlohmann::json j = destinations_->toJson();
  EXPECT_EQ(j["services"]["shop/echo"]["endpoints"]["ep"]["ejected"], true) << j.dump();
  EXPECT_EQ(j["services"]["shop/echo"]["policy"], "shop/echo-rule");
  auto recs = recordsAfter(30);
  size_t uf = 0;
  for (const auto& r : recs) uf += r.response_flags.toString() == "UF";
  EXPECT_EQ(uf, 2u) << "the two failures were connect failures";
  // Without the rule nothing is skipped: the dead endpoint is chosen again.
  upstreams_->setDestinations(nullptr);
  int again = 0;
  for (int i = 0; i < 30; ++i) again += get("/api/x").status == 503;
  EXPECT_GT(again, 0);
}

TEST_F(Http1SessionDestinationTest, EveryEndpointEjectedIsNoHealthyUpstream) {
  RefusingPort a, b;
  endpoints({{"echo", a.address()}, {"echo", b.address()}});
  useRule([](l7::DestinationPolicy& p) { outlier(p, 1, 100); });
  EXPECT_EQ(get("/api/1").status, 503);
  EXPECT_EQ(get("/api/2").status, 503);
  EXPECT_EQ(destinations_->ejections(), 2u);
  Response r = get("/api/3");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("2 ejected by outlier detection"), std::string::npos) << r.body;
  auto recs = recordsAfter(3);
  EXPECT_EQ(recs[2].response_flags.toString(), "UH");
}

TEST_F(Http1SessionDestinationTest, OverTheRequestLimitIsUpstreamOverflow) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRule([](l7::DestinationPolicy& p) { p.mutable_connection_pool()->set_max_requests(1); });
  int slow = connect();
  send(slow, "GET /api/slow?delay=600ms HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  auto active = [this] {
    nlohmann::json j = destinations_->toJson()["services"];
    return j.contains("shop/echo") ? j["shop/echo"].value("active_requests", 0) : 0;
  };
  for (int i = 0; i < 200 && active() != 1; ++i) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_EQ(active(), 1) << "the slow request holds the one place";
  Response over = get("/api/over");
  EXPECT_EQ(over.status, 503);
  EXPECT_NE(over.body.find("overflow"), std::string::npos) << over.body;
  EXPECT_EQ(read(slow).status, 200) << "the request in flight is served";
  EXPECT_EQ(destinations_->overflows(), 1u);
  EXPECT_EQ(get("/api/after").status, 200) << "its place was given back";
  expectOverflowRecorded(recordsAfter(3), "/api/over");
  // Counted for Prometheus by Service and rule.
  EXPECT_NE(registry_.render().find("warren_waypoint_upstream_rq_pending_overflow_total{"
                                    "destination_service=\"shop/echo\",policy=\"shop/echo-rule\"} 1"),
            std::string::npos)
      << registry_.render();
}

TEST_F(Http1SessionDestinationTest, AtTheConnectionLimitARequestWaitsForTheConnectionInUse) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRule([](l7::DestinationPolicy& p) {
    p.mutable_connection_pool()->set_max_connections(1);
    p.mutable_connection_pool()->set_max_pending_requests(1);
  });
  auto service = [this](const char* field) {
    nlohmann::json j = destinations_->toJson()["services"];
    return j.contains("shop/echo") ? j["shop/echo"].value(field, 0) : 0;
  };
  auto until = [](const std::function<bool()>& f) {
    for (int i = 0; i < 400 && !f(); ++i) std::this_thread::sleep_for(milliseconds(5));
    return f();
  };
  int slow = connect();
  send(slow, "GET /api/slow?delay=700ms HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  ASSERT_TRUE(until([&] { return service("connections") == 1 && service("active_requests") == 1; }))
      << destinations_->toJson().dump();
  int waiter = connect();
  send(waiter, "GET /api/waiter HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  ASSERT_TRUE(until([&] { return service("pending_requests") == 1; }))
      << "the second request waits for the one connection: " << destinations_->toJson().dump();
  EXPECT_EQ(service("connections"), 1) << "no second connection was opened";

  Response over = get("/api/over");
  EXPECT_EQ(over.status, 503) << "the queue (http1MaxPendingRequests 1) is full";
  EXPECT_NE(over.body.find("overflow"), std::string::npos) << over.body;

  Response first = read(slow);
  Response second = read(waiter);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200) << "served once the connection was released";
  // The echo names the connection it was asked on: the same one, handed over.
  EXPECT_EQ(nlohmann::json::parse(second.body)["peer"], nlohmann::json::parse(first.body)["peer"]);
  EXPECT_EQ(destinations_->connectionOverflows(), 2u)
      << "the waiter and the refused request both found the limit reached";
  EXPECT_EQ(destinations_->overflows(), 1u) << "the one refused";
  EXPECT_TRUE(until([&] { return service("pending_requests") == 0; }));

  expectOverflowRecorded(recordsAfter(3), "/api/over");
  const std::string text = registry_.render();
  EXPECT_NE(text.find("warren_waypoint_upstream_cx_overflow_total{destination_service=\"shop/echo\","
                      "policy=\"shop/echo-rule\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("warren_waypoint_upstream_rq_pending_overflow_total{destination_service="
                      "\"shop/echo\",policy=\"shop/echo-rule\"} 1"),
            std::string::npos)
      << text;
}

TEST_F(Http1SessionDestinationTest, AWaitingRequestWhoseClientLeavesGivesItsPlaceBack) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRule([](l7::DestinationPolicy& p) {
    p.mutable_connection_pool()->set_max_connections(1);
    p.mutable_connection_pool()->set_max_pending_requests(1);
  });
  auto pending = [this] {
    nlohmann::json j = destinations_->toJson()["services"];
    return j.contains("shop/echo") ? j["shop/echo"].value("pending_requests", 0) : 0;
  };
  int slow = connect();
  send(slow, "GET /api/slow?delay=900ms HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(100));
  // The waiting client goes away: its place in the queue is given back.
  int gone = connect();
  send(gone, "GET /api/gone HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  for (int i = 0; i < 400 && pending() != 1; ++i) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_EQ(pending(), 1);
  ::close(gone);
  for (int i = 0; i < 400 && pending() != 0; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(pending(), 0) << "the closed client's request left the queue";
  int next = connect();
  send(next, "GET /api/next HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  EXPECT_EQ(read(slow).status, 200);
  EXPECT_EQ(read(next).status, 200) << "a place was free for it, and the connection came";
  EXPECT_EQ(destinations_->overflows(), 0u);
}

}  // namespace
}  // namespace warren::waypoint
