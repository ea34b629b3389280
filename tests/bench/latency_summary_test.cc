#include "bench/tools/latency_summary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace warren::bench {
namespace {

TEST(NearestRankPercentile, Table) {
  std::vector<uint64_t> ten(10);
  std::iota(ten.begin(), ten.end(), 1);  // 1..10
  struct Case {
    double p;
    uint64_t want;
  } cases[] = {{0, 1},   {10, 1},   {10.01, 2}, {50, 5},  {90, 9},
               {99, 10}, {100, 10}, {-5, 1},    {150, 10}};
  for (const auto& c : cases) EXPECT_EQ(nearestRankPercentile(ten, c.p), c.want) << "p=" << c.p;
  EXPECT_EQ(nearestRankPercentile({}, 50), 0u);
  EXPECT_EQ(nearestRankPercentile({7}, 99), 7u);
}

TEST(SummarizeLatencies, UnsortedInputIsSortedAndReportedInMicroseconds) {
  std::vector<uint64_t> ns(1000);
  std::iota(ns.begin(), ns.end(), 1);
  for (auto& v : ns) v *= 1000;  // 1..1000 µs
  std::shuffle(ns.begin(), ns.end(), std::mt19937(42));
  auto s = summarizeLatencies(ns);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_DOUBLE_EQ(s.min_us, 1);
  EXPECT_DOUBLE_EQ(s.max_us, 1000);
  EXPECT_DOUBLE_EQ(s.p50_us, 500);
  EXPECT_DOUBLE_EQ(s.p90_us, 900);
  EXPECT_DOUBLE_EQ(s.p99_us, 990);
  EXPECT_DOUBLE_EQ(s.p999_us, 999);
  EXPECT_DOUBLE_EQ(s.mean_us, 500.5);
}

TEST(SummarizeLatencies, EmptyIsAllZero) {
  auto s = summarizeLatencies({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99_us, 0);
}

TEST(SummarizeLatencies, OneOutlierMovesOnlyTheTail) {
  std::vector<uint64_t> ns(100, 10'000);
  ns[37] = 5'000'000;
  auto s = summarizeLatencies(ns);
  EXPECT_DOUBLE_EQ(s.p50_us, 10);
  EXPECT_DOUBLE_EQ(s.p99_us, 10);
  EXPECT_DOUBLE_EQ(s.max_us, 5000);
}

}  // namespace
}  // namespace warren::bench
