// Continue-or-start decisions, sampling, and the headers the upstream request carries.
#include "waypoint/telemetry/tracer.h"

#include <gtest/gtest.h>

#include <regex>

namespace warren::waypoint {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpan = "00f067aa0ba902b7";
const std::string kTraceparent = std::string("00-") + kTrace + "-" + kSpan + "-01";

TracingConfig rate(double percent) {
  TracingConfig c;
  c.sampling_percent = percent;
  return c;
}

TEST(ExtractTrace, PrecedenceAndFallback) {
  std::string b3 = std::string("a3ce929d0e0e4736a3ce929d0e0e4736-") + kSpan + "-1";
  struct Row {
    const char* name;
    HeaderMap headers;
    std::optional<TraceFormat> format;
    size_t rejected;
  };
  const Row rows[] = {
      {"none", {}, std::nullopt, 0},
      {"w3c", {{"traceparent", kTraceparent}}, TraceFormat::kW3c, 0},
      {"w3c_over_b3", {{"traceparent", kTraceparent}, {"b3", b3}}, TraceFormat::kW3c, 0},
      {"bad_w3c_then_b3", {{"traceparent", "00-junk"}, {"b3", b3}}, TraceFormat::kB3Single, 1},
      {"b3_over_multi",
       {{"b3", b3}, {"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}},
       TraceFormat::kB3Single,
       0},
      {"multi", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}}, TraceFormat::kB3Multi, 0},
      {"all_bad", {{"traceparent", "x"}, {"b3", "x"}, {"x-b3-traceid", "x"}}, std::nullopt, 3},
      {"two_traceparents",
       {{"traceparent", kTraceparent}, {"traceparent", kTraceparent}},
       std::nullopt,
       1},
  };
  for (const Row& row : rows) {
    auto e = extractTrace(row.headers);
    EXPECT_EQ(e.trace ? std::optional(e.trace->format) : std::nullopt, row.format) << row.name;
    EXPECT_EQ(e.rejected.size(), row.rejected) << row.name;
  }
}

TEST(ExtractTrace, TracestateKeptOnlyWhenValid) {
  HeaderMap ok{{"traceparent", kTraceparent},
               {"tracestate", "congo=t61rcWkgMzE"},
               {"tracestate", "rojo=00f067aa0ba902b7"}};
  auto e = extractTrace(ok);
  ASSERT_TRUE(e.trace);
  EXPECT_EQ(e.trace->tracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  HeaderMap bad{{"traceparent", kTraceparent}, {"tracestate", "Bad=1"}};
  e = extractTrace(bad);
  ASSERT_TRUE(e.trace);  // the traceparent still counts
  EXPECT_EQ(e.trace->tracestate, "");
  EXPECT_EQ(e.rejected.size(), 1u);
}

TEST(DecideTrace, ContinuesTheCallersTraceWithANewSpan) {
  mesh::SeededRandom random(1);
  HeaderMap h{{"traceparent", kTraceparent}, {"tracestate", "congo=1"}};
  RequestTrace t = decideTrace(h, rate(0), random);
  EXPECT_EQ(t.trace_id.hex(), kTrace);
  ASSERT_TRUE(t.parent_span_id);
  EXPECT_EQ(t.parent_span_id->hex(), kSpan);
  EXPECT_NE(t.span_id.hex(), kSpan);
  EXPECT_TRUE(t.span_id.valid());
  EXPECT_TRUE(t.sampled);  // the caller sampled: honoured although the rate is 0
  EXPECT_EQ(t.tracestate, "congo=1");
  EXPECT_EQ(t.incoming, TraceFormat::kW3c);
}

TEST(DecideTrace, SamplingDecisionTable) {
  std::string unsampled = std::string("00-") + kTrace + "-" + kSpan + "-00";
  struct Row {
    const char* name;
    HeaderMap headers;
    double percent;
    bool sampled;
  };
  const Row rows[] = {
      {"new_trace_rate_0", {}, 0, false},
      {"new_trace_rate_100", {}, 100, true},
      {"w3c_sampled_rate_0", {{"traceparent", kTraceparent}}, 0, true},
      {"w3c_unsampled_rate_100", {{"traceparent", unsampled}}, 100, false},
      {"b3_deny_alone_rate_100", {{"b3", "0"}}, 100, false},
      {"b3_accept_alone_rate_0", {{"b3", "1"}}, 0, true},
      {"b3_debug_rate_0",
       {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}, {"x-b3-flags", "1"}},
       0,
       true},
      {"b3_deferred_rate_0", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}}, 0, false},
      {"b3_deferred_rate_100", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}}, 100, true},
      {"invalid_header_rate_100", {{"traceparent", "garbage"}}, 100, true},
  };
  for (const Row& row : rows) {
    mesh::SeededRandom random(7);
    EXPECT_EQ(decideTrace(row.headers, rate(row.percent), random).sampled, row.sampled) << row.name;
  }
}

TEST(DecideTrace, RateAppliesToNewTraces) {
  mesh::SeededRandom random(2026);
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) sampled += decideTrace({}, rate(25), random).sampled;
  // Deterministic for this seed; the bounds only say "a quarter", not a timing.
  EXPECT_GT(sampled, 4500);
  EXPECT_LT(sampled, 5500);
}

