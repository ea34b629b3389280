// Distributed tracing at the waypoint: one SERVER span per request, continuing the caller's
// trace (W3C traceparent/tracestate, B3 single or multi headers) or starting one, with the
// sampling decision of the caller honoured and the configured rate applied otherwise. The
// upstream request carries the waypoint's span as its parent (traceparent and B3), so the
// application's spans join the same trace.
//
// Deciding (decideTrace, buildServerSpan) is pure; the Tracer strings it together for the proxy
// and hands sampled spans to a SpanSink (the OTLP exporter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"
#include "mesh/routing/random_source.h"
#include "waypoint/request/header_map.h"
#include "waypoint/telemetry/trace_context.h"

namespace warren::waypoint {

struct TracingConfig {
  // Percentage of new traces sampled, 0..100 (resolution 0.0001). Istio's default
  // (meshConfig.defaultConfig.tracing.sampling) is 1.
  double sampling_percent = 1.0;

  // "12.5" → 12.5; errors name the flag and the value (not a number, out of 0..100).
  static Result<double> parseSamplingPercent(std::string_view text);
};

// The waypoint's span for one request.
struct RequestTrace {
  TraceId trace_id;
  SpanId span_id;                        // the waypoint's span (the upstream's parent)
  std::optional<SpanId> parent_span_id;  // the caller's span, when continued
  bool sampled = false;
  bool debug = false;      // B3 debug: forwarded as such
  std::string tracestate;  // forwarded unchanged (W3C §3.3: a proxy may leave it as is)
  std::optional<TraceFormat> incoming;  // the format continued, none: a new trace
  bool b3_single = false;               // the caller used `b3`: answer in kind upstream
  std::string rejected;                 // why an incoming context was refused ("" when none was)
  friend bool operator==(const RequestTrace&, const RequestTrace&) = default;
};

// The incoming context of `headers`: a valid traceparent first (with its tracestate when that is
// valid too), then `b3`, then X-B3-*. An invalid header is skipped with its error in `rejected`
// (the next format is tried; if none is valid a new trace starts). Multiple traceparent headers
// are invalid (W3C §3.2: they arrive joined with ',').
struct TraceExtraction {
  std::optional<IncomingTrace> trace;
  std::vector<std::string> rejected;
};
TraceExtraction extractTrace(const HeaderMap& headers);

// Continue or start the trace. Sampling: the caller's decision when it sent one (B3 debug
// always samples), else a draw below `sampling_percent`. New ids come from `random`.
RequestTrace decideTrace(const HeaderMap& headers, const TracingConfig& config,
                         mesh::RandomSource& random);

// Rewrites the headers of the upstream request: traceparent (and tracestate), X-B3-TraceId /
// SpanId / ParentSpanId / Sampled (X-B3-Flags: 1 for debug), and `b3` when the caller used it;
// every incoming trace header is replaced.
void injectTraceHeaders(HeaderMap& headers, const RequestTrace& trace);

// The x-request-id to forward: the caller's when it is 1..128 visible ASCII characters, else a
// new random UUID (version 4, RFC 9562 §5.4), set in `headers` either way.
std::string ensureRequestId(HeaderMap& headers, mesh::RandomSource& random);

// A finished span, in the exporter's terms (OTLP's Span fields).
struct SpanAttribute {
  std::string key;
  std::variant<std::string, int64_t, bool> value;
  friend bool operator==(const SpanAttribute&, const SpanAttribute&) = default;
};
struct SpanData {
  TraceId trace_id;
  SpanId span_id;
  std::optional<SpanId> parent_span_id;
  bool parent_remote = false;  // the parent came over the wire (OTLP flags bits 8-9)
  bool sampled = true;
  std::string tracestate;
  std::string name;
  uint64_t start_unix_nanos = 0;
  uint64_t end_unix_nanos = 0;
  std::vector<SpanAttribute> attributes;
  bool error = false;  // OTLP STATUS_CODE_ERROR, else UNSET
  std::string status_message;
};

// Where finished spans go. submit never blocks (the exporter queues or drops).
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  // False when the span was dropped (queue full).
  virtual bool submit(SpanData span) = 0;
};

}  // namespace warren::waypoint
