#include "waypoint/proxy/destination_control.h"

#include <spdlog/spdlog.h>

namespace warren::waypoint {

Result<std::unique_ptr<DestinationControl>> DestinationControl::create(metrics::Registry& registry,
                                                                       Policies policies,
                                                                       Clock clock) {
  std::unique_ptr<DestinationControl> d(new DestinationControl());
  d->policies_ = std::move(policies);
  d->clock_ = std::move(clock);
  if (!d->clock_) d->clock_ = [] { return OutlierDetector::Clock::now(); };
  auto ejections = registry.counter(
      "warren_waypoint_outlier_detection_ejections_total",
      "Endpoints ejected by DestinationRule outlierDetection at the waypoint (Envoy "
      "outlier_detection.ejections_enforced_total), by destination Service and rule",
      {"destination_service", "policy"});
  if (!ejections) return fail(ejections.error());
  auto overflow = registry.counter(
      "warren_waypoint_upstream_rq_pending_overflow_total",
      "Requests answered 503 UO because DestinationRule connectionPool limits were reached "
      "(Envoy upstream_rq_pending_overflow), by destination Service and rule",
      {"destination_service", "policy"});
  if (!overflow) return fail(overflow.error());
  auto cx_overflow = registry.counter(
      "warren_waypoint_upstream_cx_overflow_total",
      "Times DestinationRule connectionPool.tcp.maxConnections was reached: a request waited "
      "for a connection, or a worker opened its first one over it (Envoy upstream_cx_overflow), "
      "by destination Service and rule",
      {"destination_service", "policy"});
  if (!cx_overflow) return fail(cx_overflow.error());
  d->ejections_ = *ejections;
  d->overflow_ = *overflow;
  d->cx_overflow_ = *cx_overflow;
  return d;
}

void DestinationControl::count(metrics::CounterFamily* family, const ServiceKey& service,
                               const std::string& policy) {
  if (auto c = family->withLabels({destinationName(service), policy})) (*c)->inc();
}

OutlierDetector* DestinationControl::detector(const ServiceKey& service,
                                              const DestinationSettings* settings,
                                              OutlierDetector::Clock::time_point now) {
  auto it = detectors_.find(service);
  if (!settings || !settings->outlier) {
    if (it != detectors_.end()) detectors_.erase(it);
    return nullptr;
  }
  if (it == detectors_.end()) {
    it = detectors_.emplace(service, OutlierDetector(*settings->outlier, now)).first;
  } else if (!(it->second.spec() == *settings->outlier)) {
    it->second.setSpec(*settings->outlier);
  }
  return &it->second;
}

std::set<std::string> DestinationControl::excluded(const ServiceKey& service, size_t hosts) {
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  const DestinationSettings* settings = cfg ? cfg->destination(service) : nullptr;
  std::lock_guard lock(mu_);
  if (!settings && detectors_.empty()) return {};
  const auto now = clock_();
  OutlierDetector* d = detector(service, settings, now);
  return d ? d->excluded(hosts, now) : std::set<std::string>{};
}

const DestinationSettings* DestinationControl::settingsOf(
    const ServiceKey& service, std::shared_ptr<const PolicyConfig>& cfg) const {
  cfg = policies_();
  return cfg ? cfg->destination(service) : nullptr;
}

bool DestinationControl::tryBegin(RequestLimits& limits, uint32_t DestinationSettings::*max,
                                  const ServiceKey& service) {
  std::shared_ptr<const PolicyConfig> cfg;
  const DestinationSettings* settings = settingsOf(service, cfg);
  if (limits.tryBegin(destinationName(service), settings ? settings->*max : 0)) return true;
  count(overflow_, service, settings->policy);  // a limit refused: there are settings
  return false;
}

bool DestinationControl::beginRequest(const ServiceKey& service) {
  return tryBegin(requests_, &DestinationSettings::max_requests, service);
}

void DestinationControl::endRequest(const ServiceKey& service) {
  requests_.end(destinationName(service));
}

bool DestinationControl::beginConnection(const ServiceKey& service, bool anyway) {
  std::shared_ptr<const PolicyConfig> cfg;
  const DestinationSettings* settings = settingsOf(service, cfg);
  const uint32_t max = settings ? settings->max_connections : 0;
  const std::string name = destinationName(service);
  if (!anyway) {
    if (connections_.tryBegin(name, max)) return true;
  } else {
    const uint64_t before = connections_.overflows();
    connections_.beginAnyway(name, max);
    if (connections_.overflows() == before) return true;
  }
  count(cx_overflow_, service, settings->policy);
  return anyway;
}

void DestinationControl::endConnection(const ServiceKey& service) {
  connections_.end(destinationName(service));
}

bool DestinationControl::limitsConnections(const ServiceKey& service) const {
  std::shared_ptr<const PolicyConfig> cfg;
  const DestinationSettings* settings = settingsOf(service, cfg);
  return settings && settings->max_connections > 0;
}

bool DestinationControl::beginPending(const ServiceKey& service) {
  return tryBegin(pending_, &DestinationSettings::max_pending_requests, service);
}

void DestinationControl::endPending(const ServiceKey& service) {
  pending_.end(destinationName(service));
}

void DestinationControl::report(const ServiceKey& service, const std::string& endpoint_uid,
                                AttemptOutcome outcome, size_t hosts) {
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  const DestinationSettings* settings = cfg ? cfg->destination(service) : nullptr;
  if (!settings || !settings->outlier) return;
  OutlierDetector::Verdict v;
  {
    std::lock_guard lock(mu_);
    OutlierDetector* d = detector(service, settings, clock_());
    if (!d) return;
    v = d->report(endpoint_uid, outcome, hosts, clock_());
  }
  if (v == OutlierDetector::Verdict::kEjected) {
    count(ejections_, service, settings->policy);
    spdlog::info("waypoint: outlier detection ejected endpoint {} of {} (DestinationRule {})",
                 endpoint_uid, destinationName(service), settings->policy);
  } else if (v == OutlierDetector::Verdict::kEjectionRefused) {
    spdlog::debug("waypoint: outlier detection: ejecting {} of {} would pass maxEjectionPercent",
                  endpoint_uid, destinationName(service));
  }
}

uint64_t DestinationControl::ejections() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& [key, d] : detectors_) n += d.ejections();
  return n;
}

