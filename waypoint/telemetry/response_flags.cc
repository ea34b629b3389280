#include "waypoint/telemetry/response_flags.h"

namespace warren::waypoint {
namespace {

// Every flag in enum (= Envoy's printing) order.
constexpr ResponseFlag kAll[] = {
    ResponseFlag::kNoHealthyUpstream,
    ResponseFlag::kUpstreamRequestTimeout,
    ResponseFlag::kLocalReset,
    ResponseFlag::kUpstreamRemoteReset,
    ResponseFlag::kUpstreamConnectionFailure,
    ResponseFlag::kUpstreamConnectionTermination,
    ResponseFlag::kUpstreamOverflow,
    ResponseFlag::kNoRouteFound,
    ResponseFlag::kDelayInjected,
    ResponseFlag::kFaultInjected,
    ResponseFlag::kRateLimited,
    ResponseFlag::kDownstreamConnectionTermination,
    ResponseFlag::kUpstreamRetryLimitExceeded,
    ResponseFlag::kStreamIdleTimeout,
    ResponseFlag::kDownstreamProtocolError,
    ResponseFlag::kUpstreamProtocolError,
    ResponseFlag::kNoClusterFound,
};

}  // namespace

const char* shortName(ResponseFlag f) {
  switch (f) {
    case ResponseFlag::kNoHealthyUpstream:
      return "UH";
    case ResponseFlag::kUpstreamConnectionFailure:
      return "UF";
    case ResponseFlag::kUpstreamOverflow:
      return "UO";
    case ResponseFlag::kNoRouteFound:
      return "NR";
    case ResponseFlag::kUpstreamRetryLimitExceeded:
      return "URX";
    case ResponseFlag::kNoClusterFound:
      return "NC";
    case ResponseFlag::kDownstreamConnectionTermination:
      return "DC";
    case ResponseFlag::kUpstreamRequestTimeout:
      return "UT";
    case ResponseFlag::kLocalReset:
      return "LR";
    case ResponseFlag::kUpstreamRemoteReset:
      return "UR";
    case ResponseFlag::kUpstreamConnectionTermination:
      return "UC";
    case ResponseFlag::kDownstreamProtocolError:
      return "DPE";
    case ResponseFlag::kUpstreamProtocolError:
      return "UPE";
    case ResponseFlag::kStreamIdleTimeout:
      return "SI";
    case ResponseFlag::kDelayInjected:
      return "DI";
    case ResponseFlag::kFaultInjected:
      return "FI";
    case ResponseFlag::kRateLimited:
      return "RL";
  }
  return "?";
}

std::string ResponseFlags::toString() const {
  if (bits_ == 0) return "-";
  std::string out;
  for (ResponseFlag f : kAll) {
    if (!has(f)) continue;
    if (!out.empty()) out += ',';
    out += shortName(f);
  }
  return out;
}

}  // namespace warren::waypoint
