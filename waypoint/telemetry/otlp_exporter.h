// Exports the waypoint's spans to an OpenTelemetry collector over OTLP/HTTP: batches of spans
// as an ExportTraceServiceRequest protobuf (proto/opentelemetry/...) POSTed to `/v1/traces`
// with `Content-Type: application/x-protobuf`.
//
// submit() never blocks the request path: it appends to a bounded queue under a short lock
// (a full queue drops the span and counts it). One background thread sends a batch when
// `max_batch_spans` are queued or every `flush_interval`, retrying with exponential back-off on
// the answers OTLP calls retryable (429, 502, 503, 504) and on transport failures, up to
// `max_attempts`; any other answer drops the batch, counted. Defaults are the OpenTelemetry
// SDK's batch span processor and OTLP exporter defaults.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/telemetry/tracer.h"

namespace warren::waypoint {

// `http://host[:port][/path]`: the collector's origin and the path spans are POSTed to. The
// port defaults to 4318 (OTLP/HTTP), an empty path or `/` to `/v1/traces` (the OTLP base-URL
// convention, OTEL_EXPORTER_OTLP_ENDPOINT). https, userinfo, a query or fragment are refused
// with an error naming the part.
struct OtlpEndpoint {
  std::string origin;  // "http://collector.observability:4318"
  std::string path;    // "/v1/traces"
  static Result<OtlpEndpoint> parse(std::string_view url);
};

// What every exported batch says about where the spans come from.
struct OtlpResource {
  // Resource attributes; service.name first ("<waypoint>.<namespace>", as Istio names a
  // waypoint's spans' service).
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string scope_name = "warren-waypoint";
  std::string scope_version;
};

// One ExportTraceServiceRequest holding `spans` (pure; serialized protobuf bytes).
std::string encodeExportRequest(const OtlpResource& resource, const std::vector<SpanData>& spans);

struct OtlpExporterOptions {
  OtlpEndpoint endpoint;
  OtlpResource resource;
  size_t max_queue_spans = 2048;                    // OTel BSP maxQueueSize
  size_t max_batch_spans = 512;                     // OTel BSP maxExportBatchSize
  std::chrono::milliseconds flush_interval{5000};   // OTel BSP scheduleDelay
  std::chrono::milliseconds export_timeout{10000};  // OTLP exporter timeout, per request
  int max_attempts = 5;                             // first try included
  std::chrono::milliseconds initial_backoff{1000};  // doubled per retry, up to max_backoff
  std::chrono::milliseconds max_backoff{5000};
};

class OtlpExporter final : public SpanSink {
 public:
  // Registers warren_tracing_spans_total{outcome} and warren_tracing_export_requests_total
  // {result} in `registry` (which must outlive the exporter) and starts the sender thread.
  static Result<std::unique_ptr<OtlpExporter>> start(OtlpExporterOptions options,
                                                     metrics::Registry& registry);
  // Stops the thread after one last attempt (no retries) to send what is queued.
  ~OtlpExporter() override;
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  bool submit(SpanData span) override;

  struct Stats {
    uint64_t queued = 0;                 // spans waiting now
    uint64_t exported = 0;               // accepted by the collector
    uint64_t dropped_queue_full = 0;     // refused by submit
    uint64_t dropped_export_failed = 0;  // in a batch given up on
    uint64_t rejected = 0;               // partial_success.rejected_spans, summed
    uint64_t retries = 0;                // requests repeated after a retryable failure
  };
  Stats stats() const;

 private:
  explicit OtlpExporter(OtlpExporterOptions options);
  void run();
  // Sends one batch; `final` (shutting down): one attempt, no back-off.
  void send(std::vector<SpanData> batch, bool final);
  // Waits `d` unless stopping; false when stopping.
  bool sleepUnlessStopping(std::chrono::milliseconds d);

  OtlpExporterOptions options_;
  metrics::Counter* exported_ = nullptr;
  metrics::Counter* dropped_queue_full_ = nullptr;
  metrics::Counter* dropped_export_failed_ = nullptr;
  metrics::Counter* rejected_ = nullptr;
  metrics::Counter* requests_ok_ = nullptr;
  metrics::Counter* requests_retried_ = nullptr;
  metrics::Counter* requests_failed_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SpanData> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace warren::waypoint
