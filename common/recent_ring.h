// The last N values of a stream (an admin page's recent requests), oldest first. Once full, a
// new value is assigned over the oldest in place: a record's strings reuse the capacity of the
// one it replaces, so keeping the history allocates nothing per value in the steady state.
#pragma once

#include <cstddef>
#include <vector>

namespace warren {

template <typename T>
class RecentRing {
 public:
  explicit RecentRing(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
    values_.reserve(capacity_);
  }

  void push(const T& v) {
    if (values_.size() < capacity_) {
      values_.push_back(v);
      return;
    }
    values_[next_] = v;
    next_ = (next_ + 1) % capacity_;
  }

  size_t size() const { return values_.size(); }

  // f(value) for each kept value, oldest first.
  template <typename F>
  void forEach(F&& f) const {
    for (size_t i = 0; i < values_.size(); ++i) f(values_[(next_ + i) % values_.size()]);
  }

 private:
  size_t capacity_;
  std::vector<T> values_;
  size_t next_ = 0;  // once full: the oldest
};

}  // namespace warren
