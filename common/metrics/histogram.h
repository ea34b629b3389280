// A Prometheus histogram: fixed upper bounds, per-bucket counts, sum and count. Observations
// use relaxed atomics (one bucket add, one count add, one sum CAS); a scrape may see a count
// and sum from slightly different instants, which Prometheus tolerates.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace warren::metrics {

class Histogram {
 public:
  // `upper_bounds` must be sorted ascending and finite; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double v);

  const std::vector<double>& upperBounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf bucket (== count()).
  std::vector<uint64_t> cumulativeCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  // Prometheus client defaults, in seconds: from 5 ms to 10 s.
  static std::vector<double> defaultSecondsBuckets();
  // Powers of ten from 1 ms to 100 s: connection durations span all of these.
  static std::vector<double> durationSecondsBuckets();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

}  // namespace warren::metrics
