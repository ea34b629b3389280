// The set of metric families one process exposes, plus collectors that compute families at
// scrape time (process metrics). render() is what /metrics and /stats/prometheus return.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"
#include "common/metrics/counter.h"
#include "common/metrics/exposition.h"
#include "common/metrics/histogram.h"
#include "common/metrics/metric_family.h"

namespace warren::metrics {

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// Produces families at scrape time; called on the scraping thread.
using Collector = std::function<std::vector<FamilySnapshot>()>;

class Registry {
 public:
  // Registers a family, or returns the existing one when name, type and label names match.
  // Errors: invalid metric or label name, or the name taken with another type or labels.
  Result<CounterFamily*> counter(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names = {});
  Result<GaugeFamily*> gauge(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names = {});
  Result<HistogramFamily*> histogram(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names,
                                     std::vector<double> upper_bounds);

  void addCollector(Collector collector);

  // Every family (registered and collected), sorted by name; series sorted by label values.
  std::vector<FamilySnapshot> snapshot() const;

  // Text exposition format 0.0.4 (content type kTextContentType).
  std::string render() const { return renderText(snapshot()); }

 private:
  using AnyFamily = std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>,
                                 std::unique_ptr<HistogramFamily>>;
  Status checkNames(const std::string& name, const std::vector<std::string>& label_names) const;

  mutable std::mutex mu_;
  std::map<std::string, AnyFamily> families_;
  std::vector<Collector> collectors_;
};

}  // namespace warren::metrics
