// Fuzzes the waypoint's trace context handling: the headers of a request, through extraction
// (traceparent, tracestate, b3, X-B3-*), the continue-or-start decision, the upstream headers
// and the request id.
//
// Input: byte 0 = sampling percent (0..100, modulo 101); then header lines `name: value`
// separated by '\n' (names lower-cased as the front ends deliver them).
// Properties: no crash; a refused header always comes with a reason; a continued trace keeps
// the caller's trace id and names the caller's span as parent; every header written upstream
// parses back (traceparent, b3, X-B3-*) to exactly the decided ids and sampling; a forwarded
// tracestate is valid; the request id is 1..128 visible ASCII characters.
// fuzz-link: warren_waypoint_telemetry
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/invariant.h"
#include "fuzz/seed_file.h"
#include "waypoint/telemetry/tracer.h"

using namespace warren::waypoint;
using warren::fuzz::invariant;

namespace {

constexpr const char* kTarget = "trace_context_fuzz";

HeaderMap headersOf(std::string_view text) {
  HeaderMap h;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    h.add(toLowerAscii(line.substr(0, colon)), value);
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  TracingConfig config;
  config.sampling_percent = data[0] % 101;
  HeaderMap headers =
      headersOf(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));

  TraceExtraction in = extractTrace(headers);
  for (const auto& r : in.rejected) invariant(!r.empty(), kTarget, "a refusal without a reason");

  warren::mesh::SeededRandom random(size);
  RequestTrace t = decideTrace(headers, config, random);
  invariant(t.trace_id.valid() && t.span_id.valid(), kTarget, "invalid ids decided");
  if (in.trace && in.trace->ids) {
    invariant(t.trace_id == in.trace->ids->trace_id, kTarget, "continued trace id changed");
    invariant(t.parent_span_id == in.trace->ids->span_id, kTarget, "parent is not the caller");
  } else {
    invariant(!t.parent_span_id, kTarget, "a parent for a new trace");
  }
  if (in.trace && in.trace->debug) invariant(t.sampled, kTarget, "debug not sampled");

  HeaderMap up = headers;
  injectTraceHeaders(up, t);
  auto tp = parseTraceparent(*up.joined("traceparent"));
  invariant(tp.has_value(), kTarget, "upstream traceparent does not parse");
  invariant(
      tp->ids->trace_id == t.trace_id && tp->ids->span_id == t.span_id && tp->sampled == t.sampled,
      kTarget, "upstream traceparent disagrees with the decision");
  if (auto ts = up.joined("tracestate"))
    invariant(validateTracestate(*ts).has_value(), kTarget, "invalid tracestate forwarded");
  if (auto b3 = up.joined("b3")) {
    auto single = parseB3Single(*b3);
    invariant(
        single && single->ids && single->ids->span_id == t.span_id && single->sampled == t.sampled,
        kTarget, "upstream b3 disagrees with the decision");
  }
  B3Headers multi{up.first("x-b3-traceid"), up.first("x-b3-spanid"), up.first("x-b3-parentspanid"),
                  up.first("x-b3-sampled"), up.first("x-b3-flags")};
  auto m = parseB3Multi(multi);
  invariant(m && m->ids && m->ids->trace_id == t.trace_id && m->ids->span_id == t.span_id, kTarget,
            "upstream X-B3-* disagree with the decision");
  invariant(m->sampled == t.sampled, kTarget, "upstream X-B3 sampling disagrees");

  std::string id = ensureRequestId(up, random);
  invariant(!id.empty() && id.size() <= 128, kTarget, "request id length");
  for (char c : id) invariant(c > 0x20 && c < 0x7f, kTarget, "request id not visible ASCII");
  return 0;
}

extern "C" int WarrenFuzzMakeSeeds(const char* dir) {
  const std::string tp = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string b3 = "b3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";
  struct Seed {
    const char* name;
    uint8_t percent;
    std::string body;
  };
  const Seed seeds[] = {
      {"none", 1, ""},
      {"w3c", 0, tp},
      {"w3c_tracestate", 0, tp + "\ntracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
      {"w3c_bad_tracestate", 100, tp + "\ntracestate: Bad=1"},
      {"w3c_future_version", 0,
       "traceparent: cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"},
      {"w3c_zero_trace", 100,
       "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
      {"w3c_twice", 50, tp + "\n" + tp},
      {"b3_single_sampled", 0, b3 + "-1-05e3ac9a4f6e3b90"},
      {"b3_single_debug", 0, b3 + "-d"},
      {"b3_deny_alone", 100, "b3: 0"},
      {"b3_multi", 0,
       "x-b3-traceid: a3ce929d0e0e4736\nx-b3-spanid: 00f067aa0ba902b7\n"
       "x-b3-parentspanid: 05e3ac9a4f6e3b90\nx-b3-sampled: 1"},
      {"b3_multi_flags", 0,
       "x-b3-traceid: 4bf92f3577b34da6a3ce929d0e0e4736\nx-b3-spanid: 00f067aa0ba902b7\n"
       "x-b3-flags: 1"},
      {"bad_w3c_good_b3", 0, "traceparent: 00-junk\n" + b3 + "-1"},
      {"request_id", 1, "x-request-id: abc-123\nx-request-id: second"},
  };
  bool ok = true;
  for (const Seed& s : seeds) ok = warren::fuzz::writeSeed(dir, s.name, s.percent, s.body) && ok;
  return ok ? 0 : 1;
}
