// DestinationRule's deciders (waypoint/resilience/outlier_detector, request_limits): ejection by
// consecutive 5xx and gateway errors stepped by an injected clock, ejection times growing with
// each ejection and capped, the max ejection percentage, min health percent (panic), the sweep
// interval returning endpoints and decaying the multiplier; the request limit table.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "waypoint/resilience/outlier_detector.h"
#include "waypoint/resilience/request_limits.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = OutlierDetector::Clock;
using Verdict = OutlierDetector::Verdict;

const Clock::time_point t0{seconds(5000)};
const AttemptOutcome k200 = AttemptOutcome::answered(200);
const AttemptOutcome k500 = AttemptOutcome::answered(500);
const AttemptOutcome k503 = AttemptOutcome::answered(503);
const AttemptOutcome kConnect{AttemptOutcome::Kind::kConnectFailure, 0};

OutlierSpec spec(uint32_t c5xx, uint32_t cgw, uint32_t max_pct = 100) {
  OutlierSpec s;
  s.consecutive_5xx = c5xx;
  s.consecutive_gateway = cgw;
  s.interval = seconds(1);
  s.base_ejection = seconds(10);
  s.max_ejection_percent = max_pct;
  return s;
}

TEST(AttemptOutcome, Classification) {
  struct Row {
    AttemptOutcome o;
    bool is5xx, gateway;
  };
  const Row rows[] = {
      {AttemptOutcome::answered(200), false, false}, {AttemptOutcome::answered(404), false, false},
      {AttemptOutcome::answered(499), false, false}, {AttemptOutcome::answered(500), true, false},
      {AttemptOutcome::answered(501), true, false},  {AttemptOutcome::answered(502), true, true},
      {AttemptOutcome::answered(503), true, true},   {AttemptOutcome::answered(504), true, true},
      {AttemptOutcome::answered(505), true, false},  {kConnect, true, true},
      {{AttemptOutcome::Kind::kReset, 0}, true, true}, {{AttemptOutcome::Kind::kTimeout, 0}, true, true},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(r.o.is5xx(), r.is5xx) << r.o.status;
    EXPECT_EQ(r.o.isGatewayError(), r.gateway) << r.o.status;
  }
}

TEST(OutlierDetector, ConsecutiveTable) {
  struct Case {
    const char* name;
    OutlierSpec spec;
    std::vector<AttemptOutcome> outcomes;  // to endpoint "a", all at t0
    bool ejected;
  };
  const Case cases[] = {
      {"3 x 500 with consecutive5xx 3", spec(3, 0), {k500, k500, k500}, true},
      {"2 x 500 with consecutive5xx 3", spec(3, 0), {k500, k500}, false},
      {"a success in between resets", spec(3, 0), {k500, k500, k200, k500}, false},
      {"500 is no gateway error", spec(0, 2), {k500, k500, k500}, false},
      {"503 twice with consecutiveGateway 2", spec(0, 2), {k503, k503}, true},
      {"connect failures are gateway errors", spec(0, 2), {kConnect, kConnect}, true},
      {"connect failures are 5xx too", spec(2, 0), {kConnect, kConnect}, true},
      {"500 then 503: 5xx 2, gateway 1", spec(2, 2), {k500, k503}, true},
      {"both off", spec(0, 0), {k503, k503, k503, k503, k503, k503}, false},
      {"4xx is not counted", spec(1, 1), {AttemptOutcome::answered(429)}, false},
  };
  for (const Case& c : cases) {
    OutlierDetector d(c.spec, t0);
    for (const AttemptOutcome& o : c.outcomes) d.report("a", o, 2, t0);
    EXPECT_EQ(d.ejected("a", t0), c.ejected) << c.name;
    EXPECT_EQ(d.ejections(), c.ejected ? 1u : 0u) << c.name;
  }
}

