// Trace context on the wire: W3C Trace Context (`traceparent`, `tracestate`; w3.org/TR/
// trace-context) and Zipkin's B3 (`b3` single header, `X-B3-*` multi headers;
// github.com/openzipkin/b3-propagation). Parsing is strict and pure: a header that breaks the
// grammar is refused with an error naming what was wrong (the tracer then starts a new trace);
// nothing here can crash on input.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::waypoint {

// 16 bytes; all zero is invalid (W3C §3.2.2.3, B3).
struct TraceId {
  std::array<uint8_t, 16> bytes{};
  bool valid() const;
  std::string hex() const;  // 32 lower-case hex digits
  // 32 lower-case hex digits, or 16 (a B3 64-bit id, left-padded with zeros).
  static std::optional<TraceId> fromHex(std::string_view hex);
  friend bool operator==(const TraceId&, const TraceId&) = default;
};

// 8 bytes; all zero is invalid.
struct SpanId {
  std::array<uint8_t, 8> bytes{};
  bool valid() const;
  std::string hex() const;                                     // 16 lower-case hex digits
  static std::optional<SpanId> fromHex(std::string_view hex);  // 16 lower-case hex digits
  static SpanId fromUint64(uint64_t v);
  friend bool operator==(const SpanId&, const SpanId&) = default;
};

// Which propagation format a context arrived in.
enum class TraceFormat { kW3c, kB3Single, kB3Multi };
const char* toString(TraceFormat f);

// What an incoming request says about its trace. `ids` is absent when the caller sent only a
// sampling decision (B3 `b3: 0`, `X-B3-Sampled: 1` alone); `sampled` is absent when it sent
// ids but deferred the decision (B3 without a sampling state).
struct IncomingTrace {
  struct Ids {
    TraceId trace_id;
    SpanId span_id;  // the caller's span: the parent of the waypoint's
    friend bool operator==(const Ids&, const Ids&) = default;
  };
  std::optional<Ids> ids;
  std::optional<bool> sampled;
  bool debug = false;      // B3 debug ("d" / X-B3-Flags: 1): sampled, whatever the rate
  std::string tracestate;  // W3C only, kept verbatim when valid
  TraceFormat format = TraceFormat::kW3c;
  friend bool operator==(const IncomingTrace&, const IncomingTrace&) = default;
};

// `traceparent: 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>` (W3C §3.2). Lower-case
// hex only; version ff is invalid; version 00 is exactly 55 characters; a later version may
// append `-...` (parsed as 00, W3C §3.2.4.1); all-zero ids are invalid. Bit 0 of the flags is
// `sampled`.
Result<IncomingTrace> parseTraceparent(std::string_view value);

// `tracestate` (W3C §3.3): at most 32 comma-separated `key=value` members (empty members
// allowed), keys `[a-z][a-z0-9_\-*/]{0,255}` or `tenant@system`, values of printable ASCII but
// `,` and `=`, no trailing space, keys unique, at most 512 characters. An error means: drop the
// tracestate, keep the traceparent.
Status validateTracestate(std::string_view value);

// `b3: {trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]` or `b3: {sampling}` alone, where
// sampling is `0`, `1` or `d` (debug); trace id 16 or 32 lower-case hex digits, span ids 16.
Result<IncomingTrace> parseB3Single(std::string_view value);

// X-B3-TraceId, X-B3-SpanId (both or neither), X-B3-ParentSpanId (checked, not used: the
// caller's span is the parent), X-B3-Sampled (`1`/`0`, also `true`/`false`), X-B3-Flags (`1` =
// debug). Pointers are null when the header is absent. Nothing present at all is an error
// (callers check presence first).
struct B3Headers {
  const std::string* trace_id = nullptr;
  const std::string* span_id = nullptr;
  const std::string* parent_span_id = nullptr;
  const std::string* sampled = nullptr;
  const std::string* flags = nullptr;
  bool any() const { return trace_id || span_id || parent_span_id || sampled || flags; }
};
Result<IncomingTrace> parseB3Multi(const B3Headers& headers);

// `00-<trace>-<span>-<01|00>`.
std::string formatTraceparent(const TraceId& trace, const SpanId& span, bool sampled);
// `<trace>-<span>-<1|0|d>[-<parent>]`.
std::string formatB3Single(const TraceId& trace, const SpanId& span, bool sampled, bool debug,
                           const std::optional<SpanId>& parent);

}  // namespace warren::waypoint
