#include "waypoint/proxy/destination_policy.h"

#include <fmt/format.h>

namespace warren::waypoint {
namespace {

std::chrono::milliseconds msOf(const google::protobuf::Duration& d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos()));
}

}  // namespace

DestinationSettings destinationSettingsOf(const l7::v1::DestinationPolicy& p,
                                          std::vector<std::string>& diagnostics) {
  DestinationSettings s;
  s.policy = p.namespace_() + "/" + p.name();
  s.not_applied.assign(p.not_applied().begin(), p.not_applied().end());
  if (p.has_connection_pool()) {
    s.max_requests = p.connection_pool().max_requests();
    s.max_connections = p.connection_pool().max_connections();
    s.max_pending_requests = p.connection_pool().max_pending_requests();
  }
  if (!p.has_outlier_detection()) return s;
  const auto& od = p.outlier_detection();
  const std::string who = "DestinationRule " + s.policy + ": trafficPolicy.outlierDetection.";
  OutlierSpec spec;
  spec.consecutive_5xx = od.consecutive_5xx_errors();
  spec.consecutive_gateway = od.consecutive_gateway_errors();
  spec.interval = msOf(od.interval());
  spec.base_ejection = msOf(od.base_ejection_time());
  spec.max_ejection_percent = od.max_ejection_percent();
  spec.min_health_percent = od.min_health_percent();
  std::string bad;
  if (spec.interval.count() <= 0) bad = "interval: must be more than 0";
  if (spec.base_ejection.count() <= 0) bad = "baseEjectionTime: must be more than 0";
  if (spec.max_ejection_percent > 100) bad = "maxEjectionPercent: must be within 0..100";
  if (spec.min_health_percent > 100) bad = "minHealthPercent: must be within 0..100";
  if (!bad.empty()) {
    diagnostics.push_back(who + bad + " (outlier detection off for this Service)");
    return s;
  }
  s.outlier = spec;
  return s;
}

nlohmann::json destinationSettingsJson(const DestinationSettings& s) {
  nlohmann::json out = {{"policy", s.policy},
                        {"http2_max_requests", s.max_requests},
                        {"max_connections", s.max_connections},
                        {"http1_max_pending_requests", s.max_pending_requests},
                        {"not_applied", s.not_applied}};
  if (s.outlier) {
    const OutlierSpec& o = *s.outlier;
    out["outlier_detection"] = {{"consecutive_5xx_errors", o.consecutive_5xx},
                                {"consecutive_gateway_errors", o.consecutive_gateway},
                                {"interval_ms", o.interval.count()},
                                {"base_ejection_time_ms", o.base_ejection.count()},
                                {"max_ejection_time_ms", o.max_ejection.count()},
                                {"max_ejection_percent", o.max_ejection_percent},
                                {"min_health_percent", o.min_health_percent}};
  }
  return out;
}

}  // namespace warren::waypoint
