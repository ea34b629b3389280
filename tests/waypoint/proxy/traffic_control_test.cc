// TrafficControl over a PolicyConfig built from warren.l7.v1.WaypointPolicy TrafficPolicy
// resources, as the agent sends them: which rules apply to which Service, the 429 of a local
// rate limit per target / route / source principal (an injected clock steps the buckets),
// fault aborts and delays (scripted draws), the record's flags and details, the counters, and
// bad values reported while the rest of the policy applies.
#include "waypoint/proxy/traffic_control.h"

#include <gtest/gtest.h>

#include "tests/waypoint/route_builders.h"

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;
using warren::waypoint::testing::ScriptedRandom;

l7::WaypointPolicy traffic(const std::string& name, const std::string& service,
                           const std::function<void(l7::TrafficPolicy&)>& fill) {
  l7::WaypointPolicy w;
  w.set_waypoint("shop/waypoint");
  auto* p = w.mutable_traffic();
  p->set_namespace_("shop");
  p->set_name(name);
  auto* t = p->add_targets();
  if (!service.empty()) {
    t->set_kind(l7::PolicyTarget::SERVICE);
    t->set_namespace_("shop");
    t->set_name(service);
  }
  fill(*p);
  return w;
}

void limit(l7::TrafficPolicy& p, uint32_t max, uint32_t per_fill, int64_t interval_s,
           l7::LocalRateLimit::BucketPer per = l7::LocalRateLimit::TARGET) {
  auto* r = p.mutable_local_rate_limit();
  r->set_max_tokens(max);
  r->set_tokens_per_fill(per_fill);
  r->mutable_fill_interval()->set_seconds(interval_s);
  r->set_bucket_per(per);
}

struct Fixture {
  metrics::Registry registry;
  std::shared_ptr<const PolicyConfig> config;
  TokenBucket::Clock::time_point now{seconds(100)};
  std::unique_ptr<TrafficControl> control;

  explicit Fixture(const std::map<std::string, l7::WaypointPolicy>& resources) {
    config = PolicyConfig::build(resources, {}, 1);
    auto c = TrafficControl::create(
        registry, [this] { return config; }, [this] { return now; });
    EXPECT_TRUE(c.has_value());
    control = std::move(*c);
  }

  TrafficVerdict decide(const std::string& service, const std::string& principal = "",
                        const std::string& route = "", std::deque<uint64_t> draws = {},
                        RequestRecord* out = nullptr) {
    RequestRecord record;
    record.route_name = route;
    ServiceKey key{"shop", service};
    ScriptedRandom random(std::move(draws));
    TrafficVerdict v = control->decide(service.empty() ? nullptr : &key, principal, random, record);
    if (out) *out = record;
    return v;
  }
};

TEST(TrafficControl, RateLimitPerServiceAnswers429WithRlFlag) {
  Fixture f({{"a", traffic("api-limit", "api", [](auto& p) { limit(p, 2, 1, 1); })}});
  EXPECT_FALSE(f.decide("api").reply);
  EXPECT_FALSE(f.decide("api").reply);
  RequestRecord record;
  TrafficVerdict v = f.decide("api", "", "", {}, &record);
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->status, 429);
  EXPECT_EQ(v.reply->body, "local_rate_limited\n");
  EXPECT_EQ(record.response_flags.toString(), "RL");
  EXPECT_EQ(record.response_code_details, "local_rate_limited");
  EXPECT_FALSE(f.decide("web").reply) << "another Service is not limited";
  EXPECT_FALSE(f.decide("").reply) << "nor a workload address";
  f.now += seconds(1);
  EXPECT_FALSE(f.decide("api").reply) << "one token a second later";
  EXPECT_TRUE(f.decide("api").reply);
  const std::string text = f.registry.render();
  EXPECT_NE(
      text.find(R"(warren_waypoint_rate_limit_total{policy="shop/api-limit",decision="ok"} 3)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(warren_waypoint_rate_limit_total{policy="shop/api-limit",decision="rate_limited"} 2)"),
      std::string::npos)
      << text;
}

TEST(TrafficControl, BucketsPerSourcePrincipalAndPerRoute) {
  Fixture f(
      {{"a", traffic("per-client", "api",
                     [](auto& p) { limit(p, 1, 1, 60, l7::LocalRateLimit::SOURCE_PRINCIPAL); })},
       {"b", traffic("per-route", "web",
                     [](auto& p) { limit(p, 1, 1, 60, l7::LocalRateLimit::ROUTE); })}});
  const std::string alice = "cluster.local/ns/shop/sa/alice";
  const std::string bob = "cluster.local/ns/shop/sa/bob";
  EXPECT_FALSE(f.decide("api", alice).reply);
  EXPECT_TRUE(f.decide("api", alice).reply) << "alice used her token";
  EXPECT_FALSE(f.decide("api", bob).reply) << "bob has his own bucket";
  EXPECT_TRUE(f.decide("api", bob).reply);
  EXPECT_FALSE(f.decide("web", alice, "HTTPRoute/shop/a").reply);
  EXPECT_TRUE(f.decide("web", bob, "HTTPRoute/shop/a").reply) << "per route, not per client";
  EXPECT_FALSE(f.decide("web", alice, "HTTPRoute/shop/b").reply) << "another route";
}

