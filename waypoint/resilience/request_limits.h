// RequestLimits: how many of one thing are active to each destination (a Service), and whether
// one more may start: one of Envoy's cluster circuit breakers, which Istio's DestinationRule
// `connectionPool` sets. DestinationControl keeps three: requests active (`http2MaxRequests`,
// Envoy `max_requests`: an attempt holds its place from the endpoint's choice to its end, so a
// retry takes a place again; one over the limit is answered 503 UO, not queued), HTTP/1.1
// upstream connections open (`tcp.maxConnections`, `max_connections`) and requests waiting for
// one (`http1MaxPendingRequests`, `max_pending_requests`). As Envoy's, the counts are the
// waypoint's (every worker shares them).
//
// Thread-safe (one mutex, held for a map lookup); a destination's entry goes when its count
// drops to zero, so the map holds only destinations with something active.
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
  // Takes a place whatever the limit (Envoy's one connection a worker's pool may always open);
  // an overflow when over it.
  void beginAnyway(const std::string& destination, uint32_t max);
  // A place that tryBegin or beginAnyway took is given back.
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
