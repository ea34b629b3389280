// The mesh's model of a Service, mirroring istio.workload.Service (INTEROP §10). Endpoints are
// not stored here: they are the workloads whose `services` map names this service, indexed by
// StateSnapshot.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mesh/state/workload.h"

namespace warren::mesh {

enum class AppProtocol { kUnknown, kHttp11, kHttp2, kGrpc, kTcp, kTls };
enum class LoadBalancingScope { kRegion, kZone, kSubzone, kNode, kCluster, kNetwork };
enum class LoadBalancingMode { kUnspecified, kStrict, kFailover, kPassthrough };
enum class HealthPolicy { kOnlyHealthy, kAllowAll };
enum class IpFamilies { kAutomatic, kIpv4Only, kIpv6Only, kDual };

const char* toString(AppProtocol p);
const char* toString(LoadBalancingScope s);
const char* toString(LoadBalancingMode m);
const char* toString(HealthPolicy h);
const char* toString(IpFamilies f);

struct ServicePort {
  uint16_t service_port = 0;
  // 0 means a named target port: each endpoint's Workload.services map resolves it.
  uint16_t target_port = 0;
  AppProtocol app_protocol = AppProtocol::kUnknown;
};

struct LoadBalancing {
  std::vector<LoadBalancingScope> routing_preference;
  LoadBalancingMode mode = LoadBalancingMode::kUnspecified;
  HealthPolicy health_policy = HealthPolicy::kOnlyHealthy;
};

struct Service {
  std::string name;
  std::string namespace_;
  std::string hostname;
  std::vector<NetworkAddress> addresses;  // VIPs, per network
  std::vector<ServicePort> ports;
  std::vector<identity::SpiffeId> subject_alt_names;  // extra identities endpoints may have
  std::optional<GatewayAddress> waypoint;
  std::optional<LoadBalancing> load_balancing;
  IpFamilies ip_families = IpFamilies::kAutomatic;

  // The xDS resource name of a Service: "namespace/hostname".
  std::string key() const { return namespace_ + "/" + hostname; }
  const ServicePort* findPort(uint16_t service_port) const;
  nlohmann::json toJson() const;
};

}  // namespace warren::mesh
