// DestinationControl: Istio DestinationRule `trafficPolicy` at the waypoint, per backend
// Service, shared by every worker (as Envoy's outlier detection and circuit breakers are the
// cluster's, not a worker's):
//
//   outlierDetection   one OutlierDetector per Service with a rule (waypoint/resilience): each
//                      attempt's end reported (report), the ejected endpoints skipped by the
//                      least-request picker (excluded); every endpoint ejected -> the picker
//                      finds none -> 503 UH "no healthy upstream"
//   http2MaxRequests   RequestLimits: an attempt takes a place when its endpoint is chosen and
//                      gives it back when it ends; over the limit -> 503 UO (Envoy's
//                      upstream_rq_pending_overflow, details
//                      upstream_reset_before_response_started{overflow})
//   maxConnections     RequestLimits: HTTP/1.1 upstream connections open to the Service (busy
//                      or kept alive); at the limit a request that finds no idle connection
//                      waits for one of its worker's connections to that endpoint (Upstreams),
//                      counted as a connection overflow (Envoy's upstream_cx_overflow)
//   http1MaxPending... RequestLimits: requests waiting so; one more is answered 503 UO
//                      (Envoy's upstream_rq_pending_overflow)
//
// The settings are the current PolicyConfig's (a push changes them; a detector keeps its
// ejections across pushes and goes when its Service's rule does). Counted on :15020:
//   warren_waypoint_outlier_detection_ejections_total{destination_service, policy}
//   warren_waypoint_upstream_rq_pending_overflow_total{destination_service, policy}
//   warren_waypoint_upstream_cx_overflow_total{destination_service, policy}
// and shown in the admin's /clusters (each endpoint's ejection state; requests active,
// connections open, requests waiting).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/proxy/policy_config.h"
#include "waypoint/resilience/outlier_detector.h"
#include "waypoint/resilience/request_limits.h"

namespace warren::waypoint {

class DestinationControl {
 public:
  using Policies = std::function<std::shared_ptr<const PolicyConfig>()>;
  using Clock = std::function<OutlierDetector::Clock::time_point()>;

  static Result<std::unique_ptr<DestinationControl>> create(metrics::Registry& registry,
                                                            Policies policies, Clock clock = {});

  // The endpoints (uids) of `service` the picker skips now; `hosts`: its endpoints. Empty when
  // the Service has no outlier detection.
  std::set<std::string> excluded(const ServiceKey& service, size_t hosts);
  // A place for one attempt to `service` under its http2MaxRequests; false: over the limit
  // (counted). A true is paired with endRequest.
  bool beginRequest(const ServiceKey& service);
  void endRequest(const ServiceKey& service);
  // One more HTTP/1.1 upstream connection to `service` under its tcp.maxConnections: true when
  // it may open (counted; paired with endConnection), false at the limit (a connection
  // overflow, counted). `anyway`: it opens whatever the limit (its worker has no connection to
  // the endpoint, so a request waiting there would wait for nothing), still counted as an
  // overflow when over it; always true then.
  bool beginConnection(const ServiceKey& service, bool anyway);
  void endConnection(const ServiceKey& service);
  // Whether `service` has a connection limit now (requests may have to wait).
  bool limitsConnections(const ServiceKey& service) const;
  // A place for a request waiting for a connection under http1MaxPendingRequests; false: the
  // queue is full (counted with the request overflows: 503 UO). A true is paired with
  // endPending.
  bool beginPending(const ServiceKey& service);
  void endPending(const ServiceKey& service);
  // An attempt to `endpoint_uid` of `service` ended with `outcome`; `hosts`: its endpoints.
  void report(const ServiceKey& service, const std::string& endpoint_uid, AttemptOutcome outcome,
              size_t hosts);

  uint64_t ejections() const;
  // Requests refused 503 UO: over http2MaxRequests, or with the pending queue full.
  uint64_t overflows() const { return requests_.overflows() + pending_.overflows(); }
  uint64_t connectionOverflows() const { return connections_.overflows(); }
  // /clusters "destinations": per Service with a rule, its settings' policy, the requests
  // active, connections open and requests waiting, each tracked endpoint's counts and ejection.
  nlohmann::json toJson();

 private:
  DestinationControl() = default;
  // The detector for `service` under `settings` (created, or its spec updated); null when the
  // Service has no outlier detection now (a detector left from an earlier rule is dropped).
  OutlierDetector* detector(const ServiceKey& service, const DestinationSettings* settings,
                            OutlierDetector::Clock::time_point now);
  void count(metrics::CounterFamily* family, const ServiceKey& service, const std::string& policy);

  Policies policies_;
  Clock clock_;
  const DestinationSettings* settingsOf(const ServiceKey& service,
                                       std::shared_ptr<const PolicyConfig>& cfg) const;
  // A place in `limits` under the settings' `max`; refused: a request overflow (UO), counted.
  bool tryBegin(RequestLimits& limits, uint32_t DestinationSettings::*max,
                const ServiceKey& service);

  RequestLimits requests_;     // http2MaxRequests
  RequestLimits connections_;  // tcp.maxConnections
  RequestLimits pending_;      // http1MaxPendingRequests
  mutable std::mutex mu_;  // detectors_
  std::map<ServiceKey, OutlierDetector> detectors_;
  metrics::CounterFamily* ejections_ = nullptr;
  metrics::CounterFamily* overflow_ = nullptr;
  metrics::CounterFamily* cx_overflow_ = nullptr;
};

// "ns/name" of a Service key (the RequestLimits key, the metrics' label).
inline std::string destinationName(const ServiceKey& s) { return s.namespace_ + "/" + s.name; }

}  // namespace warren::waypoint
