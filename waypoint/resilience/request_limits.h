// RequestLimits: how many requests are active to each destination (a Service), and whether one
// more may start: Istio DestinationRule `connectionPool.http.http2MaxRequests`, which Istio
// turns into Envoy's cluster circuit breaker `max_requests`. As Envoy's, the count is the
// waypoint's (every worker shares it): a request over the limit is not queued but answered 503
// with flag UO (Envoy's upstream_rq_pending_overflow). An attempt holds its place from the
// endpoint's choice to its end, so a retry takes a place again.
//
// Thread-safe (one mutex, held for a map lookup); a destination's entry goes when its last
// request ends, so the map holds only destinations with requests in flight.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace warren::waypoint {

// Pure: whether a request may start with `active` ones in flight under `max` (0: unlimited).
inline bool admitsRequest(uint32_t active, uint32_t max) { return max == 0 || active < max; }

class RequestLimits {
 public:
  // Takes a place for a request to `destination` when admitsRequest(active, max); false: over
  // the limit (counted in overflows()).
  bool tryBegin(const std::string& destination, uint32_t max);
  // A request that tryBegin admitted ended.
  void end(const std::string& destination);
  uint32_t active(const std::string& destination) const;
  uint64_t overflows() const;
  // Destination -> requests active now (for /clusters).
  std::map<std::string, uint32_t> activeByDestination() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> active_;
  uint64_t overflows_ = 0;
};

}  // namespace warren::waypoint
