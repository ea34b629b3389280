// TrafficPolicy's deciders (waypoint/resilience/token_bucket, local_rate_limiter,
// traffic_policy): the token bucket stepped by an injected clock, the keyed limiter and its
// bound, fault percentages against scripted draws, and the bucket keys.
#include "waypoint/resilience/traffic_policy.h"

#include <gtest/gtest.h>

#include "route_builders.h"
#include "waypoint/resilience/local_rate_limiter.h"
#include "waypoint/resilience/token_bucket.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = TokenBucket::Clock::time_point;
using warren::waypoint::testing::ScriptedRandom;

const TimePoint t0{seconds(1000)};

TEST(TokenBucket, Table) {
  struct Step {
    milliseconds at;  // since t0
    bool taken;
    uint32_t left;  // tokens after the step
  };
  struct Case {
    const char* name;
    TokenBucketSpec spec;
    std::vector<Step> steps;
  };
  const Case cases[] = {
      {"starts full, then refuses until the next fill",
       {3, 1, seconds(1)},
       {{milliseconds(0), true, 2},
        {milliseconds(0), true, 1},
        {milliseconds(10), true, 0},
        {milliseconds(999), false, 0},
        {milliseconds(1000), true, 0},
        {milliseconds(1500), false, 0}}},
      {"a fill adds tokens_per_fill at once (a burst, not a drip)",
       {10, 5, seconds(1)},
       {{milliseconds(0), true, 9},
        {milliseconds(0), true, 8},
        {milliseconds(0), true, 7},
        {milliseconds(0), true, 6},
        {milliseconds(0), true, 5},
        {milliseconds(0), true, 4},
        {milliseconds(0), true, 3},
        {milliseconds(0), true, 2},
        {milliseconds(0), true, 1},
        {milliseconds(0), true, 0},
        {milliseconds(500), false, 0},
        {milliseconds(1000), true, 4}}},
      {"never above max_tokens after a long idle time",
       {2, 1, milliseconds(100)},
       {{milliseconds(0), true, 1},
        {milliseconds(0), true, 0},
        {milliseconds(3600 * 1000), true, 1},
        {milliseconds(3600 * 1000), true, 0},
        {milliseconds(3600 * 1000), false, 0}}},
      {"fills count from the bucket's own schedule, not from the last request",
       {1, 1, seconds(1)},
       {{milliseconds(0), true, 0},
        {milliseconds(1900), true, 0},  // the fill at 1 s
        {milliseconds(2000), true, 0},  // the fill at 2 s, 100 ms later
        {milliseconds(2100), false, 0}}},
      {"a clock read a moment earlier by another thread changes nothing",
       {1, 1, seconds(1)},
       {{milliseconds(1000), true, 0}, {milliseconds(500), false, 0}}},
  };
  for (const Case& c : cases) {
    TokenBucket b(c.spec, t0);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& s = c.steps[i];
      EXPECT_EQ(b.tryTake(t0 + s.at), s.taken) << c.name << ", step " << i;
      EXPECT_EQ(b.tokens(t0 + s.at), s.left) << c.name << ", step " << i;
    }
  }
}

TEST(LocalRateLimiter, BucketsByKeyAndSpec) {
  LocalRateLimiter l;
  TokenBucketSpec one{1, 1, seconds(1)};
  EXPECT_TRUE(l.tryTake("p|a", "p|(o)", one, t0));
  EXPECT_FALSE(l.tryTake("p|a", "p|(o)", one, t0)) << "the same key shares its bucket";
  EXPECT_TRUE(l.tryTake("p|b", "p|(o)", one, t0)) << "another key has its own";
  TokenBucketSpec two{2, 1, seconds(1)};
  EXPECT_TRUE(l.tryTake("p|a", "p|(o)", two, t0)) << "a changed spec starts full again";
  EXPECT_TRUE(l.tryTake("p|a", "p|(o)", two, t0));
  EXPECT_FALSE(l.tryTake("p|a", "p|(o)", two, t0));
  EXPECT_EQ(l.buckets(), 2u);
}

TEST(LocalRateLimiter, BoundedForgettingFullBucketsFirst) {
  LocalRateLimiter l(2);
  TokenBucketSpec spec{1, 1, seconds(1)};
  EXPECT_TRUE(l.tryTake("a", "(o)", spec, t0));
  EXPECT_TRUE(l.tryTake("b", "(o)", spec, t0));
  // Full map, no full bucket: new keys share the overflow bucket.
  EXPECT_TRUE(l.tryTake("c", "(o)", spec, t0));
  EXPECT_FALSE(l.tryTake("d", "(o)", spec, t0)) << "c and d share the overflow bucket";
  EXPECT_FALSE(l.tryTake("a", "(o)", spec, t0)) << "a's own bucket is still empty";
  EXPECT_EQ(l.buckets(), 3u) << "the two keys and the overflow bucket";
  // A second later every bucket is full again: forgotten to make room, nothing lost.
  EXPECT_TRUE(l.tryTake("e", "(o)", spec, t0 + seconds(1)));
  EXPECT_FALSE(l.tryTake("e", "(o)", spec, t0 + seconds(1)));
  EXPECT_EQ(l.buckets(), 1u);
}

