#include "common/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace warren::metrics {
namespace {

LabelPairs zipLabels(const std::vector<std::string>& names,
                     const std::vector<std::string>& values) {
  LabelPairs out;
  out.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

template <class F>
Result<F*> findOrAdd(
    std::map<std::string, std::variant<std::unique_ptr<MetricFamily<Counter>>,
                                       std::unique_ptr<MetricFamily<Gauge>>,
                                       std::unique_ptr<MetricFamily<Histogram>>>>& families,
    const std::string& name, const std::vector<std::string>& label_names,
    const std::function<std::unique_ptr<F>()>& make) {
  auto it = families.find(name);
  if (it == families.end()) {
    auto fam = make();
    F* raw = fam.get();
    families.emplace(name, std::move(fam));
    return raw;
  }
  auto* existing = std::get_if<std::unique_ptr<F>>(&it->second);
  if (!existing || (*existing)->labelNames() != label_names)
    return fail(Error(ErrorCode::kAlreadyExists,
                      "metric " + name + " is already registered with another type or labels"));
  return existing->get();
}

}  // namespace

Status Registry::checkNames(const std::string& name,
                            const std::vector<std::string>& label_names) const {
  if (!isValidMetricName(name)) return fail(Error::invalid("invalid metric name '" + name + "'"));
  for (const auto& l : label_names) {
    if (!isValidLabelName(l) || l == "le")
      return fail(Error::invalid("metric " + name + ": invalid label name '" + l + "'"));
  }
  auto sorted = label_names;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return fail(Error::invalid("metric " + name + ": duplicate label name"));
  return ok();
}

Result<CounterFamily*> Registry::counter(const std::string& name, const std::string& help,
                                         const std::vector<std::string>& label_names) {
  WARREN_TRY(checkNames(name, label_names));
  std::lock_guard lock(mu_);
  return findOrAdd<CounterFamily>(families_, name, label_names, [&] {
    return std::make_unique<CounterFamily>(name, help, label_names,
                                           [] { return std::make_unique<Counter>(); });
  });
}

Result<GaugeFamily*> Registry::gauge(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names) {
  WARREN_TRY(checkNames(name, label_names));
  std::lock_guard lock(mu_);
  return findOrAdd<GaugeFamily>(families_, name, label_names, [&] {
    return std::make_unique<GaugeFamily>(name, help, label_names,
                                         [] { return std::make_unique<Gauge>(); });
  });
}

Result<HistogramFamily*> Registry::histogram(const std::string& name, const std::string& help,
                                             const std::vector<std::string>& label_names,
                                             std::vector<double> upper_bounds) {
  WARREN_TRY(checkNames(name, label_names));
  for (double b : upper_bounds)
    if (!std::isfinite(b))
      return fail(Error::invalid("histogram " + name + ": bucket bounds must be finite"));
  std::lock_guard lock(mu_);
  return findOrAdd<HistogramFamily>(families_, name, label_names, [&] {
    return std::make_unique<HistogramFamily>(name, help, label_names, [upper_bounds] {
      return std::make_unique<Histogram>(upper_bounds);
    });
  });
}

void Registry::addCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::snapshot() const {
  std::vector<FamilySnapshot> out;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
    for (const auto& [name, any] : families_) {
      FamilySnapshot snap;
      snap.name = name;
      if (auto* c = std::get_if<std::unique_ptr<CounterFamily>>(&any)) {
        snap.help = (*c)->help();
        snap.type = MetricType::kCounter;
        (*c)->forEach([&](const std::vector<std::string>& values, const Counter& m) {
          snap.samples.push_back(
              {"", zipLabels((*c)->labelNames(), values), static_cast<double>(m.value())});
        });
      } else if (auto* g = std::get_if<std::unique_ptr<GaugeFamily>>(&any)) {
        snap.help = (*g)->help();
        snap.type = MetricType::kGauge;
        (*g)->forEach([&](const std::vector<std::string>& values, const Gauge& m) {
          snap.samples.push_back({"", zipLabels((*g)->labelNames(), values), m.value()});
        });
      } else if (auto* h = std::get_if<std::unique_ptr<HistogramFamily>>(&any)) {
        snap.help = (*h)->help();
        snap.type = MetricType::kHistogram;
        (*h)->forEach([&](const std::vector<std::string>& values, const Histogram& m) {
          LabelPairs base = zipLabels((*h)->labelNames(), values);
          auto counts = m.cumulativeCounts();
          const auto& bounds = m.upperBounds();
          for (size_t i = 0; i < counts.size(); ++i) {
            LabelPairs l = base;
            l.emplace_back("le", i < bounds.size() ? formatValue(bounds[i]) : "+Inf");
            snap.samples.push_back({"_bucket", std::move(l), static_cast<double>(counts[i])});
          }
          snap.samples.push_back({"_sum", base, m.sum()});
          snap.samples.push_back({"_count", base, static_cast<double>(counts.back())});
        });
      }
      out.push_back(std::move(snap));
    }
  }
  // Collectors run outside the lock: they read /proc and may be slow. A registered family
  // wins over a collected one of the same name, and the first collector wins over later ones.
  std::set<std::string> names;
  for (const auto& f : out) names.insert(f.name);
  for (const auto& c : collectors) {
    for (auto& f : c()) {
      if (!isValidMetricName(f.name) || !names.insert(f.name).second) continue;
      out.push_back(std::move(f));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const FamilySnapshot& a, const FamilySnapshot& b) {
    return a.name < b.name;
  });
  return out;
}

}  // namespace warren::metrics
