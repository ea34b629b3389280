#include "waypoint/telemetry/trace_context.h"

#include <fmt/format.h>

#include <set>
#include <span>
#include <vector>

#include "common/hex.h"

namespace warren::waypoint {
namespace {

// Lower-case hex only: W3C §3.2.2 ("HEXDIGLC"), and B3 ids are lower-case too.
bool decodeLower(std::string_view hex, std::span<uint8_t> out) {
  return decodeHex(hex, out, HexDigits::kLowerCase);
}

template <size_t N>
bool allZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

Error bad(std::string_view header, std::string_view value, std::string_view why) {
  // The value is quoted shortened: it came from the network.
  std::string shown(value.substr(0, 64));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return Error::invalid(
      fmt::format("{} \"{}{}\": {}", header, shown, value.size() > 64 ? "..." : "", why));
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool lcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool keyChar(char c) {
  return lcAlpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// W3C §3.3.1.3.1: simple-key = lcalpha 0*255(keychar); multi-tenant: tenant-id "@" system-id,
// tenant-id = (lcalpha / DIGIT) 0*240(keychar), system-id = lcalpha 0*13(keychar).
bool validKey(std::string_view key) {
  size_t at = key.find('@');
  auto chars = [](std::string_view s) {
    for (char c : s.substr(1))
      if (!keyChar(c)) return false;
    return true;
  };
  if (at == std::string_view::npos)
    return !key.empty() && key.size() <= 256 && lcAlpha(key[0]) && chars(key);
  std::string_view tenant = key.substr(0, at), system = key.substr(at + 1);
  return !tenant.empty() && tenant.size() <= 241 && (lcAlpha(tenant[0]) || digit(tenant[0])) &&
         chars(tenant) && !system.empty() && system.size() <= 14 && lcAlpha(system[0]) &&
         chars(system);
}

// value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
bool validValue(std::string_view v) {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

std::optional<bool> b3SampledValue(std::string_view v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return std::nullopt;
}

}  // namespace

bool TraceId::valid() const { return !allZero(bytes); }
std::string TraceId::hex() const { return encodeHex(bytes); }
std::optional<TraceId> TraceId::fromHex(std::string_view hex) {
  TraceId id;
  if (hex.size() == 32   ? !decodeLower(hex, id.bytes)
      : hex.size() == 16 ? !decodeLower(hex, std::span(id.bytes).subspan(8))
                         : true)
    return std::nullopt;
  return id;
}

bool SpanId::valid() const { return !allZero(bytes); }
std::string SpanId::hex() const { return encodeHex(bytes); }
std::optional<SpanId> SpanId::fromHex(std::string_view hex) {
  SpanId id;
  if (!decodeLower(hex, id.bytes)) return std::nullopt;
  return id;
}
SpanId SpanId::fromUint64(uint64_t v) {
  SpanId id;
  for (int i = 7; i >= 0; --i, v >>= 8) id.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  return id;
}

const char* toString(TraceFormat f) {
  switch (f) {
    case TraceFormat::kW3c:
      return "w3c";
    case TraceFormat::kB3Single:
      return "b3";
    case TraceFormat::kB3Multi:
      return "b3multi";
  }
  return "?";
}

Result<IncomingTrace> parseTraceparent(std::string_view v) {
  constexpr std::string_view kHeader = "traceparent";
  if (v.size() < 55) return fail(bad(kHeader, v, "shorter than 55 characters"));
  if (v[2] != '-' || v[35] != '-' || v[52] != '-')
    return fail(bad(kHeader, v, "fields not separated by '-' at 2, 35 and 52"));
  std::array<uint8_t, 1> version{}, flags{};
  if (!decodeLower(v.substr(0, 2), version))
    return fail(bad(kHeader, v, "version is not 2 lower-case hex digits"));
  if (version[0] == 0xff) return fail(bad(kHeader, v, "version ff is invalid"));
  if (version[0] == 0 && v.size() != 55)
    return fail(bad(kHeader, v, "version 00 must be exactly 55 characters"));
  if (v.size() > 55 && v[55] != '-')
    return fail(bad(kHeader, v, "data after the flags must start with '-'"));
  IncomingTrace t;
  t.format = TraceFormat::kW3c;
  IncomingTrace::Ids ids;
  if (!decodeLower(v.substr(3, 32), ids.trace_id.bytes))
    return fail(bad(kHeader, v, "trace-id is not 32 lower-case hex digits"));
  if (!ids.trace_id.valid()) return fail(bad(kHeader, v, "trace-id is all zeros"));
  if (!decodeLower(v.substr(36, 16), ids.span_id.bytes))
    return fail(bad(kHeader, v, "parent-id is not 16 lower-case hex digits"));
  if (!ids.span_id.valid()) return fail(bad(kHeader, v, "parent-id is all zeros"));
  if (!decodeLower(v.substr(53, 2), flags))
    return fail(bad(kHeader, v, "trace-flags is not 2 lower-case hex digits"));
  t.ids = ids;
  t.sampled = (flags[0] & 1) != 0;
  return t;
}

Status validateTracestate(std::string_view value) {
  constexpr std::string_view kHeader = "tracestate";
  if (value.size() > 512) return fail(bad(kHeader, value, "longer than 512 characters"));
  std::set<std::string_view> keys;
  size_t members = 0;
  for (std::string_view raw : split(value, ',')) {
    std::string_view m = trimOws(raw);
    if (m.empty()) continue;
    if (++members > 32) return fail(bad(kHeader, value, "more than 32 list members"));
    size_t eq = m.find('=');
    if (eq == std::string_view::npos) return fail(bad(kHeader, value, "a member without '='"));
    std::string_view key = m.substr(0, eq), val = m.substr(eq + 1);
    if (!validKey(key)) return fail(bad(kHeader, value, fmt::format("invalid key \"{}\"", key)));
    if (!validValue(val))
      return fail(bad(kHeader, value, fmt::format("invalid value for key \"{}\"", key)));
    if (!keys.insert(key).second)
      return fail(bad(kHeader, value, fmt::format("key \"{}\" appears twice", key)));
  }
  return ok();
}

Result<IncomingTrace> parseB3Single(std::string_view v) {
  constexpr std::string_view kHeader = "b3";
  IncomingTrace t;
  t.format = TraceFormat::kB3Single;
  auto sampling = [&](std::string_view s) -> Status {
    if (s == "1") {
      t.sampled = true;
    } else if (s == "0") {
      t.sampled = false;
    } else if (s == "d") {
      t.sampled = true;
      t.debug = true;
    } else {
      return fail(bad(kHeader, v, "sampling state is not 0, 1 or d"));
    }
    return ok();
  };
  auto parts = split(v, '-');
  if (parts.size() == 1) {  // a sampling decision alone
    if (auto s = sampling(parts[0]); !s) return fail(s.error());
    return t;
  }
  if (parts.size() > 4) return fail(bad(kHeader, v, "more than 4 fields"));
  auto trace = TraceId::fromHex(parts[0]);
  if (!trace) return fail(bad(kHeader, v, "trace id is not 16 or 32 lower-case hex digits"));
  if (!trace->valid()) return fail(bad(kHeader, v, "trace id is all zeros"));
  auto span = SpanId::fromHex(parts[1]);
  if (!span) return fail(bad(kHeader, v, "span id is not 16 lower-case hex digits"));
  if (!span->valid()) return fail(bad(kHeader, v, "span id is all zeros"));
  if (parts.size() >= 3)
    if (auto s = sampling(parts[2]); !s) return fail(s.error());
  if (parts.size() == 4) {
    auto parent = SpanId::fromHex(parts[3]);
    if (!parent || !parent->valid())
      return fail(bad(kHeader, v, "parent span id is not 16 lower-case hex digits, not all zero"));
  }
  t.ids = IncomingTrace::Ids{*trace, *span};
  return t;
}

Result<IncomingTrace> parseB3Multi(const B3Headers& h) {
  IncomingTrace t;
  t.format = TraceFormat::kB3Multi;
  if (!h.any()) return fail(Error::invalid("no X-B3-* header"));
  if (h.flags) {
    if (*h.flags != "1" && *h.flags != "0") return fail(bad("x-b3-flags", *h.flags, "not 0 or 1"));
    t.debug = *h.flags == "1";
  }
  if (h.sampled) {
    auto s = b3SampledValue(*h.sampled);
    if (!s) return fail(bad("x-b3-sampled", *h.sampled, "not 1, 0, true or false"));
    t.sampled = *s;
  }
  if (t.debug) t.sampled = true;  // debug implies an accept decision
  if (!h.trace_id && !h.span_id) {
    if (h.parent_span_id) return fail(Error::invalid("x-b3-parentspanid without x-b3-traceid"));
    return t;  // a sampling decision alone
  }
  if (!h.trace_id) return fail(Error::invalid("x-b3-spanid without x-b3-traceid"));
  if (!h.span_id) return fail(Error::invalid("x-b3-traceid without x-b3-spanid"));
  auto trace = TraceId::fromHex(*h.trace_id);
  if (!trace || !trace->valid())
    return fail(
        bad("x-b3-traceid", *h.trace_id, "not 16 or 32 lower-case hex digits, not all zero"));
  auto span = SpanId::fromHex(*h.span_id);
  if (!span || !span->valid())
    return fail(bad("x-b3-spanid", *h.span_id, "not 16 lower-case hex digits, not all zero"));
  if (h.parent_span_id) {
    auto parent = SpanId::fromHex(*h.parent_span_id);
    if (!parent || !parent->valid())
      return fail(bad("x-b3-parentspanid", *h.parent_span_id,
                      "not 16 lower-case hex digits, not all zero"));
  }
  t.ids = IncomingTrace::Ids{*trace, *span};
  return t;
}

std::string formatTraceparent(const TraceId& trace, const SpanId& span, bool sampled) {
  return fmt::format("00-{}-{}-{}", trace.hex(), span.hex(), sampled ? "01" : "00");
}

std::string formatB3Single(const TraceId& trace, const SpanId& span, bool sampled, bool debug,
                           const std::optional<SpanId>& parent) {
  std::string out = fmt::format("{}-{}-{}", trace.hex(), span.hex(),
                                debug     ? "d"
                                : sampled ? "1"
                                          : "0");
  if (parent) out += "-" + parent->hex();
  return out;
}

}  // namespace warren::waypoint
