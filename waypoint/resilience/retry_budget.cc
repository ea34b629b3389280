#include "waypoint/resilience/retry_budget.h"

#include <algorithm>

namespace warren::waypoint {

void RetryBudget::requestEnded() {
  if (active_requests_ > 0) --active_requests_;
}

void RetryBudget::retryEnded() {
  if (active_retries_ > 0) --active_retries_;
}

uint32_t RetryBudget::limit() const {
  auto share =
      static_cast<uint32_t>(static_cast<double>(active_requests_) * limits_.percent / 100.0);
  return std::max(limits_.min_concurrency, share);
}

bool RetryBudget::allowsRetry() const { return active_retries_ < limit(); }

}  // namespace warren::waypoint
