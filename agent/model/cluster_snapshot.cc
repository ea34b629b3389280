#include "agent/model/cluster_snapshot.h"

namespace warren::agent {

const k8s::Labels& ClusterSnapshot::namespaceLabels(const std::string& ns) const {
  static const k8s::Labels kEmpty;
  auto it = namespaces.find(ns);
  return it == namespaces.end() ? kEmpty : it->second.meta.labels;
}

const Gateway* ClusterSnapshot::waypointGateway(const std::string& ns,
                                                const std::string& name) const {
  auto it = gateways.find(ns + "/" + name);
  return it != gateways.end() && it->second.isWaypoint() ? &it->second : nullptr;
}

}  // namespace warren::agent
