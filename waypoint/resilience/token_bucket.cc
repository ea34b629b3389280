#include "waypoint/resilience/token_bucket.h"

#include <algorithm>

namespace warren::waypoint {

TokenBucket::TokenBucket(TokenBucketSpec spec, Clock::time_point now)
    : spec_(spec), tokens_(spec.max_tokens), last_fill_(now) {
  if (spec_.fill_interval.count() <= 0) spec_.fill_interval = std::chrono::seconds(1);
}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_fill_) return;  // a clock read by another thread a moment earlier
  const auto fills = static_cast<uint64_t>((now - last_fill_) / spec_.fill_interval);
  if (fills == 0) return;
  last_fill_ += spec_.fill_interval * static_cast<int64_t>(fills);
  if (tokens_ >= spec_.max_tokens) return;
  // fills * tokens_per_fill may be huge after a long idle time: saturate at max_tokens.
  const uint64_t room = spec_.max_tokens - tokens_;
  const uint64_t per_fill = std::max<uint32_t>(spec_.tokens_per_fill, 1);
  tokens_ =
      fills >= (room + per_fill - 1) / per_fill ? spec_.max_tokens : tokens_ + fills * per_fill;
}

bool TokenBucket::tryTake(Clock::time_point now) {
  refill(now);
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

uint32_t TokenBucket::tokens(Clock::time_point now) {
  refill(now);
  return static_cast<uint32_t>(tokens_);
}

}  // namespace warren::waypoint
