// Envoy's response flags (what went wrong with a request, beyond its status), as Istio's
// `response_flags` label and Envoy's %RESPONSE_FLAGS% access log field name them. Several can
// be set at once; they print comma-separated in Envoy's order (the order of its ResponseFlag
// enum, which this one follows), "-" when none. An L7 authorization denial is not a flag in
// Envoy (a 403 with response code details "rbac_access_denied_matched_policy[...]"), so it is
// not one here either: RequestRecord::response_code_details carries it.
#pragma once

#include <cstdint>
#include <string>

namespace warren::waypoint {

enum class ResponseFlag : uint32_t {
  kNoHealthyUpstream = 1u << 0,                 // UH: no healthy endpoint to pick
  kUpstreamRequestTimeout = 1u << 1,            // UT: timeouts.request / backendRequest
  kLocalReset = 1u << 2,                        // LR: the waypoint reset the stream
  kUpstreamRemoteReset = 1u << 3,               // UR: the endpoint reset the stream
  kUpstreamConnectionFailure = 1u << 4,         // UF: the HBONE connection upstream failed
  kUpstreamConnectionTermination = 1u << 5,     // UC: the endpoint closed the connection
  kUpstreamOverflow = 1u << 6,                  // UO: a pool or circuit-breaker limit
  kNoRouteFound = 1u << 7,                      // NR: no HTTPRoute rule matched (404)
  kDelayInjected = 1u << 8,                     // DI: a TrafficPolicy fault delayed it
  kFaultInjected = 1u << 9,                     // FI: a TrafficPolicy fault answered it
  kRateLimited = 1u << 10,                      // RL: a TrafficPolicy local rate limit (429)
  kDownstreamConnectionTermination = 1u << 11,  // DC: the client went away mid-request
  kUpstreamRetryLimitExceeded = 1u << 12,       // URX: HTTPRoute retries ran out
  kStreamIdleTimeout = 1u << 13,                // SI: idle too long
  kDownstreamProtocolError = 1u << 14,          // DPE: the client broke HTTP (400)
  kUpstreamProtocolError = 1u << 15,            // UPE: the endpoint broke HTTP (502)
  kNoClusterFound = 1u << 16,                   // NC: the backend does not resolve (500)
};

class ResponseFlags {
 public:
  void add(ResponseFlag f) { bits_ |= static_cast<uint32_t>(f); }
  bool has(ResponseFlag f) const { return (bits_ & static_cast<uint32_t>(f)) != 0; }
  bool empty() const { return bits_ == 0; }
  // "UF,URX" in Envoy's order; "-" when none.
  std::string toString() const;
  friend bool operator==(const ResponseFlags&, const ResponseFlags&) = default;

 private:
  uint32_t bits_ = 0;
};

// The short name of one flag ("UF").
const char* shortName(ResponseFlag f);

}  // namespace warren::waypoint
