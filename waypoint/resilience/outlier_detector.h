// OutlierDetector: which endpoints of one destination (a Service) the picker skips because they
// kept failing: Istio DestinationRule `trafficPolicy.outlierDetection`, carried out as Envoy's
// cluster outlier detection with `split_external_local_origin_errors` off (Istio's setting):
//
//   - each answer an endpoint gives is reported: a 5xx adds one to its consecutive 5xx count,
//     and 502 / 503 / 504 also to its consecutive gateway count; a failure of the waypoint's
//     own making (connect failure, reset before an answer, timeout) counts as Envoy maps it, a
//     503 or 504: both counts. Any other answer sets both counts to 0.
//   - a count reaching its threshold (`consecutive_5xx` / `consecutive_gateway`; 0 = off) ejects
//     the endpoint at once, for base_ejection x (times ejected), at most max(max_ejection,
//     base_ejection) (Envoy's max_ejection_time, 300 s by default; Istio has no field for it);
//   - unless that would eject more than max_ejection_percent of the destination's endpoints,
//     except the first ejection, which always happens (Envoy: "will eject at least one host
//     regardless of the value"); a refused ejection is tried again at the next failure;
//   - every `interval` (a sweep, at multiples of `interval` since the detector began) an
//     endpoint whose ejection time has passed returns, its counts at 0; an endpoint that is in
//     service has its times-ejected lowered by one per sweep (Envoy's back-off decay);
//   - when fewer than min_health_percent of the endpoints are left in service, none is skipped
//     (Envoy's healthy panic threshold, which Istio's minHealthPercent sets).
//
// Pure and single-threaded: time comes in as arguments (tests step it), endpoints are opaque
// keys (the waypoint uses workload uids); the caller locks when workers share it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace warren::waypoint {

struct OutlierSpec {
  // Istio's defaults (OutlierDetection: consecutive5xxErrors 5, consecutiveGatewayErrors off,
  // interval 10 s, baseEjectionTime 30 s, maxEjectionPercent 10, minHealthPercent 0).
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway = 0;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds base_ejection{30000};
  std::chrono::milliseconds max_ejection{300000};  // Envoy max_ejection_time default
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;
  friend bool operator==(const OutlierSpec&, const OutlierSpec&) = default;
};

// What one attempt to an endpoint ended with.
struct AttemptOutcome {
  enum class Kind { kAnswered, kConnectFailure, kReset, kTimeout };
  Kind kind = Kind::kAnswered;
  int status = 0;  // kAnswered: the response status
  static AttemptOutcome answered(int status) { return {Kind::kAnswered, status}; }
  // Whether it counts toward consecutive 5xx / consecutive gateway errors.
  bool is5xx() const;
  bool isGatewayError() const;
};

class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;
  // Endpoints tracked at most (a destination's pods); reports about more are ignored, so a
  // destination with churning endpoints cannot grow it without bound.
  static constexpr size_t kMaxEndpoints = 4096;

  enum class Verdict { kNone, kEjected, kEjectionRefused };

  OutlierDetector(OutlierSpec spec, Clock::time_point now) : spec_(spec), origin_(now) {}

  // A new spec (a DestinationRule push): ejections and counts are kept; a new interval counts
  // its sweeps from the last one done.
  void setSpec(const OutlierSpec& spec);
  const OutlierSpec& spec() const { return spec_; }

  // `endpoint` ended an attempt with `outcome`; `hosts`: the destination's endpoints now.
  Verdict report(const std::string& endpoint, AttemptOutcome outcome, size_t hosts,
                 Clock::time_point now);
  // The endpoints to skip now, out of `hosts` endpoints (none under min_health_percent).
  std::set<std::string> excluded(size_t hosts, Clock::time_point now);
  bool ejected(const std::string& endpoint, Clock::time_point now);
  // Ejections so far (every one, also of endpoints since returned).
  uint64_t ejections() const { return ejections_; }

  struct EndpointState {
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_gateway = 0;
    uint32_t times_ejected = 0;  // the multiplier of base_ejection (decays while in service)
    std::optional<Clock::time_point> ejected_until;
    uint64_t ejections = 0;  // how often it was ejected
  };
  // The state of every endpoint tracked, after a sweep at `now`.
  const std::map<std::string, EndpointState>& endpoints(Clock::time_point now);

 private:
  // Runs the sweeps due by `now` (arithmetically: a long quiet spell costs one pass).
  void sweep(Clock::time_point now);
  size_t ejectedCount() const;
  std::chrono::milliseconds ejectionTime(uint32_t times_ejected) const;

  OutlierSpec spec_;
  Clock::time_point origin_;
  uint64_t sweeps_done_ = 0;  // sweeps at origin_ + k * interval, k <= sweeps_done_, are done
  std::map<std::string, EndpointState> endpoints_;
  uint64_t ejections_ = 0;
};

}  // namespace warren::waypoint
