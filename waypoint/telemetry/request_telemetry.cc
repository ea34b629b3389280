#include "waypoint/telemetry/request_telemetry.h"

#include <spdlog/spdlog.h>

#include "waypoint/telemetry/request_access_log.h"

namespace warren::waypoint {

Result<std::unique_ptr<RequestTelemetry>> RequestTelemetry::create(
    metrics::Registry& registry, RequestTelemetryOptions options) {
  if (options.tracing.sampling_percent < 0 || options.tracing.sampling_percent > 100)
    return fail(Error::invalid("tracing sampling must be a percentage between 0 and 100"));
  auto m = IstioRequestMetrics::create(registry);
  if (!m) return fail(m.error());
  return std::unique_ptr<RequestTelemetry>(new RequestTelemetry(std::move(*m), options));
}

void RequestTelemetry::begin(RequestRecord& record, HeaderMap& upstream_headers,
                             mesh::RandomSource& random) const {
  record.request_id = ensureRequestId(upstream_headers, random);
  if (!options_.spans) return;
  RequestTrace trace = decideTrace(upstream_headers, options_.tracing, random);
  if (!trace.rejected.empty())
    spdlog::debug("request {}: trace headers refused, new trace {}: {}", record.request_id,
                  trace.trace_id.hex(), trace.rejected);
  injectTraceHeaders(upstream_headers, trace);
  record.trace = std::move(trace);
}

void RequestTelemetry::finish(const RequestRecord& record) {
  metrics_->record(record);
  if (options_.access_log) logRequestComplete(record);
  if (options_.spans && record.trace && record.trace->sampled)
    options_.spans->submit(buildServerSpan(record));
}

}  // namespace warren::waypoint
