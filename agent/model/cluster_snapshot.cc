#include "agent/model/cluster_snapshot.h"

namespace warren::agent {

const k8s::Labels& ClusterSnapshot::namespaceLabels(const std::string& ns) const {
  static const k8s::Labels kEmpty;
  auto it = namespaces.find(ns);
  return it == namespaces.end() ? kEmpty : it->second.meta.labels;
}

}  // namespace warren::agent
