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
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

class IstioRequestMetrics {
 public:
  IstioRequestMetrics();
  // Registers the six families in `registry` (which must outlive this object).
  static Result<std::unique_ptr<IstioRequestMetrics>> create(metrics::Registry& registry);

  // Envoy's default histogram bounds (source/common/stats/histogram_impl.cc supportedBuckets).
  static const std::vector<double>& envoyDefaultBuckets();

  // Counts one finished request. Each thread keeps the label set it counted last and its
  // series: a connection's requests mostly share one (the same peers, Service, code and flags),
  // and comparing the record's fields with it costs less than building the 25 label values. Else
  // one map lookup under a mutex; a label set's series are found in the families once, the
  // first time it is seen (series are never removed, so kept pointers stay valid).
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
  // What decides a request's label values (requestTrafficLabels and the codes).
  struct LabelSource {
    metrics::WorkloadLabels source, destination;
    metrics::ServiceLabels service;
    RequestProtocol protocol = RequestProtocol::kHttp11;
    ResponseFlags flags;
    bool mtls = false;
    int response_code = 0;
    std::optional<int> grpc_status;
    bool matches(const RequestRecord& r) const;
    static LabelSource of(const RequestRecord& r);
  };
  struct LastSeries {
    uint64_t owner = 0;  // the IstioRequestMetrics's id_ (0: none yet)
    LabelSource labels;
    Series series;
  };
  Series seriesFor(const RequestRecord& record);

  const uint64_t id_;  // tells this object's entries in the per-thread cache from another's
  std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
};

}  // namespace warren::waypoint