TEST(OutlierDetector, EjectionTimeGrowsWithEjectionsAndReturnsAtASweep) {
  OutlierSpec s = spec(1, 0);
  s.interval = seconds(3);
  s.base_ejection = seconds(10);
  s.max_ejection = seconds(25);
  OutlierDetector d(s, t0);
  EXPECT_EQ(d.report("a", k500, 4, t0 + milliseconds(500)), Verdict::kEjected);
  EXPECT_EQ(d.excluded(4, t0 + milliseconds(500)), std::set<std::string>{"a"});
  // Ejected until 10.5 s; the first sweep after that is at 12 s.
  EXPECT_TRUE(d.ejected("a", t0 + milliseconds(11999)));
  EXPECT_FALSE(d.ejected("a", t0 + seconds(12)));
  EXPECT_TRUE(d.excluded(4, t0 + seconds(12)).empty());
  // Ejected again right away: 2 x base = 20 s (from 12 s: until 32 s, back at the 33 s sweep).
  EXPECT_EQ(d.report("a", k500, 4, t0 + seconds(12)), Verdict::kEjected);
  EXPECT_EQ(d.endpoints(t0 + seconds(12)).at("a").times_ejected, 2u);
  EXPECT_TRUE(d.ejected("a", t0 + seconds(32)));
  EXPECT_FALSE(d.ejected("a", t0 + seconds(33)));
  // A third time at once: 3 x 10 s capped at max_ejection 25 s (until 58 s, back at 60 s).
  EXPECT_EQ(d.report("a", k500, 4, t0 + seconds(33)), Verdict::kEjected);
  EXPECT_TRUE(d.ejected("a", t0 + seconds(59)));
  EXPECT_FALSE(d.ejected("a", t0 + seconds(60)));
  EXPECT_EQ(d.ejections(), 3u);
  // In service, the multiplier decays by one per sweep: after 3 more sweeps it is forgotten,
  // and the next ejection lasts the base time again.
  EXPECT_TRUE(d.endpoints(t0 + seconds(69)).empty());
  EXPECT_EQ(d.report("a", k500, 4, t0 + seconds(69)), Verdict::kEjected);
  EXPECT_FALSE(d.ejected("a", t0 + seconds(81)));
}

TEST(OutlierDetector, AnswersFromAnEjectedEndpointAreIgnored) {
  OutlierDetector d(spec(2, 0), t0);
  d.report("a", k500, 2, t0);
  EXPECT_EQ(d.report("a", k500, 2, t0), Verdict::kEjected);
  EXPECT_EQ(d.report("a", k500, 2, t0), Verdict::kNone);  // in flight when it was ejected
  EXPECT_EQ(d.report("a", k500, 2, t0), Verdict::kNone);
  EXPECT_EQ(d.ejections(), 1u);
  // Back in service with its counts at 0: it takes 2 failures again.
  EXPECT_EQ(d.report("a", k500, 2, t0 + seconds(10)), Verdict::kNone);
  EXPECT_EQ(d.report("a", k500, 2, t0 + seconds(10)), Verdict::kEjected);
}

TEST(OutlierDetector, MaxEjectionPercent) {
  struct Case {
    const char* name;
    uint32_t max_pct;
    size_t hosts;
    size_t ejected;  // of 4 endpoints all failing
  };
  const Case cases[] = {
      {"10 % of 4 still ejects one (Envoy: at least one)", 10, 4, 1},
      {"0 % ejects one as well", 0, 4, 1},
      {"50 % of 4: two", 50, 4, 2},
      {"74 % of 4: two, a third would be 75 %", 74, 4, 2},
      {"75 % of 4: three", 75, 4, 3},
      {"100 %: all four", 100, 4, 4},
      {"50 % of 2: one", 50, 2, 1},
  };
  for (const Case& c : cases) {
    OutlierDetector d(spec(1, 0, c.max_pct), t0);
    size_t ejected = 0, refused = 0;
    for (size_t i = 0; i < c.hosts; ++i) {
      Verdict v = d.report("ep" + std::to_string(i), k500, c.hosts, t0);
      ejected += v == Verdict::kEjected;
      refused += v == Verdict::kEjectionRefused;
    }
    EXPECT_EQ(ejected, c.ejected) << c.name;
    EXPECT_EQ(refused, c.hosts - c.ejected) << c.name;
    EXPECT_EQ(d.excluded(c.hosts, t0).size(), c.ejected) << c.name;
  }
}

