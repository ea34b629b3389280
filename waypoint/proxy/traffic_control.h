// TrafficControl: the TrafficPolicy step (warren.dev/v1alpha1; waypoint/README.md "Traffic
// policy") every front end takes once a request is routed to a backend, before an endpoint is
// chosen: in Envoy's filter order (local_ratelimit, then fault, then the router),
//
//   a local rate limit that applies has no token  -> 429 "local_rate_limited", flag RL,
//                                                    details local_rate_limited
//   else a fault: delay drawn                      -> wait fixedDelay first, flag DI
//                 abort drawn                      -> answer httpStatus "fault filter abort",
//                                                    flag FI, details fault_filter_abort
//   else                                           -> forwarded
//
// The rules are those of the current PolicyConfig for the Service addressed (its own, then the
// waypoint-wide ones); every rate limit that applies takes a token; the first rule with a
// fault decides it. The buckets are the waypoint's (every worker shares them, as Envoy's local
// rate limit does). Counted on :15020:
//   warren_waypoint_rate_limit_total{policy, decision}   decision = ok | rate_limited
//   warren_waypoint_faults_injected_total{policy, fault}  fault = delay | abort
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/proxy/policy_config.h"
#include "waypoint/proxy/request_admission.h"
#include "waypoint/resilience/local_rate_limiter.h"
#include "waypoint/route/route_filters.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

struct TrafficVerdict {
  std::chrono::milliseconds delay{0};  // wait this long first (0: no delay)
  std::optional<LocalReply> reply;     // then answer this instead of forwarding
};

class TrafficControl {
 public:
  using Policies = std::function<std::shared_ptr<const PolicyConfig>()>;
  using Clock = std::function<TokenBucket::Clock::time_point()>;

  static Result<std::unique_ptr<TrafficControl>> create(metrics::Registry& registry,
                                                        Policies policies, Clock clock = {});

  // `service`: the Service addressed (null: none); `source_principal`: the client's identity
  // ("" when none); the record gets the flags and details. Safe from every worker at once.
  TrafficVerdict decide(const ServiceKey* service, const std::string& source_principal,
                        RouteRandom& random, RequestRecord& record);

  size_t buckets() const { return limiter_.buckets(); }

 private:
  TrafficControl() = default;
  void count(metrics::CounterFamily* family, const std::string& policy, const char* what);

  Policies policies_;
  Clock clock_;
  LocalRateLimiter limiter_;
  metrics::CounterFamily* rate_limit_ = nullptr;
  metrics::CounterFamily* faults_ = nullptr;
};

}  // namespace warren::waypoint
