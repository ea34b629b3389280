#include "bench/tools/rate_schedule.h"

#include <cmath>
#include <string>

namespace warren::bench {

Result<RateSchedule> RateSchedule::create(double rate_per_s, unsigned connections) {
  if (!(rate_per_s > 0) || !std::isfinite(rate_per_s)) {
    return fail(Error::invalid("rate must be a positive number of requests per second"));
  }
  if (connections == 0) return fail(Error::invalid("connections must be at least 1"));
  return RateSchedule(rate_per_s, connections);
}

std::chrono::nanoseconds RateSchedule::dueOffset(unsigned conn, uint64_t k) const {
  long double index = static_cast<long double>(k) * connections_ + conn;
  return std::chrono::nanoseconds(
      static_cast<int64_t>(index * 1e9L / static_cast<long double>(rate_)));
}

uint64_t RateSchedule::requestsFor(unsigned conn, std::chrono::nanoseconds duration) const {
  if (conn >= connections_ || duration.count() <= 0) return 0;
  // Global indices due before the end: i < duration * rate, i.e. i <= ceil(d*rate) - 1.
  long double exact =
      static_cast<long double>(duration.count()) * static_cast<long double>(rate_) / 1e9L;
  auto total = static_cast<uint64_t>(std::ceil(exact));
  if (total <= conn) return 0;
  return (total - conn + connections_ - 1) / connections_;
}

uint64_t RateSchedule::totalRequests(std::chrono::nanoseconds duration) const {
  uint64_t n = 0;
  for (unsigned c = 0; c < connections_; ++c) n += requestsFor(c, duration);
  return n;
}

}  // namespace warren::bench
