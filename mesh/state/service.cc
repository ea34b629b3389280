#include "mesh/state/service.h"

namespace warren::mesh {

const char* toString(AppProtocol p) {
  switch (p) {
    case AppProtocol::kUnknown: return "UNKNOWN";
    case AppProtocol::kHttp11: return "HTTP11";
    case AppProtocol::kHttp2: return "HTTP2";
    case AppProtocol::kGrpc: return "GRPC";
    case AppProtocol::kTcp: return "TCP";
    case AppProtocol::kTls: return "TLS";
  }
  return "?";
}

const char* toString(LoadBalancingScope s) {
  switch (s) {
    case LoadBalancingScope::kRegion: return "REGION";
    case LoadBalancingScope::kZone: return "ZONE";
    case LoadBalancingScope::kSubzone: return "SUBZONE";
    case LoadBalancingScope::kNode: return "NODE";
    case LoadBalancingScope::kCluster: return "CLUSTER";
    case LoadBalancingScope::kNetwork: return "NETWORK";
  }
  return "?";
}

const char* toString(LoadBalancingMode m) {
  switch (m) {
    case LoadBalancingMode::kUnspecified: return "UNSPECIFIED_MODE";
    case LoadBalancingMode::kStrict: return "STRICT";
    case LoadBalancingMode::kFailover: return "FAILOVER";
    case LoadBalancingMode::kPassthrough: return "PASSTHROUGH";
  }
  return "?";
}

const char* toString(HealthPolicy h) {
  return h == HealthPolicy::kOnlyHealthy ? "ONLY_HEALTHY" : "ALLOW_ALL";
}

const char* toString(IpFamilies f) {
  switch (f) {
    case IpFamilies::kAutomatic: return "AUTOMATIC";
    case IpFamilies::kIpv4Only: return "IPV4_ONLY";
    case IpFamilies::kIpv6Only: return "IPV6_ONLY";
    case IpFamilies::kDual: return "DUAL";
  }
  return "?";
}

const ServicePort* Service::findPort(uint16_t service_port) const {
  for (const auto& p : ports) {
    if (p.service_port == service_port) return &p;
  }
  return nullptr;
}

nlohmann::json Service::toJson() const {
  nlohmann::json j;
  j["name"] = name;
  j["namespace"] = namespace_;
  j["hostname"] = hostname;
  j["vips"] = addresses;
  nlohmann::json p = nlohmann::json::object();
  for (const auto& port : ports) {
    p[std::to_string(port.service_port)] = {{"targetPort", port.target_port},
                                            {"appProtocol", toString(port.app_protocol)}};
  }
  j["ports"] = p;
  nlohmann::json sans = nlohmann::json::array();
  for (const auto& san : subject_alt_names) sans.push_back(san.uri());
  j["subjectAltNames"] = sans;
  if (waypoint) j["waypoint"] = waypoint->toJson();
  if (load_balancing) {
    nlohmann::json prefs = nlohmann::json::array();
    for (auto s : load_balancing->routing_preference) prefs.push_back(toString(s));
    j["loadBalancer"] = {{"routingPreferences", prefs},
                         {"mode", toString(load_balancing->mode)},
                         {"healthPolicy", toString(load_balancing->health_policy)}};
  }
  j["ipFamilies"] = toString(ip_families);
  return j;
}

}  // namespace warren::mesh
