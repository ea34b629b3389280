// Exponential back-off for the control clients (xDS, CA, ZDS): 1 s doubling, capped (150 s for
// certificates, INTEROP §12). Pure; reset() after a success.
#pragma once

#include <algorithm>
#include <chrono>

namespace warren::mesh {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;
  explicit Backoff(Duration initial = std::chrono::seconds(1),
                   Duration cap = std::chrono::seconds(150))
      : initial_(initial), cap_(cap), next_(initial) {}

  // The delay to wait now; the following call returns twice as much, up to the cap.
  Duration next() {
    Duration d = next_;
    next_ = std::min(cap_, next_ * 2);
    return d;
  }
  void reset() { next_ = initial_; }

 private:
  Duration initial_, cap_, next_;
};

}  // namespace warren::mesh
