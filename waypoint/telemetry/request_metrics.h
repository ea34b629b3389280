// Istio's HTTP metric family as the waypoint reports it (istio.io "Istio Standard Metrics";
// reporter="waypoint" as Istio ambient's waypoints), labels from common/metrics/istio_labels.h:
//   istio_requests_total                  counter    every request
//   istio_request_duration_milliseconds   histogram  first request byte to last response byte
//   istio_request_bytes                   histogram  request body bytes
//   istio_response_bytes                  histogram  response body bytes
//   istio_request_messages_total          counter    gRPC messages from the client (gRPC only)
//   istio_response_messages_total         counter    gRPC messages from the server (gRPC only)
// The histograms use Envoy's default buckets, which Istio's stats keep
// (0.5 ms/bytes ... 3,600,000).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

class IstioRequestMetrics {
 public:
  // Registers the six families in `registry` (which must outlive this object).
  static Result<std::unique_ptr<IstioRequestMetrics>> create(metrics::Registry& registry);

  // Envoy's default histogram bounds (source/common/stats/histogram_impl.cc supportedBuckets).
  static const std::vector<double>& envoyDefaultBuckets();

  // Counts one finished request. One map lookup under a mutex per request; the series of a
  // label set are found in the families once, the first time it is seen.
  void record(const RequestRecord& record);

 private:
  struct Series {
    metrics::Counter* requests = nullptr;
    metrics::Histogram* duration_ms = nullptr;
    metrics::Histogram* request_bytes = nullptr;
    metrics::Histogram* response_bytes = nullptr;
    metrics::Counter* request_messages = nullptr;  // gRPC series only
    metrics::Counter* response_messages = nullptr;
  };

  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* duration_ = nullptr;
  metrics::HistogramFamily* request_bytes_ = nullptr;
  metrics::HistogramFamily* response_bytes_ = nullptr;
  metrics::CounterFamily* request_messages_ = nullptr;
  metrics::CounterFamily* response_messages_ = nullptr;
  std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
};

}  // namespace warren::waypoint
