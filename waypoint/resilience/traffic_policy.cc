#include "waypoint/resilience/traffic_policy.h"

#include <cmath>

namespace warren::waypoint {

uint32_t percentToPerMillion(double percent) {
  if (!(percent > 0)) return 0;  // NaN too
  if (percent >= 100) return kPerMillion;
  return static_cast<uint32_t>(std::llround(percent * 10000.0));
}

FaultDecision decideFault(const FaultRule& rule, RouteRandom& random) {
  FaultDecision d;
  auto fires = [&](uint32_t per_million) {
    if (per_million == 0) return false;
    if (per_million >= kPerMillion) return true;
    return random.below(kPerMillion) < per_million;
  };
  if (rule.delay && rule.delay->fixed_delay.count() > 0 && fires(rule.delay->per_million))
    d.delay = rule.delay->fixed_delay;
  if (rule.abort && fires(rule.abort->per_million)) d.abort_status = rule.abort->http_status;
  return d;
}

std::string rateLimitKey(const TrafficRule& rule, const std::string& route_name,
                         const std::string& source_principal) {
  std::string key = rule.policy + "|" + rule.target;
  if (!rule.rate_limit) return key;
  switch (rule.rate_limit->per) {
    case RateLimitRule::BucketPer::kRoute:
      return key + "|" + route_name;
    case RateLimitRule::BucketPer::kSourcePrincipal:
      return key + "|" + source_principal;
    case RateLimitRule::BucketPer::kTarget:
      break;
  }
  return key;
}

}  // namespace warren::waypoint
