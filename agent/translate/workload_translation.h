// Pods and Services to istio.workload.Address resources for node proxies. Pure functions;
// table-tested in tests/agent/.
//
// Workload: uid "<cluster>//Pod/<ns>/<name>", the pod IP, identity (trust domain, service
// account), node, tunnel protocol HBONE when enrolled (NONE otherwise), `services` =
// every Service selecting the pod with its ports resolved against the pod's container ports
// (named target ports resolve per pod; a name the pod lacks drops that port for the pod), the
// selector-scoped policies, and the waypoint. Service: hostname <name>.<ns>.svc.<domain>, the
// ClusterIP, ports (a named target port is sent as 0: resolved per workload), the waypoint
// from the label `warren.dev/use-waypoint` (object first, then namespace; `none` opts out).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "istio/workload/workload.pb.h"

namespace warren::agent {

inline constexpr const char* kUseWaypointLabel = "warren.dev/use-waypoint";
inline constexpr const char* kUseWaypointNamespaceLabel = "warren.dev/use-waypoint-namespace";
inline constexpr uint32_t kHboneMtlsPort = 15008;

struct TranslationContext {
  std::string cluster_id = "Kubernetes";
  std::string trust_domain = "cluster.local";
  std::string cluster_domain = "cluster.local";
  std::string network;  // "" = the default network
  std::string root_namespace = "warren-system";
  friend bool operator==(const TranslationContext&, const TranslationContext&) = default;
};

// The waypoint ("ns", "name") an object's `warren.dev/use-waypoint` label names, else its
// namespace's; nullopt when neither does or the object opts out with `none`.
std::optional<std::pair<std::string, std::string>> waypointReference(const ClusterSnapshot& snap,
                                                                     const k8s::ObjectMeta& meta);
// The warren-waypoint Gateway a pod is an instance of (label
// gateway.networking.k8s.io/gateway-name), else null.
const Gateway* waypointGatewayOfPod(const ClusterSnapshot& snap, const k8s::Pod& pod);
// A waypoint's own Service (selector gateway.networking.k8s.io/gateway-name naming a
// warren-waypoint Gateway of its namespace): it is never bound to a waypoint itself.
bool isWaypointService(const ClusterSnapshot& snap, const k8s::Service& svc);

std::string workloadUid(const TranslationContext& ctx, const std::string& ns,
                        const std::string& name);
std::string serviceHostname(const TranslationContext& ctx, const k8s::Service& svc);

// nullopt for pods that are not addressable yet (no pod IP) or finished; `notes` gets why a
// port was left out.
std::optional<istio::workload::Workload> translatePod(const ClusterSnapshot& snap,
                                                      const k8s::Pod& pod,
                                                      const TranslationContext& ctx,
                                                      std::vector<std::string>* notes = nullptr);

// nullopt for headless/ExternalName services (no VIP for a node proxy to match).
std::optional<istio::workload::Service> translateService(const ClusterSnapshot& snap,
                                                         const k8s::Service& svc,
                                                         const TranslationContext& ctx);

istio::workload::AppProtocol appProtocol(const std::string& service_app_protocol);

}  // namespace warren::agent
