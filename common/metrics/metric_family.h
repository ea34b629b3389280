// One metric name with a fixed list of label names, and one series per distinct list of label
// values. Looking a series up takes a mutex; callers on a hot path look it up once (per
// connection) and keep the reference, which stays valid for the family's lifetime.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/exposition.h"

namespace warren::metrics {

template <class M>
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }

  // The series for these label values (created on first use). Error when the number of values
  // differs from the number of label names.
  Result<M*> withLabels(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size())
      return fail(Error::invalid("metric " + name_ + ": " + std::to_string(values.size()) +
                                 " label values for " + std::to_string(label_names_.size()) +
                                 " labels"));
    std::lock_guard lock(mu_);
    auto& slot = series_[values];
    if (!slot) slot = make_();
    return slot.get();
  }

  // The single series of a family without labels.
  M& get() {
    std::lock_guard lock(mu_);
    auto& slot = series_[std::vector<std::string>(label_names_.size())];
    if (!slot) slot = make_();
    return *slot;
  }

  // Calls fn(label_values, series) for every series in label-value order (stable output).
  template <class Fn>
  void forEach(Fn&& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, m] : series_) fn(values, *m);
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return series_.size();
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;
};

}  // namespace warren::metrics
