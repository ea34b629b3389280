#include "common/metrics/counter.h"

namespace warren::metrics {

size_t threadShard() {
  static std::atomic<size_t> next{0};
  thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kCounterShards;
  return shard;
}

uint64_t Counter::value() const {
  uint64_t sum = 0;
  for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
  return sum;
}

}  // namespace warren::metrics
