#pragma once
// The open-loop send schedule of a fixed-rate load spread over K connections: request i of
// the whole run is due at start + i / rate, and connection c sends requests c, c+K, c+2K, ...
// Latency is measured from the due time, not from when the request was actually written, so
// a stalled connection is charged for every request it should have sent meanwhile
// (coordinated-omission correction, as wrk2 does).
#include <chrono>
#include <cstdint>

#include "common/error.h"

namespace warren::bench {

class RateSchedule {
 public:
  // rate in requests per second (> 0), connections >= 1.
  static Result<RateSchedule> create(double rate_per_s, unsigned connections);

  // Offset from the start at which the k-th request (0-based) of connection `conn` is due.
  std::chrono::nanoseconds dueOffset(unsigned conn, uint64_t k) const;
  // Requests connection `conn` sends within `duration` (those due strictly before its end).
  uint64_t requestsFor(unsigned conn, std::chrono::nanoseconds duration) const;
  // All requests of the run: the sum over the connections.
  uint64_t totalRequests(std::chrono::nanoseconds duration) const;

  double rate() const { return rate_; }
  unsigned connections() const { return connections_; }

 private:
  RateSchedule(double rate_per_s, unsigned connections)
      : rate_(rate_per_s), connections_(connections) {}
  double rate_;
  unsigned connections_;
};

}  // namespace warren::bench
