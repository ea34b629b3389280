// Monotonic counter and gauge values. Counter increments are the hot path (bytes copied per
// read on every ztunnel worker), so a counter is sharded across cache lines: each thread adds
// to its own shard with a relaxed atomic add and never contends with another core; a scrape
// sums the shards. bench/micro/metrics_bench.cc measures the difference.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace warren::metrics {

// Shards per counter. 16 covers the worker count of the machines we target (one worker per
// core) with few collisions; each shard is one 64-byte cache line, so a series costs 1 KiB.
inline constexpr size_t kCounterShards = 16;

// This thread's shard index (assigned round-robin the first time a thread asks).
size_t threadShard();

class Counter {
 public:
  void inc(uint64_t n = 1) { shards_[threadShard()].value.fetch_add(n, std::memory_order_relaxed); }
  // Sum of all shards; concurrent increments may or may not be included.
  uint64_t value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::array<Shard, kCounterShards> shards_{};
};

// A value that goes up and down (open connections, enrolled pods). Not sharded: gauges are set
// from control paths, and a sharded "set" has no meaning.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(double d) { add(-d); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

}  // namespace warren::metrics
