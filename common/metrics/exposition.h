// Prometheus text exposition format 0.0.4: pure rendering of a snapshot of metric families.
// https://prometheus.io/docs/instrumenting/exposition_formats/ — per family "# HELP name text"
// (backslash and newline escaped), "# TYPE name counter|gauge|histogram", then one line per
// sample: name{label="value",...} value, label values escaping backslash, quote and newline.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

const char* metricTypeName(MetricType type);

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string suffix;  // "" or "_bucket" / "_sum" / "_count" for histograms
  LabelPairs labels;   // in the order they are printed
  double value = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

// A family of one series without labels: what a collector reports for one number.
FamilySnapshot scalarFamily(std::string name, std::string help, MetricType type, double value);

// The content type scrapers expect for this format.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string escapeLabelValue(std::string_view v);
std::string escapeHelp(std::string_view v);
// Integers without a decimal point, "+Inf", "-Inf", "NaN", else the shortest round-trip form.
std::string formatValue(double v);

// Valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) and label name ([a-zA-Z_][a-zA-Z0-9_]*, not
// starting with "__", which Prometheus reserves).
bool isValidMetricName(std::string_view name);
bool isValidLabelName(std::string_view name);

// Renders families in the order given (the registry sorts them by name; samples within a
// family keep their order). Families without samples still get HELP and TYPE.
std::string renderText(const std::vector<FamilySnapshot>& families);

}  // namespace warren::metrics
