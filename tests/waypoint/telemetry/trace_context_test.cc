// W3C traceparent/tracestate and B3 parsing, one table row per rule of the grammars: every
// invalid form is refused with a reason (the tracer then starts a new trace), never accepted
// half-parsed.
#include "waypoint/telemetry/trace_context.h"

#include <gtest/gtest.h>

namespace warren::waypoint {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpan = "00f067aa0ba902b7";

struct TraceparentRow {
  const char* name;
  std::string value;
  bool valid;
  bool sampled;
  const char* reason;  // a substring of the error
};
TraceparentRow good(const char* name, std::string value, bool sampled) {
  return {name, std::move(value), true, sampled, ""};
}
TraceparentRow bad(const char* name, std::string value, const char* reason) {
  return {name, std::move(value), false, false, reason};
}

class TraceparentTable : public ::testing::TestWithParam<TraceparentRow> {};

TEST_P(TraceparentTable, Parses) {
  const auto& row = GetParam();
  auto t = parseTraceparent(row.value);
  ASSERT_EQ(t.has_value(), row.valid) << row.value << (t ? "" : " " + t.error().message());
  if (!row.valid) {
    EXPECT_NE(t.error().message().find(row.reason), std::string::npos) << t.error().message();
    EXPECT_NE(t.error().message().find("traceparent"), std::string::npos);
    return;
  }
  ASSERT_TRUE(t->ids);
  EXPECT_EQ(t->ids->trace_id.hex(), kTrace);
  EXPECT_EQ(t->ids->span_id.hex(), kSpan);
  EXPECT_EQ(t->sampled, row.sampled);
  EXPECT_EQ(t->format, TraceFormat::kW3c);
}

std::string tp(const std::string& version, const std::string& trace, const std::string& span,
               const std::string& flags) {
  return version + "-" + trace + "-" + span + "-" + flags;
}

INSTANTIATE_TEST_SUITE_P(
    W3c, TraceparentTable,
    ::testing::Values(
        good("sampled", tp("00", kTrace, kSpan, "01"), true),
        good("not_sampled", tp("00", kTrace, kSpan, "00"), false),
        good("other_flag_bits", tp("00", kTrace, kSpan, "09"), true),
        good("future_version_longer", tp("cc", kTrace, kSpan, "01") + "-what-ever", true),
        good("future_version_exact", tp("01", kTrace, kSpan, "00"), false),
        bad("empty", "", "shorter than 55"),
        bad("short", tp("00", kTrace, kSpan, "0"), "shorter than 55"),
        bad("v00_longer", tp("00", kTrace, kSpan, "01") + "-x", "exactly 55"),
        bad("future_longer_no_dash", tp("01", kTrace, kSpan, "01") + "x", "must start with '-'"),
        bad("version_ff", tp("ff", kTrace, kSpan, "01"), "ff"),
        bad("version_upper", tp("0A", kTrace, kSpan, "01"), "version"),
        bad("trace_upper", tp("00", "4BF92F3577B34DA6A3CE929D0E0E4736", kSpan, "01"), "trace-id"),
        bad("trace_zero", tp("00", std::string(32, '0'), kSpan, "01"), "trace-id is all zeros"),
        bad("span_zero", tp("00", kTrace, std::string(16, '0'), "01"), "parent-id is all zeros"),
        bad("span_not_hex", tp("00", kTrace, "00f067aa0ba902bz", "01"), "parent-id"),
        bad("flags_not_hex", tp("00", kTrace, kSpan, "0g"), "trace-flags"),
        bad("wrong_separator", "00_" + std::string(kTrace) + "-" + kSpan + "-01", "separated"),
        bad("two_joined", tp("00", kTrace, kSpan, "01") + "," + tp("00", kTrace, kSpan, "01"),
            "exactly 55"),
        bad("control_bytes", std::string(55, '\x01'), "separated")),
    [](const auto& p) { return std::string(p.param.name); });

struct TracestateRow {
  const char* name;
  std::string value;
  bool valid;
};

class TracestateTable : public ::testing::TestWithParam<TracestateRow> {};

TEST_P(TracestateTable, Validates) {
  auto s = validateTracestate(GetParam().value);
  EXPECT_EQ(s.has_value(), GetParam().valid) << GetParam().value;
}

std::string members(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    W3c, TracestateTable,
    ::testing::Values(TracestateRow{"one", "congo=t61rcWkgMzE", true},
                      TracestateRow{"two_with_ows", "rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE",
                                    true},
                      TracestateRow{"tenant", "fw529a3039@dt=FW4yQT0", true},
                      TracestateRow{"empty_members", "a=1,,b=2", true},
                      TracestateRow{"thirty_two", members(32), true},
                      TracestateRow{"thirty_three", members(33), false},
                      TracestateRow{"no_equals", "congo", false},
                      TracestateRow{"upper_key", "Congo=1", false},
                      TracestateRow{"key_digit_first", "1congo=1", false},
                      TracestateRow{"duplicate_key", "a=1,a=2", false},
                      TracestateRow{"value_with_equals", "a=b=c", false},
                      TracestateRow{"trailing_space_value", "a=b \t", true},  // OWS trimmed
                      TracestateRow{"empty_value", "a=", false},
                      TracestateRow{"control_in_value", "a=b\x01", false},
                      TracestateRow{"too_long", "a=" + std::string(600, 'x'), false}),
    [](const auto& p) { return std::string(p.param.name); });

struct B3Row {
  const char* name;
  std::string value;
  bool valid;
  bool has_ids;
  std::optional<bool> sampled;
  bool debug;
};
B3Row b3ok(const char* name, std::string value, bool has_ids, std::optional<bool> sampled,
           bool debug = false) {
  return {name, std::move(value), true, has_ids, sampled, debug};
}
B3Row b3bad(const char* name, std::string value) {
  return {name, std::move(value), false, false, std::nullopt, false};
}

class B3SingleTable : public ::testing::TestWithParam<B3Row> {};

TEST_P(B3SingleTable, Parses) {
  const auto& row = GetParam();
  auto t = parseB3Single(row.value);
  ASSERT_EQ(t.has_value(), row.valid) << row.value << (t ? "" : " " + t.error().message());
  if (!row.valid) return;
  EXPECT_EQ(t->ids.has_value(), row.has_ids);
  EXPECT_EQ(t->sampled, row.sampled);
  EXPECT_EQ(t->debug, row.debug);
  EXPECT_EQ(t->format, TraceFormat::kB3Single);
}

const std::string kB3 = std::string(kTrace) + "-" + kSpan;

INSTANTIATE_TEST_SUITE_P(
    B3, B3SingleTable,
    ::testing::Values(
        b3ok("ids_only", kB3, true, std::nullopt), b3ok("sampled", kB3 + "-1", true, true),
        b3ok("not_sampled", kB3 + "-0", true, false), b3ok("debug", kB3 + "-d", true, true, true),
        b3ok("with_parent", kB3 + "-1-05e3ac9a4f6e3b90", true, true),
        b3ok("trace_64bit", "a3ce929d0e0e4736-" + std::string(kSpan) + "-1", true, true),
        b3ok("deny_alone", "0", false, false), b3ok("accept_alone", "1", false, true),
        b3ok("debug_alone", "d", false, true, true), b3bad("bad_sampling", kB3 + "-2"),
        b3bad("bad_alone", "true"), b3bad("empty", ""),
        b3bad("trace_odd_length", "a3ce929d0e0e473-" + std::string(kSpan)),
        b3bad("trace_zero", std::string(32, '0') + "-" + kSpan),
        b3bad("span_zero", std::string(kTrace) + "-" + std::string(16, '0')),
        b3bad("span_upper", std::string(kTrace) + "-00F067AA0BA902B7"),
        b3bad("parent_bad", kB3 + "-1-xyz"), b3bad("five_fields", kB3 + "-1-05e3ac9a4f6e3b90-x"),
        b3bad("missing_span", std::string(kTrace) + "-")),
    [](const auto& p) { return std::string(p.param.name); });

TEST(B3Multi, Table) {
  std::string trace = kTrace, span = kSpan, parent = "05e3ac9a4f6e3b90", one = "1", zero = "0",
              yes = "true", bad = "maybe", short_trace = "a3ce929d0e0e4736", upper = "ABC";
  struct Row {
    const char* name;
    B3Headers h;
    bool valid;
    bool has_ids;
    std::optional<bool> sampled;
    bool debug;
  };
  auto hs = [](const std::string* t, const std::string* sp, const std::string* p = nullptr,
               const std::string* smp = nullptr, const std::string* f = nullptr) {
    return B3Headers{t, sp, p, smp, f};
  };
  auto ok = [](const char* name, B3Headers h, bool has_ids, std::optional<bool> sampled,
               bool debug = false) { return Row{name, h, true, has_ids, sampled, debug}; };
  auto no = [](const char* name, B3Headers h) {
    return Row{name, h, false, false, std::nullopt, false};
  };
  const Row rows[] = {
      ok("ids", hs(&trace, &span), true, std::nullopt),
      ok("ids_sampled", hs(&trace, &span, &parent, &one), true, true),
      ok("ids_not_sampled", hs(&trace, &span, nullptr, &zero), true, false),
      ok("sampled_true", hs(&trace, &span, nullptr, &yes), true, true),
      ok("debug_flag", hs(&trace, &span, nullptr, nullptr, &one), true, true, true),
      ok("debug_beats_deny", hs(&trace, &span, nullptr, &zero, &one), true, true, true),
      ok("trace_64bit", hs(&short_trace, &span), true, std::nullopt),
      ok("sampling_alone", hs(nullptr, nullptr, nullptr, &zero), false, false),
      no("nothing", hs(nullptr, nullptr)),
      no("trace_without_span", hs(&trace, nullptr)),
      no("span_without_trace", hs(nullptr, &span)),
      no("parent_alone", hs(nullptr, nullptr, &parent)),
      no("bad_sampled", hs(&trace, &span, nullptr, &bad)),
      no("bad_flags", hs(&trace, &span, nullptr, nullptr, &bad)),
      no("bad_trace", hs(&upper, &span)),
      no("bad_parent", hs(&trace, &span, &upper)),
  };
  for (const Row& row : rows) {
    auto t = parseB3Multi(row.h);
    ASSERT_EQ(t.has_value(), row.valid) << row.name << (t ? "" : ": " + t.error().message());
    if (!row.valid) continue;
    EXPECT_EQ(t->ids.has_value(), row.has_ids) << row.name;
    EXPECT_EQ(t->sampled, row.sampled) << row.name;
    EXPECT_EQ(t->debug, row.debug) << row.name;
    if (row.has_ids) {
      EXPECT_EQ(t->ids->span_id.hex(), kSpan) << row.name;
    }
  }
}

TEST(TraceIds, HexRoundTripAnd64BitPadding) {
  auto t = TraceId::fromHex("a3ce929d0e0e4736");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->hex(), "0000000000000000a3ce929d0e0e4736");
  EXPECT_EQ(SpanId::fromUint64(0x00f067aa0ba902b7ULL).hex(), kSpan);
  EXPECT_EQ(formatTraceparent(*TraceId::fromHex(kTrace), *SpanId::fromHex(kSpan), true),
            std::string("00-") + kTrace + "-" + kSpan + "-01");
  EXPECT_EQ(formatB3Single(*TraceId::fromHex(kTrace), *SpanId::fromHex(kSpan), false, false,
                           SpanId::fromHex("05e3ac9a4f6e3b90")),
            kB3 + "-0-05e3ac9a4f6e3b90");
}

// Whatever bytes arrive, the parsers answer (value or error) without crashing: a bounded
// sweep of pseudo-random headers built from the grammar's own characters.
TEST(TraceContext, GarbageNeverCrashes) {
  const std::string alphabet = "0123456789abcdefABCDEF-,=@ \t\x01\xff";
  uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string v(next() % 80, ' ');
    for (char& c : v) c = alphabet[next() % alphabet.size()];
    (void)parseTraceparent(v);
    (void)validateTracestate(v);
    (void)parseB3Single(v);
    B3Headers h{&v, &v, nullptr, nullptr, nullptr};
    (void)parseB3Multi(h);
  }
}

}  // namespace
}  // namespace warren::waypoint
