#include "common/metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>

namespace warren::metrics {
namespace {

TEST(Registry, CountersGaugesSortedStableOutput) {
  Registry r;
  auto bytes = r.counter("warren_b_total", "B.", {"dir", "node"});
  ASSERT_TRUE(bytes);
  auto pods = r.gauge("warren_a_pods", "A.");
  ASSERT_TRUE(pods);
  (*(*bytes)->withLabels({"out", "n2"}))->inc(5);
  (*(*bytes)->withLabels({"in", "n1"}))->inc();
  (*(*bytes)->withLabels({"in", "n1"}))->inc(2);
  (*pods)->get().set(3);
  (*pods)->get().sub(1);
  const std::string want =
      "# HELP warren_a_pods A.\n"
      "# TYPE warren_a_pods gauge\n"
      "warren_a_pods 2\n"
      "# HELP warren_b_total B.\n"
      "# TYPE warren_b_total counter\n"
      "warren_b_total{dir=\"in\",node=\"n1\"} 3\n"
      "warren_b_total{dir=\"out\",node=\"n2\"} 5\n";
  EXPECT_EQ(r.render(), want);
  EXPECT_EQ(r.render(), want);  // stable across scrapes
}

TEST(Registry, ReRegistrationAndErrors) {
  Registry r;
  auto a = r.counter("x_total", "X.", {"l"});
  auto again = r.counter("x_total", "X.", {"l"});
  ASSERT_TRUE(a && again);
  EXPECT_EQ(*a, *again);
  auto other_labels = r.counter("x_total", "X.", {"m"});
  ASSERT_FALSE(other_labels);
  EXPECT_EQ(other_labels.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_FALSE(r.gauge("x_total", "X.", {"l"}));
  EXPECT_FALSE(r.counter("bad-name", "."));
  EXPECT_FALSE(r.counter("ok_total", ".", {"__reserved"}));
  EXPECT_FALSE(r.counter("ok_total", ".", {"dup", "dup"}));
  EXPECT_FALSE(r.histogram("h", ".", {"le"}, {1}));
  EXPECT_FALSE(r.histogram("h", ".", {}, {1, std::numeric_limits<double>::infinity()}));
  auto wrong_arity = (*a)->withLabels({"1", "2"});
  ASSERT_FALSE(wrong_arity);
  EXPECT_NE(wrong_arity.error().message().find("x_total"), std::string::npos);
}

TEST(Registry, HistogramExposition) {
  Registry r;
  auto h = r.histogram("warren_duration_seconds", "D.", {"op"}, {0.1, 1, 0.5});
  ASSERT_TRUE(h);
  Histogram* hist = *(*h)->withLabels({"dial"});
  for (double v : {0.05, 0.1, 0.3, 2.0}) hist->observe(v);
  EXPECT_EQ(r.render(),
            "# HELP warren_duration_seconds D.\n"
            "# TYPE warren_duration_seconds histogram\n"
            "warren_duration_seconds_bucket{op=\"dial\",le=\"0.1\"} 2\n"
            "warren_duration_seconds_bucket{op=\"dial\",le=\"0.5\"} 3\n"
            "warren_duration_seconds_bucket{op=\"dial\",le=\"1\"} 3\n"
            "warren_duration_seconds_bucket{op=\"dial\",le=\"+Inf\"} 4\n"
            "warren_duration_seconds_sum{op=\"dial\"} 2.45\n"
            "warren_duration_seconds_count{op=\"dial\"} 4\n");
}

TEST(Registry, CollectorsMergeSortedAndNeverShadowRegistered) {
  Registry r;
  ASSERT_TRUE(r.gauge("m_registered", "R."));
  r.addCollector([] {
    return std::vector<FamilySnapshot>{
        {"z_collected", "Z.", MetricType::kGauge, {{"", {}, 1}}},
        {"m_registered", "Shadow.", MetricType::kGauge, {{"", {}, 99}}},
        {"a_collected", "A.", MetricType::kGauge, {{"", {}, 2}}},
        {"bad name", "Invalid.", MetricType::kGauge, {{"", {}, 3}}},
    };
  });
  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[0].name, "a_collected");
  EXPECT_EQ(snap[1].name, "m_registered");
  EXPECT_EQ(snap[1].help, "R.");
  EXPECT_EQ(snap[2].name, "z_collected");
}

TEST(Counter, ConcurrentIncrementsAreExact) {
  Registry r;
  Counter* c = *(*r.counter("c_total", "C."))->withLabels({});
  constexpr int kThreads = 8, kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([c] {
      for (int i = 0; i < kPerThread; ++i) c->inc();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), static_cast<uint64_t>(kThreads) * kPerThread);
}

TEST(Counter, ShardsAreCacheLineSized) {
  static_assert(sizeof(Counter) == kCounterShards * 64);
  EXPECT_LT(threadShard(), kCounterShards);
}

}  // namespace
}  // namespace warren::metrics
