#include "waypoint/proxy/traffic_control.h"

namespace warren::waypoint {

Result<std::unique_ptr<TrafficControl>> TrafficControl::create(metrics::Registry& registry,
                                                               Policies policies, Clock clock) {
  std::unique_ptr<TrafficControl> t(new TrafficControl());
  t->policies_ = std::move(policies);
  t->clock_ = std::move(clock);
  if (!t->clock_) t->clock_ = [] { return TokenBucket::Clock::now(); };
  auto rl = registry.counter(
      "warren_waypoint_rate_limit_total",
      "TrafficPolicy local rate limit decisions at the waypoint (Envoy local_ratelimit ok / "
      "rate_limited), by policy",
      {"policy", "decision"});
  if (!rl) return fail(rl.error());
  auto faults = registry.counter(
      "warren_waypoint_faults_injected_total",
      "TrafficPolicy faults injected at the waypoint (Envoy fault delays_injected / "
      "aborts_injected), by policy",
      {"policy", "fault"});
  if (!faults) return fail(faults.error());
  t->rate_limit_ = *rl;
  t->faults_ = *faults;
  return t;
}

void TrafficControl::count(metrics::CounterFamily* family, const std::string& policy,
                           const char* what) {
  if (auto c = family->withLabels({policy, what})) (*c)->inc();
}

TrafficVerdict TrafficControl::decide(const ServiceKey* service,
                                      const std::string& source_principal, RouteRandom& random,
                                      RequestRecord& record) {
  TrafficVerdict v;
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  if (!cfg) return v;
  const std::vector<TrafficRule>& rules = cfg->trafficRules(service);
  if (rules.empty()) return v;
  const auto now = clock_();
  for (const TrafficRule& rule : rules) {
    if (!rule.rate_limit) continue;
    const std::string key = rateLimitKey(rule, record.route_name, source_principal);
    const bool ok = limiter_.tryTake(key, rule.policy + "|" + rule.target + "|(overflow)",
                                     rule.rate_limit->bucket, now);
    count(rate_limit_, rule.policy, ok ? "ok" : "rate_limited");
    if (!ok) {
      record.response_flags.add(ResponseFlag::kRateLimited);
      record.response_code_details = "local_rate_limited";
      v.reply = LocalReply{429, {}, "local_rate_limited\n"};
      return v;
    }
  }
  for (const TrafficRule& rule : rules) {
    if (!rule.fault) continue;
    FaultDecision f = decideFault(*rule.fault, random);
    if (f.delayed()) {
      v.delay = f.delay;
      record.response_flags.add(ResponseFlag::kDelayInjected);
      count(faults_, rule.policy, "delay");
    }
    if (f.abort_status) {
      record.response_flags.add(ResponseFlag::kFaultInjected);
      record.response_code_details = "fault_filter_abort";
      v.reply = LocalReply{*f.abort_status, {}, "fault filter abort\n"};
      count(faults_, rule.policy, "abort");
    }
    break;  // the first rule with a fault decides it
  }
  return v;
}

}  // namespace warren::waypoint
