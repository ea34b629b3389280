#include "waypoint/telemetry/tracer.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace warren::waypoint {
namespace {

// Sampling draws are in millionths: percent with 0.0001 resolution, finer than Istio's 0.01.
constexpr uint64_t kSamplingScale = 1'000'000;

uint64_t random64(mesh::RandomSource& random) {
  // Two statements: the operands of `|` are unsequenced, and the high half is drawn first.
  const uint64_t high = random.below(uint64_t{1} << 32);
  return high << 32 | random.below(uint64_t{1} << 32);
}

SpanId newSpanId(mesh::RandomSource& random) {
  while (true) {
    SpanId id = SpanId::fromUint64(random64(random));
    if (id.valid()) return id;
  }
}

TraceId newTraceId(mesh::RandomSource& random) {
  TraceId id;
  while (!id.valid()) {
    SpanId hi = SpanId::fromUint64(random64(random)), lo = SpanId::fromUint64(random64(random));
    std::copy(hi.bytes.begin(), hi.bytes.end(), id.bytes.begin());
    std::copy(lo.bytes.begin(), lo.bytes.end(), id.bytes.begin() + 8);
  }
  return id;
}

bool visibleAscii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

constexpr std::string_view kB3Headers[] = {"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
                                           "x-b3-sampled", "x-b3-flags"};

}  // namespace

Result<double> TracingConfig::parseSamplingPercent(std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || !std::isfinite(v))
    return fail(Error::invalid(fmt::format("--tracing-sampling \"{}\": not a number", text)));
  if (v < 0 || v > 100)
    return fail(Error::invalid(
        fmt::format("--tracing-sampling {}: a percentage, between 0 and 100", text)));
  return v;
}

TraceExtraction extractTrace(const HeaderMap& headers) {
  TraceExtraction out;
  if (auto tp = headers.joined("traceparent")) {
    auto parsed = parseTraceparent(*tp);
    if (parsed) {
      if (auto ts = headers.joined("tracestate")) {
        if (auto valid = validateTracestate(*ts); valid) {
          parsed->tracestate = *ts;
        } else {
          out.rejected.push_back(valid.error().message());
        }
      }
      out.trace = std::move(*parsed);
      return out;
    }
    out.rejected.push_back(parsed.error().message());
  }
  if (auto b3 = headers.joined("b3")) {
    auto parsed = parseB3Single(*b3);
    if (parsed) {
      out.trace = std::move(*parsed);
      return out;
    }
    out.rejected.push_back(parsed.error().message());
  }
  B3Headers multi{headers.first("x-b3-traceid"), headers.first("x-b3-spanid"),
                  headers.first("x-b3-parentspanid"), headers.first("x-b3-sampled"),
                  headers.first("x-b3-flags")};
  if (multi.any()) {
    auto parsed = parseB3Multi(multi);
    if (parsed) {
      out.trace = std::move(*parsed);
      return out;
    }
    out.rejected.push_back(parsed.error().message());
  }
  return out;
}

RequestTrace decideTrace(const HeaderMap& headers, const TracingConfig& config,
                         mesh::RandomSource& random) {
  TraceExtraction in = extractTrace(headers);
  RequestTrace t;
  for (const auto& r : in.rejected) t.rejected += (t.rejected.empty() ? "" : "; ") + r;
  std::optional<bool> decided;
  if (in.trace) {
    t.incoming = in.trace->format;
    t.b3_single = in.trace->format == TraceFormat::kB3Single;
    t.debug = in.trace->debug;
    decided = in.trace->sampled;
    if (in.trace->ids) {
      t.trace_id = in.trace->ids->trace_id;
      t.parent_span_id = in.trace->ids->span_id;
      t.tracestate = in.trace->tracestate;
    }
  }
  if (!t.parent_span_id) t.trace_id = newTraceId(random);
  t.span_id = newSpanId(random);
  if (t.debug) {
    t.sampled = true;
  } else if (decided) {
    t.sampled = *decided;
  } else {
    auto threshold = static_cast<uint64_t>(
        std::llround(config.sampling_percent / 100.0 * static_cast<double>(kSamplingScale)));
    t.sampled = random.below(kSamplingScale) < threshold;
  }
  return t;
}

void injectTraceHeaders(HeaderMap& headers, const RequestTrace& t) {
  headers.set("traceparent", formatTraceparent(t.trace_id, t.span_id, t.sampled));
  if (t.tracestate.empty()) {
    headers.remove("tracestate");
  } else {
    headers.set("tracestate", t.tracestate);
  }
  // B3: the waypoint's span is the upstream's parent, as in traceparent. X-B3-ParentSpanId
  // names the parent of X-B3-SpanId, i.e. the caller's span.
  for (auto name : kB3Headers) headers.remove(name);
  headers.remove("b3");
  headers.set("x-b3-traceid", t.trace_id.hex());
  headers.set("x-b3-spanid", t.span_id.hex());
  if (t.parent_span_id) headers.set("x-b3-parentspanid", t.parent_span_id->hex());
  if (t.debug) {
    headers.set("x-b3-flags", "1");  // B3: debug implies sampled; X-B3-Sampled not sent
  } else {
    headers.set("x-b3-sampled", t.sampled ? "1" : "0");
  }
  if (t.b3_single)
    headers.set("b3", formatB3Single(t.trace_id, t.span_id, t.sampled, t.debug, t.parent_span_id));
}

std::string ensureRequestId(HeaderMap& headers, mesh::RandomSource& random) {
  if (const std::string* id = headers.first("x-request-id");
      id && !id->empty() && id->size() <= 128 && visibleAscii(*id) &&
      headers.joined("x-request-id") == *id)
    return *id;
  uint64_t hi = random64(random), lo = random64(random);
  hi = (hi & ~uint64_t{0xf000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xc} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  // hi's then lo's 16 lowercase hex digits (SpanId's), cut 8-4-4-4-12 (no format string parsed
  // per request: that was 1.4 % of the waypoint).
  std::string id = SpanId::fromUint64(hi).hex() + SpanId::fromUint64(lo).hex();
  for (size_t dash : {20, 16, 12, 8}) id.insert(dash, 1, '-');
  headers.set("x-request-id", id);
  return id;
}

}  // namespace warren::waypoint
