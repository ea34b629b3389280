// Gateway API `Gateway` (gateway.networking.k8s.io/v1) as the agent keeps it, and the pieces
// routes share with it (ParentRef). A Gateway of class `warren-waypoint` is a waypoint: the
// controller role deploys it, and the label `warren.dev/waypoint-for` (or Istio's
// `istio.io/waypoint-for`) says which traffic it takes: service (default), workload, all, none.
// Decoding validates what the Gateway API schema validates (listener names, ports, hostnames)
// and names the offending field; what only a waypoint requires (an HBONE listener on 15008) is
// the controller's to report in status, not a decoding error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/k8s/object.h"

namespace warren::agent {

inline constexpr const char* kGatewayApiGroup = "gateway.networking.k8s.io";
inline constexpr const char* kWaypointGatewayClass = "warren-waypoint";
// Gateway API controllerName of the class, and of every status entry Warren writes.
inline constexpr const char* kWaypointControllerName = "warren.dev/waypoint-controller";
inline constexpr const char* kWaypointForLabel = "warren.dev/waypoint-for";
inline constexpr const char* kIstioWaypointForLabel = "istio.io/waypoint-for";
// Label on every pod (and the Service selector) of a waypoint: the Gateway API convention.
inline constexpr const char* kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";
inline constexpr uint16_t kWaypointHbonePort = 15008;

enum class WaypointFor { kService, kWorkload, kAll, kNone };
const char* toString(WaypointFor w);

struct GatewayListener {
  std::string name;
  std::string hostname;
  uint16_t port = 0;
  std::string protocol;  // HTTP, HTTPS, TLS, TCP, UDP, HBONE, ...
};

struct Gateway {
  k8s::ObjectMeta meta;
  std::string gateway_class_name;
  std::vector<GatewayListener> listeners;
  WaypointFor waypoint_for = WaypointFor::kService;
  // spec.infrastructure.labels/annotations: copied onto the generated Deployment, Service and
  // ServiceAccount (Gateway API GEP-1867).
  k8s::Labels infrastructure_labels, infrastructure_annotations;
  k8s::Object object;  // the whole document, with its status

  bool isWaypoint() const { return gateway_class_name == kWaypointGatewayClass; }
  bool acceptsServiceTraffic() const {
    return waypoint_for == WaypointFor::kService || waypoint_for == WaypointFor::kAll;
  }
  bool acceptsWorkloadTraffic() const {
    return waypoint_for == WaypointFor::kWorkload || waypoint_for == WaypointFor::kAll;
  }
};

// A route's parentRefs entry (Gateway API ParentReference). group "" is the core group.
struct ParentRef {
  std::string group = kGatewayApiGroup;
  std::string kind = "Gateway";
  std::string namespace_;  // defaults to the route's namespace
  std::string name;
  std::string section_name;      // a Service port name for Service parents
  std::optional<uint16_t> port;  // a Service port for Service parents

  bool isService() const { return (group.empty() || group == "core") && kind == "Service"; }
  bool isGateway() const { return group == kGatewayApiGroup && kind == "Gateway"; }
  // "Service shop/api:8080": how status messages and logs name it.
  std::string describe() const;
  bool operator==(const ParentRef&) const = default;
};

Result<Gateway> decodeGateway(const k8s::Object& obj);
// `parentRefs[i]` of a route (also used leniently by the controller on rejected routes).
Result<ParentRef> decodeParentRef(const k8s::Fields& f, const std::string& route_namespace);

// Gateway API hostname (RFC 1123 subdomain, optionally with a leading "*." label).
bool isValidGatewayHostname(const std::string& h);
// Gateway API SectionName / listener name: a DNS-1123 subdomain, at most 253 characters.
bool isValidSectionName(const std::string& s);

}  // namespace warren::agent
