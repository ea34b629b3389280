#include "bench/tools/latency_summary.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace warren::bench {

uint64_t nearestRankPercentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // Rank ceil(p/100 * n), 1-based; p = 0 is the minimum.
  // The epsilon keeps binary rounding (99.9 / 100 * 1000 = 999.0000000000001) from moving
  // an exact rank up by one.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size()) / 100.0 - 1e-9));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

LatencySummary summarizeLatencies(std::vector<uint64_t> samples_ns) {
  LatencySummary s;
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  s.count = samples_ns.size();
  s.min_us = us(samples_ns.front());
  s.max_us = us(samples_ns.back());
  long double total =
      std::accumulate(samples_ns.begin(), samples_ns.end(), static_cast<long double>(0));
  s.mean_us = static_cast<double>(total / static_cast<long double>(samples_ns.size())) / 1000.0;
  s.p50_us = us(nearestRankPercentile(samples_ns, 50));
  s.p90_us = us(nearestRankPercentile(samples_ns, 90));
  s.p99_us = us(nearestRankPercentile(samples_ns, 99));
  s.p999_us = us(nearestRankPercentile(samples_ns, 99.9));
  return s;
}

}  // namespace warren::bench
