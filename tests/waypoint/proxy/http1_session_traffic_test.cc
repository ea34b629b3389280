// Http1Session with TrafficPolicy in process (the fixture of http1_session_test.cc, a real
// warren-echo behind): a fault delay holds the request before it goes upstream (DI), an abort
// answers the injected status without an upstream (FI), a local rate limit answers 429 (RL) and
// keeps the client connection for the next request. The lab's path is
// tests/e2e/test_waypoint_resilience.sh.
#include <gtest/gtest.h>

#include "http1_session_fixture.h"
#include "waypoint/proxy/traffic_control.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;

class Http1SessionTrafficTest : public Http1SessionTest {
 protected:
  // One waypoint-wide TrafficPolicy, filled by `fill`.
  void usePolicy(const std::function<void(l7::TrafficPolicy&)>& fill) {
    l7::WaypointPolicy w;
    w.set_waypoint("shop/waypoint");
    auto* p = w.mutable_traffic();
    p->set_namespace_("shop");
    p->set_name("traffic");
    p->add_targets();  // the whole waypoint
    fill(*p);
    policies_ = PolicyConfig::build({{"r", w}}, {}, 1);
    ASSERT_TRUE(policies_->diagnostics().empty()) << policies_->diagnostics()[0];
    auto t = TrafficControl::create(traffic_registry_, [this] { return policies_; });
    ASSERT_TRUE(t) << t.error().message();
    traffic_ = std::move(*t);
    env_.traffic = traffic_.get();
  }
  std::vector<RequestRecord> recordsAfter(size_t n) {
    for (int i = 0; i < 500 && records().size() < n; ++i)
      std::this_thread::sleep_for(milliseconds(10));
    auto r = records();
    EXPECT_GE(r.size(), n);
    return r;
  }

  metrics::Registry traffic_registry_;
  std::shared_ptr<const PolicyConfig> policies_;
  std::unique_ptr<TrafficControl> traffic_;
};

TEST_F(Http1SessionTrafficTest, DelayThenTheUpstreamAnswers) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  usePolicy([](l7::TrafficPolicy& p) {
    p.mutable_fault()->mutable_delay()->mutable_fixed_delay()->set_nanos(300'000'000);
    p.mutable_fault()->mutable_delay()->set_percentage(100);
  });
  int c = connect();
  const auto start = std::chrono::steady_clock::now();
  send(c, "GET /api/x HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response r = read(c);
  // A lower bound only: the delay cannot end early.
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(300));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["path"], "/in/x") << "forwarded after the delay";
  auto recs = recordsAfter(1);
  EXPECT_EQ(recs[0].response_flags.toString(), "DI");
  EXPECT_GE(recs[0].duration, milliseconds(300));
  // The connection is kept: the next request is delayed and served too.
  send(c, "GET /api/y HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  EXPECT_EQ(read(c).status, 200);
}

TEST_F(Http1SessionTrafficTest, AbortAnswersWithoutAnUpstream) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  usePolicy([](l7::TrafficPolicy& p) {
    p.mutable_fault()->mutable_abort()->set_http_status(418);
    p.mutable_fault()->mutable_abort()->set_percentage(100);
    p.mutable_fault()->mutable_delay()->mutable_fixed_delay()->set_nanos(100'000'000);
    p.mutable_fault()->mutable_delay()->set_percentage(100);
  });
  int c = connect();
  send(c, "POST /api/x HTTP/1.1\r\nHost: echo.shop\r\nContent-Length: 5\r\n\r\nhello");
  Response r = read(c);
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(r.body, "fault filter abort\n");
  EXPECT_FALSE(r.closed);
  auto recs = recordsAfter(1);
  EXPECT_EQ(recs[0].response_flags.toString(), "DI,FI");
  EXPECT_EQ(recs[0].response_code_details, "fault_filter_abort");
  EXPECT_FALSE(recs[0].upstream_host) << "nothing went upstream";
  EXPECT_EQ(recs[0].upstream_attempts, 0u);
  // The body was read past: the next request on the connection is parsed from its start.
  send(c, "GET /api/y HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  EXPECT_EQ(read(c).status, 418);
}

TEST_F(Http1SessionTrafficTest, RateLimitAnswers429AndKeepsTheConnection) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  usePolicy([](l7::TrafficPolicy& p) {
    auto* r = p.mutable_local_rate_limit();
    r->set_max_tokens(1);
    r->set_tokens_per_fill(1);
    r->mutable_fill_interval()->set_seconds(3600);
  });
  int c = connect();
  send(c, "GET /api/x HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  EXPECT_EQ(read(c).status, 200);
  send(c, "GET /api/x HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response r = read(c);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "local_rate_limited\n");
  EXPECT_FALSE(r.closed);
  auto recs = recordsAfter(2);
  EXPECT_EQ(recs[1].response_flags.toString(), "RL");
  EXPECT_EQ(recs[1].response_code_details, "local_rate_limited");
  EXPECT_NE(
      traffic_registry_.render().find(
          R"(warren_waypoint_rate_limit_total{policy="shop/traffic",decision="rate_limited"} 1)"),
      std::string::npos)
      << traffic_registry_.render();
}

}  // namespace
}  // namespace warren::waypoint