nlohmann::json DestinationControl::toJson() {
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  const auto active = requests_.activeByDestination();
  const auto connections = connections_.activeByDestination();
  const auto waiting = pending_.activeByDestination();
  std::lock_guard lock(mu_);
  const auto now = clock_();
  nlohmann::json services = nlohmann::json::object();
  for (auto& [key, d] : detectors_) {
    const DestinationSettings* s = cfg ? cfg->destination(key) : nullptr;
    nlohmann::json eps = nlohmann::json::object();
    for (const auto& [uid, e] : d.endpoints(now)) {
      nlohmann::json j = {{"ejected", e.ejected_until.has_value()},
                          {"consecutive_5xx", e.consecutive_5xx},
                          {"consecutive_gateway_errors", e.consecutive_gateway},
                          {"times_ejected", e.times_ejected},
                          {"ejections", e.ejections}};
      if (e.ejected_until)
        j["ejected_for_ms"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(*e.ejected_until - now).count();
      eps[uid] = std::move(j);
    }
    services[destinationName(key)] = {{"policy", s ? s->policy : ""},
                                 {"ejections", d.ejections()},
                                 {"endpoints", std::move(eps)}};
  }
  for (const auto& [name, n] : active) services[name]["active_requests"] = n;
  for (const auto& [name, n] : connections) services[name]["connections"] = n;
  for (const auto& [name, n] : waiting) services[name]["pending_requests"] = n;
  return {{"services", std::move(services)},
          {"ejections", [&] {
             uint64_t n = 0;
             for (const auto& [key, d] : detectors_) n += d.ejections();
             return n;
           }()},
          {"overflows", overflows()},
          {"connection_overflows", connectionOverflows()}};
}

}  // namespace warren::waypoint
