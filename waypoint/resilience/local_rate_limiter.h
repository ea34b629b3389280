// LocalRateLimiter: the waypoint's token buckets by key ("<policy>|<target>|<route or
// principal>"), shared by every worker of the waypoint as Envoy's local rate limit is shared by
// its workers (one mutex; a request takes it once per limit that applies). A bucket whose spec
// changed (a new TrafficPolicy push) starts again full; one untouched and full is the same as a
// new one, so at the bound (kMaxBuckets) full buckets are forgotten first, and when none is,
// new keys of that policy share one overflow bucket: memory stays bounded and the limit still
// holds (more strictly) whatever keys clients bring.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "waypoint/resilience/token_bucket.h"

namespace warren::waypoint {

class LocalRateLimiter {
 public:
  // Per waypoint; a source principal is an authenticated SPIFFE identity, so the keys in use
  // are bounded by the workloads that call, well under this in practice.
  static constexpr size_t kMaxBuckets = 10000;

  explicit LocalRateLimiter(size_t max_buckets = kMaxBuckets) : max_buckets_(max_buckets) {}

  // Takes a token from the bucket `key` (made full with `spec` when new or changed); false:
  // rate limited. `overflow_key` is the bucket used when the map is full.
  bool tryTake(const std::string& key, const std::string& overflow_key, const TokenBucketSpec& spec,
               TokenBucket::Clock::time_point now);
  size_t buckets() const;

 private:
  TokenBucket& bucket(const std::string& key, const TokenBucketSpec& spec,
                      TokenBucket::Clock::time_point now);

  const size_t max_buckets_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace warren::waypoint
