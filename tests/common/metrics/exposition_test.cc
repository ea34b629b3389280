#include "common/metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace warren::metrics {
namespace {

TEST(Exposition, EscapeLabelValue) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(escapeLabelValue("say \"hi\""), R"(say \"hi\")");
  EXPECT_EQ(escapeLabelValue("two\nlines"), R"(two\nlines)");
}

TEST(Exposition, EscapeHelpKeepsQuotes) {
  EXPECT_EQ(escapeHelp("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
}

TEST(Exposition, FormatValue) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(-3), "-3");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(0.005), "0.005");
  EXPECT_EQ(formatValue(1e300), "1e+300");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  EXPECT_EQ(formatValue(18446744073709551615.0), "1.8446744073709552e+19");
}

TEST(Exposition, NameValidation) {
  EXPECT_TRUE(isValidMetricName("istio_tcp_sent_bytes_total"));
  EXPECT_TRUE(isValidMetricName("a:b_c9"));
  EXPECT_FALSE(isValidMetricName("9a"));
  EXPECT_FALSE(isValidMetricName("a-b"));
  EXPECT_FALSE(isValidMetricName(""));
  EXPECT_TRUE(isValidLabelName("source_workload"));
  EXPECT_FALSE(isValidLabelName("__name__"));
  EXPECT_FALSE(isValidLabelName("a:b"));
  EXPECT_FALSE(isValidLabelName("1a"));
}

TEST(Exposition, RenderGolden) {
  std::vector<FamilySnapshot> fams = {
      {"empty_total", "Nothing yet.", MetricType::kCounter, {}},
      {"warren_things",
       "Things with \\ and\nnewline.",
       MetricType::kGauge,
       {{"", {{"kind", "a\"b"}, {"node", "node-1"}}, 2.5}, {"", {}, 7}}},
  };
  EXPECT_EQ(renderText(fams),
            "# HELP empty_total Nothing yet.\n"
            "# TYPE empty_total counter\n"
            "# HELP warren_things Things with \\\\ and\\nnewline.\n"
            "# TYPE warren_things gauge\n"
            "warren_things{kind=\"a\\\"b\",node=\"node-1\"} 2.5\n"
            "warren_things 7\n");
}

}  // namespace
}  // namespace warren::metrics