TEST(DecideTrace, InvalidContextStartsANewTraceAndSaysWhy) {
  mesh::SeededRandom random(3);
  HeaderMap h{{"traceparent", std::string("00-") + std::string(32, '0') + "-" + kSpan + "-01"}};
  RequestTrace t = decideTrace(h, rate(100), random);
  EXPECT_FALSE(t.parent_span_id);
  EXPECT_FALSE(t.incoming);
  EXPECT_TRUE(t.trace_id.valid());
  EXPECT_NE(t.trace_id.hex(), std::string(32, '0'));
  EXPECT_NE(t.rejected.find("trace-id is all zeros"), std::string::npos) << t.rejected;
}

TEST(InjectTraceHeaders, UpstreamParentIsTheWaypointSpan) {
  mesh::SeededRandom random(4);
  HeaderMap h{{"traceparent", kTraceparent},
              {"tracestate", "congo=1"},
              {"x-b3-sampled", "0"},
              {"x-b3-parentspanid", "1111111111111111"},
              {"accept", "*/*"}};
  RequestTrace t = decideTrace(h, rate(0), random);
  injectTraceHeaders(h, t);
  std::string span = t.span_id.hex();
  EXPECT_EQ(*h.first("traceparent"), std::string("00-") + kTrace + "-" + span + "-01");
  EXPECT_EQ(*h.first("tracestate"), "congo=1");
  EXPECT_EQ(*h.first("x-b3-traceid"), kTrace);
  EXPECT_EQ(*h.first("x-b3-spanid"), span);
  EXPECT_EQ(*h.first("x-b3-parentspanid"), kSpan);
  EXPECT_EQ(*h.first("x-b3-sampled"), "1");
  EXPECT_FALSE(h.contains("b3"));  // the caller did not use the single header
  EXPECT_EQ(*h.first("accept"), "*/*");
  EXPECT_EQ(h.joined("traceparent")->find(','), std::string::npos);  // replaced, not added
}

TEST(InjectTraceHeaders, B3SingleAnsweredInKindAndDebugKept) {
  mesh::SeededRandom random(5);
  HeaderMap h{{"b3", std::string(kTrace) + "-" + kSpan + "-d"}};
  RequestTrace t = decideTrace(h, rate(0), random);
  injectTraceHeaders(h, t);
  EXPECT_EQ(*h.first("b3"), std::string(kTrace) + "-" + t.span_id.hex() + "-d-" + kSpan);
  EXPECT_EQ(*h.first("x-b3-flags"), "1");
  EXPECT_FALSE(h.contains("x-b3-sampled"));
  EXPECT_EQ(*h.first("traceparent"), std::string("00-") + kTrace + "-" + t.span_id.hex() + "-01");
}

TEST(InjectTraceHeaders, NewTraceHasNoParent) {
  mesh::SeededRandom random(6);
  HeaderMap h;
  RequestTrace t = decideTrace(h, rate(0), random);
  injectTraceHeaders(h, t);
  EXPECT_FALSE(h.contains("x-b3-parentspanid"));
  EXPECT_FALSE(h.contains("tracestate"));
  EXPECT_EQ(*h.first("x-b3-sampled"), "0");
  EXPECT_TRUE(h.first("traceparent")->ends_with("-00"));
}

TEST(RequestId, KeptWhenValidElseANewUuid4) {
  mesh::SeededRandom random(8);
  const std::regex uuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  HeaderMap keep{{"x-request-id", "abc-123"}};
  EXPECT_EQ(ensureRequestId(keep, random), "abc-123");
  struct Row {
    const char* name;
    HeaderMap headers;
  };
  const Row rows[] = {
      {"absent", {}},
      {"empty", {{"x-request-id", ""}}},
      {"space", {{"x-request-id", "a b"}}},
      {"too_long", {{"x-request-id", std::string(129, 'a')}}},
      {"two", {{"x-request-id", "a"}, {"x-request-id", "b"}}},
  };
  for (Row row : rows) {
    std::string id = ensureRequestId(row.headers, random);
    EXPECT_TRUE(std::regex_match(id, uuid4)) << row.name << ": " << id;
    EXPECT_EQ(row.headers.joined("x-request-id"), id) << row.name;
  }
}

// The digits of a new id, pinned: hi = 0x0123456789abcdef, lo = 0xfedcba9876543210 drawn as
// four 32-bit halves, version 4 and variant 10 set, printed 8-4-4-4-12.
TEST(RequestId, NewIdPrintsBothWordsInOrder) {
  struct Fixed final : mesh::RandomSource {
    std::vector<uint64_t> next{0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210};
    size_t at = 0;
    uint64_t below(uint64_t) override { return next.at(at++); }
  } random;
  HeaderMap h;
  EXPECT_EQ(ensureRequestId(h, random), "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(*h.first("x-request-id"), "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(TracingConfig, SamplingFlag) {
  EXPECT_EQ(*TracingConfig::parseSamplingPercent("12.5"), 12.5);
  EXPECT_EQ(*TracingConfig::parseSamplingPercent("100"), 100);
  EXPECT_EQ(*TracingConfig::parseSamplingPercent("0"), 0);
  for (const char* bad : {"", "x", "1%", "-1", "100.5", "nan", "inf", " 1"}) {
    auto r = TracingConfig::parseSamplingPercent(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("--tracing-sampling"), std::string::npos);
  }
}

}  // namespace
}  // namespace warren::waypoint
