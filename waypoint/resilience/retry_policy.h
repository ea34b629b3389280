// Retries of an HTTPRoute rule (Gateway API HTTPRouteRetry, GEP-1731), decided apart from the
// front end that acts on them (both, through proxy/forward_resilience.h). A request is
// tried again when its attempt failed in a way the policy names, the client has not seen any of
// the answer, its body can be sent again, the retry budget allows it and the request deadline
// leaves time for the back-off.
//
// What is retried, as Istio's translation of HTTPRouteRetry asks Envoy to (retry_on
// "connect-failure,refused-stream,unavailable,cancelled" plus the codes): a connection that
// could not be opened (UF), a connection closed or reset before the response head (UC), an
// attempt over its backendRequest timeout before the response head (UT), and a response whose
// status is in `codes`. A response whose head reached the client is never retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "waypoint/route/route_filters.h"
#include "waypoint/route/route_model.h"

namespace warren::waypoint {

struct RetryPolicy {
  // HTTPRouteRetry.attempts unset: Istio's default of 2 retries.
  static constexpr uint32_t kDefaultRetries = 2;
  // HTTPRouteRetry.backoff unset: Envoy's default base interval (25 ms); the ceiling is 10 times
  // the base, Envoy's default max_interval.
  static constexpr std::chrono::milliseconds kDefaultBackoff{25};
  static constexpr uint32_t kMaxBackoffFactor = 10;

  uint32_t retries = 0;  // tries after the first; 0: never retried
  std::vector<int> codes;
  std::chrono::milliseconds base_backoff = kDefaultBackoff;
  std::chrono::milliseconds max_backoff = kDefaultBackoff * kMaxBackoffFactor;

  // A rule without `retry` is not retried (HTTPRouteRetry is opt-in in Gateway API; Istio's mesh
  // default of 2 retries on 503 is deliberately not applied, see waypoint/README.md).
  static RetryPolicy from(const std::optional<RouteRetry>& retry);
  bool enabled() const { return retries > 0; }
  bool retriableStatus(int status) const;
};

// How one attempt ended.
enum class AttemptFailure {
  kConnectFailure,  // the connection (tunnel) to the endpoint could not be opened
  kReset,           // the endpoint closed or reset the connection before a response head
  kTimeout,         // backendRequest elapsed before a response head
  kStatus,          // a complete response head with `status`
};
struct AttemptResult {
  AttemptFailure failure = AttemptFailure::kConnectFailure;
  int status = 0;  // kStatus only
};
const char* toString(AttemptFailure f);

enum class RetryVerdict {
  kRetry,
  kNotRetriable,    // the policy does not name this failure (or there is no policy)
  kExhausted,       // every retry was used (Envoy's URX)
  kBodyTooLarge,    // the request body outgrew what is kept for replay
  kBudgetExceeded,  // the worker's retry budget is spent
  kNoTimeLeft,      // the back-off would end after the request deadline
};
const char* toString(RetryVerdict v);

struct RetryQuery {
  AttemptResult result;
  uint32_t retries_done = 0;
  bool body_replayable = true;
  bool budget_allows = true;
  std::optional<std::chrono::milliseconds> time_left;  // until timeouts.request; none: no limit
  std::chrono::milliseconds backoff{0};                // the wait before the next attempt
};

// Pure: whether the attempt described by `q` is tried again, else why not.
RetryVerdict decideRetry(const RetryPolicy& policy, const RetryQuery& q);

// The wait before retry number `retry_index` (0 = the first retry): exponential with jitter,
// uniform in [base, min(max, base * 2^(retry_index + 1))]. Never below the base: Gateway API
// says a request MUST NOT be retried before the configured backoff.
std::chrono::milliseconds retryBackoff(const RetryPolicy& policy, uint32_t retry_index,
                                       RouteRandom& random);

}  // namespace warren::waypoint
