#include "waypoint/resilience/retry_policy.h"

#include <algorithm>

namespace warren::waypoint {

RetryPolicy RetryPolicy::from(const std::optional<RouteRetry>& retry) {
  RetryPolicy p;
  if (!retry) return p;
  p.retries = retry->attempts.value_or(kDefaultRetries);
  p.codes = retry->codes;
  if (retry->backoff && retry->backoff->count() > 0) {
    p.base_backoff = *retry->backoff;
    p.max_backoff = *retry->backoff * kMaxBackoffFactor;
  } else if (retry->backoff) {
    p.base_backoff = p.max_backoff = std::chrono::milliseconds(0);  // "0s": no wait
  }
  return p;
}

bool RetryPolicy::retriableStatus(int status) const {
  return std::find(codes.begin(), codes.end(), status) != codes.end();
}

const char* toString(AttemptFailure f) {
  switch (f) {
    case AttemptFailure::kConnectFailure:
      return "connect-failure";
    case AttemptFailure::kReset:
      return "reset";
    case AttemptFailure::kTimeout:
      return "per-try-timeout";
    case AttemptFailure::kStatus:
      return "retriable-status-code";
  }
  return "?";
}

const char* toString(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::kRetry:
      return "retry";
    case RetryVerdict::kNotRetriable:
      return "not_retriable";
    case RetryVerdict::kExhausted:
      return "retries_exhausted";
    case RetryVerdict::kBodyTooLarge:
      return "body_too_large_to_retry";
    case RetryVerdict::kBudgetExceeded:
      return "retry_budget_exceeded";
    case RetryVerdict::kNoTimeLeft:
      return "no_time_left_to_retry";
  }
  return "?";
}

RetryVerdict decideRetry(const RetryPolicy& policy, const RetryQuery& q) {
  if (!policy.enabled()) return RetryVerdict::kNotRetriable;
  if (q.result.failure == AttemptFailure::kStatus && !policy.retriableStatus(q.result.status))
    return RetryVerdict::kNotRetriable;
  if (q.retries_done >= policy.retries) return RetryVerdict::kExhausted;
  if (!q.body_replayable) return RetryVerdict::kBodyTooLarge;
  if (q.time_left && *q.time_left <= q.backoff) return RetryVerdict::kNoTimeLeft;
  if (!q.budget_allows) return RetryVerdict::kBudgetExceeded;
  return RetryVerdict::kRetry;
}

std::chrono::milliseconds retryBackoff(const RetryPolicy& policy, uint32_t retry_index,
                                       RouteRandom& random) {
  using std::chrono::milliseconds;
  const int64_t base = policy.base_backoff.count();
  if (base <= 0) return milliseconds(0);
  const int64_t cap = std::max(policy.max_backoff.count(), base);
  int64_t ceiling = base;
  for (uint32_t i = 0; i <= retry_index && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  return milliseconds(
      base + static_cast<int64_t>(random.below(static_cast<uint64_t>(ceiling - base) + 1)));
}

}  // namespace warren::waypoint