TEST(FaultInjection, PercentToPerMillion) {
  EXPECT_EQ(percentToPerMillion(0), 0u);
  EXPECT_EQ(percentToPerMillion(100), kPerMillion);
  EXPECT_EQ(percentToPerMillion(50), 500000u);
  EXPECT_EQ(percentToPerMillion(0.1), 1000u);
  EXPECT_EQ(percentToPerMillion(0.0001), 1u);
  EXPECT_EQ(percentToPerMillion(-3), 0u);
  EXPECT_EQ(percentToPerMillion(250), kPerMillion);
  EXPECT_EQ(percentToPerMillion(std::nan("")), 0u);
}

TEST(FaultInjection, DecisionTable) {
  using Delay = FaultRule::Delay;
  using Abort = FaultRule::Abort;
  struct Case {
    const char* name;
    FaultRule rule;
    std::deque<uint64_t> draws;
    milliseconds delay;
    std::optional<int> abort;
    int draws_used;
  };
  const Case cases[] = {
      {"nothing configured", {}, {}, milliseconds(0), std::nullopt, 0},
      {"abort at 100 %: no draw",
       {std::nullopt, Abort{503, kPerMillion}},
       {},
       milliseconds(0),
       503,
       0},
      {"abort at 0 %: never, no draw",
       {std::nullopt, Abort{503, 0}},
       {},
       milliseconds(0),
       std::nullopt,
       0},
      {"abort at 50 %: a draw under 500000 fires",
       {std::nullopt, Abort{418, 500000}},
       {499999},
       milliseconds(0),
       418,
       1},
      {"abort at 50 %: a draw of 500000 does not",
       {std::nullopt, Abort{418, 500000}},
       {500000},
       milliseconds(0),
       std::nullopt,
       1},
      {"delay at 100 %",
       {Delay{milliseconds(250), kPerMillion}, std::nullopt},
       {},
       milliseconds(250),
       std::nullopt,
       0},
      {"delay at 10 %: drawn 99999 fires",
       {Delay{milliseconds(250), 100000}, std::nullopt},
       {99999},
       milliseconds(250),
       std::nullopt,
       1},
      {"delay at 10 %: drawn 100000 does not",
       {Delay{milliseconds(250), 100000}, std::nullopt},
       {100000},
       milliseconds(0),
       std::nullopt,
       1},
      {"both drawn independently, delay first: delayed and aborted",
       {Delay{milliseconds(10), 500000}, Abort{500, 500000}},
       {1, 2},
       milliseconds(10),
       500,
       2},
      {"both drawn: delayed, not aborted",
       {Delay{milliseconds(10), 500000}, Abort{500, 500000}},
       {1, 999999},
       milliseconds(10),
       std::nullopt,
       2},
      {"both drawn: aborted, not delayed",
       {Delay{milliseconds(10), 500000}, Abort{500, 500000}},
       {999999, 0},
       milliseconds(0),
       500,
       2},
  };
  for (const Case& c : cases) {
    ScriptedRandom random(c.draws);
    FaultDecision d = decideFault(c.rule, random);
    EXPECT_EQ(d.delay, c.delay) << c.name;
    EXPECT_EQ(d.delayed(), c.delay.count() > 0) << c.name;
    EXPECT_EQ(d.abort_status, c.abort) << c.name;
    EXPECT_EQ(random.calls(), c.draws_used) << c.name;
  }
}

TEST(FaultInjection, ShareOverManyDraws) {
  // A uniform sweep of draws: exactly the configured share fires.
  FaultRule rule{std::nullopt, FaultRule::Abort{503, percentToPerMillion(25)}};
  int fired = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    ScriptedRandom r({i * 1000});
    if (decideFault(rule, r).abort_status) ++fired;
  }
  EXPECT_EQ(fired, 250);
}

TEST(RateLimitKey, PerTargetRouteOrPrincipal) {
  TrafficRule rule;
  rule.policy = "shop/limits";
  rule.target = "Service shop/api";
  rule.rate_limit = RateLimitRule{};
  EXPECT_EQ(rateLimitKey(rule, "HTTPRoute/shop/a", "cluster.local/ns/x/sa/y"),
            "shop/limits|Service shop/api");
  rule.rate_limit->per = RateLimitRule::BucketPer::kRoute;
  EXPECT_EQ(rateLimitKey(rule, "HTTPRoute/shop/a", "cluster.local/ns/x/sa/y"),
            "shop/limits|Service shop/api|HTTPRoute/shop/a");
  rule.rate_limit->per = RateLimitRule::BucketPer::kSourcePrincipal;
  EXPECT_EQ(rateLimitKey(rule, "HTTPRoute/shop/a", "cluster.local/ns/x/sa/y"),
            "shop/limits|Service shop/api|cluster.local/ns/x/sa/y");
  EXPECT_EQ(rateLimitKey(rule, "HTTPRoute/shop/a", ""), "shop/limits|Service shop/api|")
      << "clients without an identity share one bucket";
}

}  // namespace
}  // namespace warren::waypoint
