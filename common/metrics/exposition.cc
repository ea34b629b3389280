#include "common/metrics/exposition.h"

#include <fmt/format.h>

#include <cmath>

namespace warren::metrics {

const char* metricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

FamilySnapshot scalarFamily(std::string name, std::string help, MetricType type, double value) {
  return FamilySnapshot{std::move(name), std::move(help), type, {Sample{"", {}, value}}};
}

std::string escapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Exact integers up to 2^53 print without exponent or ".0" (counters, byte totals).
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

bool isValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool isValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string renderText(const std::vector<FamilySnapshot>& families) {
  std::string out;
  for (const auto& f : families) {
    out += "# HELP " + f.name + " " + escapeHelp(f.help) + "\n";
    out += "# TYPE " + f.name + " " + metricTypeName(f.type) + "\n";
    for (const auto& s : f.samples) {
      out += f.name;
      out += s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : s.labels) {
          if (!first) out += ',';
          first = false;
          out += k + "=\"" + escapeLabelValue(v) + "\"";
        }
        out += '}';
      }
      out += ' ';
      out += formatValue(s.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace warren::metrics
