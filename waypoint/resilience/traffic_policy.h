// The waypoint's TrafficPolicy values (warren.dev/v1alpha1, proto/warren/l7/v1/policy.proto)
// and the fault decision. Rate limit and fault injection are decided here, pure: the buckets in
// local_rate_limiter.h, the random draw injected.
//
// Fault injection has Istio VirtualService `fault` semantics (Envoy's fault filter): the delay
// is decided first, then the abort, each by its own draw against its percentage; a request can
// be both delayed and aborted (the abort answers after the delay). Percentages are kept in
// parts per million, as Envoy's FractionalPercent with denominator MILLION that Istio writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "waypoint/resilience/token_bucket.h"
#include "waypoint/route/route_filters.h"

namespace warren::waypoint {

inline constexpr uint32_t kPerMillion = 1000000;

// Istio's Percent (0..100, fractions allowed) as parts per million; outside 0..100 clamps.
uint32_t percentToPerMillion(double percent);

struct RateLimitRule {
  enum class BucketPer { kTarget, kRoute, kSourcePrincipal };
  TokenBucketSpec bucket;
  BucketPer per = BucketPer::kTarget;
};

struct FaultRule {
  struct Delay {
    std::chrono::milliseconds fixed_delay{0};
    uint32_t per_million = kPerMillion;
  };
  struct Abort {
    int http_status = 503;
    uint32_t per_million = kPerMillion;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
};

// One TrafficPolicy as it applies to one target.
struct TrafficRule {
  std::string policy;  // "ns/name"
  std::string target;  // "waypoint" or "Service ns/name": the bucket of BucketPer::kTarget
  std::optional<RateLimitRule> rate_limit;
  std::optional<FaultRule> fault;
};

struct FaultDecision {
  std::chrono::milliseconds delay{0};  // 0: not delayed
  std::optional<int> abort_status;     // set: answer this status instead of forwarding
  bool delayed() const { return delay.count() > 0; }
};

// Each of the rule's delay and abort fires when a draw in [0, 1000000) falls under its share.
FaultDecision decideFault(const FaultRule& rule, RouteRandom& random);

// The bucket key of a rate limit for one request: "<policy>|<target>" plus "|<route>" or
// "|<principal>" when the buckets are per route or per source principal.
std::string rateLimitKey(const TrafficRule& rule, const std::string& route_name,
                         const std::string& source_principal);

}  // namespace warren::waypoint
