#pragma once
// Latency percentiles of one load run, in microseconds, from raw nanosecond samples.
#include <cstdint>
#include <vector>

namespace warren::bench {

struct LatencySummary {
  uint64_t count = 0;
  double min_us = 0, mean_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Nearest-rank percentile (p in [0,100]) of an ascending sample vector; 0 when empty. Nearest
// rank, not interpolation, so every reported figure is a latency that was actually observed.
uint64_t nearestRankPercentile(const std::vector<uint64_t>& sorted, double p);

// Sorts the samples (taken by value: callers hand over their buffer) and summarizes them.
LatencySummary summarizeLatencies(std::vector<uint64_t> samples_ns);

}  // namespace warren::bench
