// `warrenctl waypoint routes [NAME]` (cf. `istioctl proxy-config routes`): the routes a waypoint
// compiled, read from the waypoint's own admin (`/routes`, and `/stats` for which Gateway it
// serves). The admin listens on the waypoint pod's loopback, as Envoy's does, so warrenctl asks
// the address it is given (`--admin`, default 127.0.0.1:15000): run it in the pod's network
// namespace (`warren-lab exec NS/POD -- warrenctl waypoint routes`), or through
// `kubectl port-forward pod/POD 15000` on Kubernetes.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"

namespace warren::ctl {

// {"gateway": "NS/NAME", "routes": <the admin's /routes>} from the admin at `admin`
// (HOST:PORT). `expect_gateway` ("NS/NAME", "" = any): an admin serving another Gateway is an
// error naming both.
Result<nlohmann::json> fetchWaypointRoutes(const std::string& admin,
                                           const std::string& expect_gateway,
                                           std::chrono::milliseconds timeout);

// One row per rule a route attached to the waypoint's Services: route, rule, matches, backends
// with weights, timeouts, retry, mirrors; then the Services and ports it serves and every
// diagnostic (a rule refused by the waypoint, with the reason).
std::string renderWaypointRoutes(const nlohmann::json& doc);

}  // namespace warren::ctl
