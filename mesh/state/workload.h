// The mesh's model of one workload (a pod, or a WorkloadEntry), mirroring istio.workload.Workload
// (INTEROP §10) with validated, typed fields. Built by xds_convert or directly by tests.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "mesh/state/network_address.h"

namespace warren::mesh {

// The trust domain of an identity whose Workload.trust_domain is empty (INTEROP §10).
inline constexpr std::string_view kDefaultTrustDomain = "cluster.local";
inline constexpr uint16_t kHboneMtlsPort = 15008;

enum class TunnelProtocol { kNone, kHbone, kLegacyIstioMtls };
enum class WorkloadStatus { kHealthy, kUnhealthy };
enum class WorkloadType { kDeployment, kCronJob, kPod, kJob };
enum class NetworkMode { kStandard, kHostNetwork };
enum class ApplicationTunnelProtocol { kNone, kProxy };

const char* toString(TunnelProtocol p);
const char* toString(WorkloadStatus s);
const char* toString(WorkloadType t);
const char* toString(NetworkMode m);
const char* toString(ApplicationTunnelProtocol p);

struct NamespacedHostname {
  std::string namespace_;
  std::string hostname;
  std::string key() const { return namespace_ + "/" + hostname; }
  friend bool operator==(const NamespacedHostname&, const NamespacedHostname&) = default;
};

// Where a waypoint or network gateway is: a Service by name, or a concrete address.
struct GatewayAddress {
  std::variant<NamespacedHostname, NetworkAddress> destination;
  uint16_t hbone_mtls_port = kHboneMtlsPort;
  nlohmann::json toJson() const;
  friend bool operator==(const GatewayAddress&, const GatewayAddress&) = default;
};

struct ApplicationTunnel {
  ApplicationTunnelProtocol protocol = ApplicationTunnelProtocol::kNone;
  uint16_t port = 0;  // 0: use the original target port
};

struct Locality {
  std::string region;
  std::string zone;
  std::string subzone;
};

// Service port -> target port, as the workload exposes it for one service. Named target ports
// are resolved per workload by the control plane, so this map wins over Service.ports.
using PortMap = std::map<uint16_t, uint16_t>;

struct Workload {
  std::string uid;
  std::string name;
  std::string namespace_;
  std::vector<net::IpAddress> addresses;
  std::string hostname;
  std::string network;
  TunnelProtocol tunnel_protocol = TunnelProtocol::kNone;
  std::string trust_domain;     // empty: kDefaultTrustDomain
  std::string service_account;  // empty: "default"
  std::optional<GatewayAddress> waypoint;
  std::optional<GatewayAddress> network_gateway;
  std::string node;
  std::string canonical_name;
  std::string canonical_revision;
  WorkloadType workload_type = WorkloadType::kDeployment;
  std::string workload_name;
  std::optional<ApplicationTunnel> application_tunnel;
  std::map<std::string, PortMap> services;          // "ns/hostname" -> ports
  std::vector<std::string> authorization_policies;  // "ns/name" of selector-scoped policies
  WorkloadStatus status = WorkloadStatus::kHealthy;
  std::string cluster_id;
  Locality locality;
  NetworkMode network_mode = NetworkMode::kStandard;
  uint32_t capacity = 1;  // load-balancing weight; xDS default when unset

  // spiffe://<trust_domain or cluster.local>/ns/<namespace>/sa/<service_account or default>;
  // an error when those do not form a valid SPIFFE ID (StateSnapshot rejects such workloads).
  Result<identity::SpiffeId> identity() const;
  nlohmann::json toJson() const;
};

}  // namespace warren::mesh
