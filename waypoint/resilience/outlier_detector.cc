#include "waypoint/resilience/outlier_detector.h"

#include <algorithm>

namespace warren::waypoint {

bool AttemptOutcome::is5xx() const {
  // Envoy (split_external_local_origin_errors off) maps its own failures to 503 / 504.
  if (kind != Kind::kAnswered) return true;
  return status >= 500 && status <= 599;
}

bool AttemptOutcome::isGatewayError() const {
  if (kind != Kind::kAnswered) return true;
  return status == 502 || status == 503 || status == 504;
}

std::chrono::milliseconds OutlierDetector::ejectionTime(uint32_t times_ejected) const {
  const auto cap = std::max(spec_.max_ejection, spec_.base_ejection);
  // Checked before multiplying: base x a large count must not overflow past the cap.
  if (spec_.base_ejection.count() > 0 && times_ejected > cap / spec_.base_ejection) return cap;
  return std::min(spec_.base_ejection * times_ejected, cap);
}

void OutlierDetector::setSpec(const OutlierSpec& spec) {
  if (spec.interval != spec_.interval) {
    origin_ += std::max(spec_.interval, std::chrono::milliseconds(1)) *
               static_cast<int64_t>(sweeps_done_);
    sweeps_done_ = 0;
  }
  spec_ = spec;
}

size_t OutlierDetector::ejectedCount() const {
  return static_cast<size_t>(std::count_if(endpoints_.begin(), endpoints_.end(),
                                           [](const auto& e) { return e.second.ejected_until; }));
}

void OutlierDetector::sweep(Clock::time_point now) {
  const Clock::duration interval =
      std::max<Clock::duration>(spec_.interval, std::chrono::milliseconds(1));
  if (now < origin_) return;
  const auto due = static_cast<uint64_t>((now - origin_) / interval);
  if (due <= sweeps_done_) return;
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    EndpointState& s = it->second;
    uint64_t in_service_sweeps = due - sweeps_done_;
    if (s.ejected_until) {
      // The first sweep at or after the ejection's end returns it.
      const Clock::duration left = *s.ejected_until - origin_;
      uint64_t back = left.count() <= 0 ? 0
                                        : static_cast<uint64_t>((left + interval - Clock::duration(1)) /
                                                                interval);
      back = std::max(back, sweeps_done_ + 1);
      if (back > due) {
        ++it;
        continue;
      }
      s.ejected_until.reset();
      s.consecutive_5xx = s.consecutive_gateway = 0;
      in_service_sweeps = due - back;
    }
    s.times_ejected -= static_cast<uint32_t>(std::min<uint64_t>(in_service_sweeps, s.times_ejected));
    // Nothing left to remember: forgotten (the map holds only endpoints with a history).
    if (s.times_ejected == 0 && s.consecutive_5xx == 0 && s.consecutive_gateway == 0) {
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
  sweeps_done_ = due;
}

OutlierDetector::Verdict OutlierDetector::report(const std::string& endpoint,
                                                 AttemptOutcome outcome, size_t hosts,
                                                 Clock::time_point now) {
  sweep(now);
  const bool counts_5xx = outcome.is5xx();
  const bool counts_gateway = outcome.isGatewayError();
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    if ((!counts_5xx && !counts_gateway) || endpoints_.size() >= kMaxEndpoints)
      return Verdict::kNone;
    it = endpoints_.emplace(endpoint, EndpointState{}).first;
  }
  EndpointState& s = it->second;
  if (s.ejected_until) return Verdict::kNone;  // an answer begun before it was ejected
  if (!counts_5xx && !counts_gateway) {
    s.consecutive_5xx = s.consecutive_gateway = 0;
    return Verdict::kNone;
  }
  if (counts_5xx) ++s.consecutive_5xx;
  if (counts_gateway) ++s.consecutive_gateway;
  const bool trips =
      (spec_.consecutive_5xx > 0 && s.consecutive_5xx >= spec_.consecutive_5xx) ||
      (spec_.consecutive_gateway > 0 && s.consecutive_gateway >= spec_.consecutive_gateway);
  if (!trips) return Verdict::kNone;
  const size_t ejected = ejectedCount();
  hosts = std::max(hosts, ejected + 1);
  // The first ejection always happens (Envoy); others only within max_ejection_percent.
  if (ejected > 0 && 100 * (ejected + 1) > static_cast<size_t>(spec_.max_ejection_percent) * hosts)
    return Verdict::kEjectionRefused;
  ++s.times_ejected;
  ++s.ejections;
  ++ejections_;
  s.ejected_until = now + ejectionTime(s.times_ejected);
  s.consecutive_5xx = s.consecutive_gateway = 0;
  return Verdict::kEjected;
}

std::set<std::string> OutlierDetector::excluded(size_t hosts, Clock::time_point now) {
  sweep(now);
  std::set<std::string> out;
  for (const auto& [key, s] : endpoints_)
    if (s.ejected_until) out.insert(key);
  if (spec_.min_health_percent > 0 && hosts > 0) {
    const size_t in_service = hosts - std::min(out.size(), hosts);
    // Too few left: every endpoint takes traffic again (Envoy's panic mode).
    if (100 * in_service < static_cast<size_t>(spec_.min_health_percent) * hosts) out.clear();
  }
  return out;
}

bool OutlierDetector::ejected(const std::string& endpoint, Clock::time_point now) {
  sweep(now);
  auto it = endpoints_.find(endpoint);
  return it != endpoints_.end() && it->second.ejected_until.has_value();
}

const std::map<std::string, OutlierDetector::EndpointState>& OutlierDetector::endpoints(
    Clock::time_point now) {
  sweep(now);
  return endpoints_;
}

}  // namespace warren::waypoint
