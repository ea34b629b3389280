#include "waypoint/resilience/local_rate_limiter.h"

#include <iterator>

namespace warren::waypoint {

TokenBucket& LocalRateLimiter::bucket(const std::string& key, const TokenBucketSpec& spec,
                                      TokenBucket::Clock::time_point now) {
  auto it = buckets_.find(key);
  if (it != buckets_.end()) {
    if (!(it->second.spec() == spec)) it->second = TokenBucket(spec, now);
    return it->second;
  }
  return buckets_.emplace(key, TokenBucket(spec, now)).first->second;
}

bool LocalRateLimiter::tryTake(const std::string& key, const std::string& overflow_key,
                               const TokenBucketSpec& spec, TokenBucket::Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!buckets_.contains(key) && buckets_.size() >= max_buckets_) {
    for (auto it = buckets_.begin(); it != buckets_.end();)
      it = it->second.full(now) ? buckets_.erase(it) : std::next(it);
    if (buckets_.size() >= max_buckets_) {
      // Still full: this key shares its policy's overflow bucket (kept even over the bound).
      return bucket(overflow_key, spec, now).tryTake(now);
    }
  }
  return bucket(key, spec, now).tryTake(now);
}

size_t LocalRateLimiter::buckets() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace warren::waypoint