TEST(OutlierDetector, RefusedEjectionIsTriedAgainAtTheNextFailure) {
  OutlierDetector d(spec(1, 0, 50), t0);
  EXPECT_EQ(d.report("a", k500, 2, t0), Verdict::kEjected);
  EXPECT_EQ(d.report("b", k500, 2, t0), Verdict::kEjectionRefused);
  // "a" returns at the 10 s sweep; "b"'s next failure ejects it.
  EXPECT_EQ(d.report("b", k500, 2, t0 + seconds(10)), Verdict::kEjected);
  EXPECT_EQ(d.excluded(2, t0 + seconds(10)), std::set<std::string>{"b"});
}

TEST(OutlierDetector, MinHealthPercentStopsSkipping) {
  OutlierSpec s = spec(1, 0, 100);
  s.min_health_percent = 50;
  OutlierDetector d(s, t0);
  d.report("a", k500, 4, t0);
  d.report("b", k500, 4, t0);
  EXPECT_EQ(d.excluded(4, t0).size(), 2u);  // 2 of 4 in service: 50 %, not under it
  d.report("c", k500, 4, t0);
  EXPECT_TRUE(d.excluded(4, t0).empty());  // 25 % < 50 %: every endpoint takes traffic
  EXPECT_TRUE(d.ejected("c", t0));         // still ejected, only not skipped
}

TEST(OutlierDetector, SpecChangeKeepsState) {
  OutlierDetector d(spec(2, 0), t0);
  d.report("a", k500, 2, t0);
  d.setSpec(spec(1, 0));
  EXPECT_EQ(d.report("a", k500, 2, t0), Verdict::kEjected);
  OutlierSpec longer = spec(1, 0);
  longer.interval = seconds(4);
  d.setSpec(longer);
  // Ejected until 10 s; sweeps now every 4 s: back at the 12 s one (not at 10 s).
  EXPECT_TRUE(d.ejected("a", t0 + seconds(11)));
  EXPECT_FALSE(d.ejected("a", t0 + seconds(12)));
}

TEST(OutlierDetector, TracksABoundedNumberOfEndpoints) {
  OutlierDetector d(spec(3, 0), t0);
  for (size_t i = 0; i < OutlierDetector::kMaxEndpoints + 10; ++i)
    d.report("ep" + std::to_string(i), k500, 2, t0);
  EXPECT_EQ(d.endpoints(t0).size(), OutlierDetector::kMaxEndpoints);
  // Successes from endpoints never seen leave nothing behind.
  OutlierDetector quiet(spec(3, 0), t0);
  for (int i = 0; i < 100; ++i) quiet.report("ep" + std::to_string(i), k200, 2, t0);
  EXPECT_TRUE(quiet.endpoints(t0).empty());
}

TEST(RequestLimits, Table) {
  struct Row {
    uint32_t active, max;
    bool admits;
  };
  const Row rows[] = {{0, 0, true}, {1000, 0, true}, {0, 1, true},
                      {1, 1, false}, {9, 10, true},  {10, 10, false}};
  for (const Row& r : rows)
    EXPECT_EQ(admitsRequest(r.active, r.max), r.admits) << r.active << "/" << r.max;
}

TEST(RequestLimits, CountsPerDestination) {
  RequestLimits l;
  EXPECT_TRUE(l.tryBegin("shop/a", 2));
  EXPECT_TRUE(l.tryBegin("shop/a", 2));
  EXPECT_FALSE(l.tryBegin("shop/a", 2));
  EXPECT_TRUE(l.tryBegin("shop/b", 2));  // another destination has its own count
  EXPECT_TRUE(l.tryBegin("shop/a", 0));  // no limit: admitted, still counted
  EXPECT_EQ(l.active("shop/a"), 3u);
  EXPECT_EQ(l.overflows(), 1u);
  l.end("shop/a");
  l.end("shop/a");
  EXPECT_TRUE(l.tryBegin("shop/a", 2));
  l.end("shop/a");
  l.end("shop/a");
  l.end("shop/b");
  l.end("shop/b");  // more ends than begins: ignored
  EXPECT_TRUE(l.activeByDestination().empty());
}

TEST(RequestLimits, WorkersShareOneCount) {
  RequestLimits l;
  std::vector<std::thread> threads;
  std::atomic<int> admitted{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) admitted += l.tryBegin("shop/a", 50);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 50);
  EXPECT_EQ(l.overflows(), 350u);
}

}  // namespace
}  // namespace warren::waypoint
