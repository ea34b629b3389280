// The waypoint's observability in two calls per request, so the proxy wires it in a few lines:
//
//   auto telemetry = RequestTelemetry::create(registry, options);  // once, at start-up
//   // when the request head has arrived (before forwarding):
//   telemetry->begin(record, upstream_headers, random);   // x-request-id, trace, headers
//   // when the request is over (response sent, or failed), exactly once:
//   telemetry->finish(record);                            // metrics, access log, span
//
// begin() reads and rewrites `upstream_headers` (the request as it will be forwarded) and sets
// record.request_id and record.trace; finish() reads only the record. Both are safe to call
// from several worker threads at once.
#pragma once

#include <memory>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "mesh/routing/random_source.h"
#include "waypoint/request/header_map.h"
#include "waypoint/telemetry/request_metrics.h"
#include "waypoint/telemetry/request_record.h"
#include "waypoint/telemetry/tracer.h"

namespace warren::waypoint {

struct RequestTelemetryOptions {
  // Where sampled spans go (the OtlpExporter); null: tracing off, and then trace headers pass
  // through untouched (a span id of a span nobody records would break the caller's trace).
  SpanSink* spans = nullptr;
  TracingConfig tracing;
  bool access_log = true;  // one "request complete" line per request on the access logger
};

class RequestTelemetry {
 public:
  static Result<std::unique_ptr<RequestTelemetry>> create(metrics::Registry& registry,
                                                          RequestTelemetryOptions options);

  void begin(RequestRecord& record, HeaderMap& upstream_headers, mesh::RandomSource& random) const;
  void finish(const RequestRecord& record);

 private:
  RequestTelemetry(std::unique_ptr<IstioRequestMetrics> metrics, RequestTelemetryOptions options)
      : metrics_(std::move(metrics)), options_(options) {}

  std::unique_ptr<IstioRequestMetrics> metrics_;
  RequestTelemetryOptions options_;
};

}  // namespace warren::waypoint
