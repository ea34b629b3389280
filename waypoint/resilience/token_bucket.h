// TokenBucket: Envoy's local rate limit bucket (envoy.filters.http.local_ratelimit
// `token_bucket`): it starts full with max_tokens, gains tokens_per_fill at every whole
// fill_interval (never above max_tokens), and each request takes one token or is refused. Fills
// are discrete, as Envoy's timer-driven fills are: 10 tokens per 1 s is a burst of 10 then 10
// more each second, not one every 100 ms. Time is passed in (no clock inside), so tables can
// step it.
#pragma once

#include <chrono>
#include <cstdint>

namespace warren::waypoint {

struct TokenBucketSpec {
  uint32_t max_tokens = 1;                                          // >= 1
  uint32_t tokens_per_fill = 1;                                     // >= 1
  std::chrono::nanoseconds fill_interval{std::chrono::seconds(1)};  // > 0
  friend bool operator==(const TokenBucketSpec&, const TokenBucketSpec&) = default;
};

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(TokenBucketSpec spec, Clock::time_point now);

  // Takes one token if there is one at `now` (after the fills due by then).
  bool tryTake(Clock::time_point now);
  // The tokens held at `now` (fills applied); for tests and /stats.
  uint32_t tokens(Clock::time_point now);
  // Whether it is full at `now`: then it is the same as a new bucket.
  bool full(Clock::time_point now) { return tokens(now) == spec_.max_tokens; }
  const TokenBucketSpec& spec() const { return spec_; }

 private:
  void refill(Clock::time_point now);

  TokenBucketSpec spec_;
  uint64_t tokens_;
  Clock::time_point last_fill_;
};

}  // namespace warren::waypoint
