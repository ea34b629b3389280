#include "mesh/state/workload.h"

namespace warren::mesh {

const char* toString(TunnelProtocol p) {
  switch (p) {
    case TunnelProtocol::kNone: return "NONE";
    case TunnelProtocol::kHbone: return "HBONE";
    case TunnelProtocol::kLegacyIstioMtls: return "LEGACY_ISTIO_MTLS";
  }
  return "?";
}

const char* toString(WorkloadStatus s) {
  return s == WorkloadStatus::kHealthy ? "HEALTHY" : "UNHEALTHY";
}

const char* toString(WorkloadType t) {
  switch (t) {
    case WorkloadType::kDeployment: return "DEPLOYMENT";
    case WorkloadType::kCronJob: return "CRONJOB";
    case WorkloadType::kPod: return "POD";
    case WorkloadType::kJob: return "JOB";
  }
  return "?";
}

const char* toString(NetworkMode m) {
  return m == NetworkMode::kStandard ? "STANDARD" : "HOST_NETWORK";
}

const char* toString(ApplicationTunnelProtocol p) {
  return p == ApplicationTunnelProtocol::kNone ? "NONE" : "PROXY";
}

nlohmann::json GatewayAddress::toJson() const {
  nlohmann::json j;
  if (const auto* h = std::get_if<NamespacedHostname>(&destination)) {
    j["hostname"] = h->key();
  } else {
    j["address"] = std::get<NetworkAddress>(destination).toString();
  }
  j["hboneMtlsPort"] = hbone_mtls_port;
  return j;
}

Result<identity::SpiffeId> Workload::identity() const {
  return identity::SpiffeId::make(trust_domain.empty() ? kDefaultTrustDomain : trust_domain,
                                  namespace_,
                                  service_account.empty() ? "default" : service_account);
}

nlohmann::json Workload::toJson() const {
  nlohmann::json j;
  j["uid"] = uid;
  j["name"] = name;
  j["namespace"] = namespace_;
  j["workloadIps"] = addresses;
  if (!hostname.empty()) j["hostname"] = hostname;
  j["network"] = network;
  j["protocol"] = toString(tunnel_protocol);
  j["trustDomain"] = trust_domain;
  j["serviceAccount"] = service_account;
  auto id = identity();
  j["identity"] = id ? id->uri() : "";
  if (waypoint) j["waypoint"] = waypoint->toJson();
  if (network_gateway) j["networkGateway"] = network_gateway->toJson();
  j["node"] = node;
  j["canonicalName"] = canonical_name;
  j["canonicalRevision"] = canonical_revision;
  j["workloadType"] = toString(workload_type);
  j["workloadName"] = workload_name;
  if (application_tunnel) {
    j["applicationTunnel"] = {{"protocol", toString(application_tunnel->protocol)},
                              {"port", application_tunnel->port}};
  }
  nlohmann::json svcs = nlohmann::json::object();
  for (const auto& [key, ports] : services) {
    nlohmann::json p = nlohmann::json::object();
    for (auto [sp, tp] : ports) p[std::to_string(sp)] = tp;
    svcs[key] = p;
  }
  j["services"] = svcs;
  j["authorizationPolicies"] = authorization_policies;
  j["status"] = toString(status);
  j["clusterId"] = cluster_id;
  j["locality"] = {{"region", locality.region}, {"zone", locality.zone},
                   {"subzone", locality.subzone}};
  j["networkMode"] = toString(network_mode);
  j["capacity"] = capacity;
  return j;
}

}  // namespace warren::mesh