TEST(TrafficControl, WaypointWideAndServiceRulesBothApply) {
  Fixture f({{"a", traffic("wide", "", [](auto& p) { limit(p, 3, 1, 60); })},
             {"b", traffic("api", "api", [](auto& p) { limit(p, 1, 1, 60); })}});
  ASSERT_EQ(f.config->trafficRules(nullptr).size(), 1u);
  ServiceKey api{"shop", "api"};
  ASSERT_EQ(f.config->trafficRules(&api).size(), 2u);
  EXPECT_EQ(f.config->trafficRules(&api)[0].policy, "shop/api") << "the Service's own first";
  EXPECT_FALSE(f.decide("api").reply) << "a token from each bucket";
  auto limited = f.decide("api").reply;
  ASSERT_TRUE(limited) << "api's own bucket is empty";
  EXPECT_EQ(limited->status, 429);
  EXPECT_FALSE(f.decide("web").reply) << "the waypoint-wide bucket: 3 - 1 taken by api";
  EXPECT_FALSE(f.decide("web").reply);
  limited = f.decide("web").reply;
  ASSERT_TRUE(limited) << "the waypoint-wide bucket is empty";
  EXPECT_EQ(limited->status, 429);
}

TEST(TrafficControl, FaultAbortAndDelay) {
  Fixture f({{"a", traffic("chaos", "api", [](auto& p) {
                auto* fault = p.mutable_fault();
                fault->mutable_abort()->set_http_status(503);
                fault->mutable_abort()->set_percentage(50);
                fault->mutable_delay()->mutable_fixed_delay()->set_nanos(200000000);
                fault->mutable_delay()->set_percentage(100);
              })}});
  RequestRecord record;
  TrafficVerdict v = f.decide("api", "", "", {100}, &record);  // the abort's draw: fires
  EXPECT_EQ(v.delay, milliseconds(200));
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->status, 503);
  EXPECT_EQ(v.reply->body, "fault filter abort\n");
  EXPECT_EQ(record.response_flags.toString(), "DI,FI");
  EXPECT_EQ(record.response_code_details, "fault_filter_abort");
  v = f.decide("api", "", "", {500000}, &record);  // does not fire
  EXPECT_EQ(v.delay, milliseconds(200));
  EXPECT_FALSE(v.reply);
  EXPECT_EQ(record.response_flags.toString(), "DI");
  v = f.decide("web", "", "", {}, &record);
  EXPECT_EQ(v.delay, milliseconds(0));
  EXPECT_FALSE(v.reply);
  EXPECT_TRUE(record.response_flags.empty());
  const std::string text = f.registry.render();
  EXPECT_NE(
      text.find(R"(warren_waypoint_faults_injected_total{policy="shop/chaos",fault="abort"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(warren_waypoint_faults_injected_total{policy="shop/chaos",fault="delay"} 2)"),
      std::string::npos)
      << text;
}

TEST(TrafficControl, RateLimitBeforeFault) {
  Fixture f({{"a", traffic("both", "api", [](auto& p) {
                limit(p, 1, 1, 60);
                p.mutable_fault()->mutable_abort()->set_http_status(500);
                p.mutable_fault()->mutable_abort()->set_percentage(100);
              })}});
  EXPECT_EQ(f.decide("api").reply->status, 500) << "a token taken, then the fault";
  RequestRecord record;
  EXPECT_EQ(f.decide("api", "", "", {}, &record).reply->status, 429);
  EXPECT_EQ(record.response_flags.toString(), "RL") << "a limited request is not faulted";
}

TEST(TrafficControl, BadValuesReportedRestApplies) {
  Fixture f({{"a", traffic("bad", "api", [](auto& p) {
                limit(p, 0, 1, 1);  // maxTokens 0
                p.mutable_fault()->mutable_abort()->set_http_status(99);
                p.mutable_fault()->mutable_abort()->set_percentage(100);
                p.mutable_fault()->mutable_delay()->mutable_fixed_delay()->set_seconds(1);
                p.mutable_fault()->mutable_delay()->set_percentage(100);
              })}});
  const auto& d = f.config->diagnostics();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NE(d[0].find("TrafficPolicy shop/bad: localRateLimit needs maxTokens >= 1"),
            std::string::npos)
      << d[0];
  EXPECT_NE(d[1].find("fault.abort needs an httpStatus 200..599"), std::string::npos) << d[1];
  TrafficVerdict v = f.decide("api");
  EXPECT_FALSE(v.reply) << "no limit, no abort";
  EXPECT_EQ(v.delay, seconds(1)) << "the good delay applies";
  EXPECT_TRUE(f.config->toJson()["traffic_policies"].is_array());
  EXPECT_EQ(f.config->toJson()["traffic_policies"][0]["policy"], "shop/bad");
  EXPECT_TRUE(f.config->empty()) << "traffic rules do not turn on authorization";
}

}  // namespace
}  // namespace warren::waypoint
