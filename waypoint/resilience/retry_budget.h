// RetryBudget: retries never exceed a share of the requests in flight, so a struggling backend
// is not buried under retries (issue 14, "retries honoring a budget"). Envoy's retry budget
// (cluster circuit breaker `retry_budget`): a retry may start while the retries in flight stay
// below max(min_concurrency, percent% of the active requests); its defaults are 20 % and 3, and
// Warren uses them. One budget per worker, like the least-request counts: no locks, and each
// worker bounds its own share. Gateway API GEP-3388 describes the same budget; HTTPRoute has no
// field for it yet, so the limits are the defaults above.
#pragma once

#include <cstdint>

namespace warren::waypoint {

class RetryBudget {
 public:
  struct Limits {
    double percent = 20.0;         // Envoy retry_budget.budget_percent default
    uint32_t min_concurrency = 3;  // Envoy retry_budget.min_retry_concurrency default
  };
  RetryBudget() = default;
  explicit RetryBudget(Limits limits) : limits_(limits) {}

  // A request was sent upstream / ended (however it ended).
  void requestStarted() { ++active_requests_; }
  void requestEnded();
  // Whether one more retry may start now.
  bool allowsRetry() const;
  // A request entered its retries (counted once per request until it ends).
  void retryStarted() { ++active_retries_; }
  void retryEnded();
  // A retry refused by the budget (for the admin's counters).
  void refused() { ++refused_; }

  uint32_t activeRequests() const { return active_requests_; }
  uint32_t activeRetries() const { return active_retries_; }
  uint64_t refusedCount() const { return refused_; }
  // The retries in flight allowed right now.
  uint32_t limit() const;

 private:
  Limits limits_;
  uint32_t active_requests_ = 0;
  uint32_t active_retries_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace warren::waypoint
