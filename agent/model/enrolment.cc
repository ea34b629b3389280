#include "agent/model/enrolment.h"

namespace warren::agent {

bool isEnrolled(const k8s::Labels& namespace_labels, const k8s::Pod& pod) {
  if (pod.spec.host_network) return false;
  if (pod.status.phase == "Succeeded" || pod.status.phase == "Failed") return false;
  if (auto it = pod.meta.labels.find(kDataplaneModeLabel); it != pod.meta.labels.end()) {
    if (it->second == "none") return false;
    if (it->second == "ambient") return true;
  }
  auto it = namespace_labels.find(kDataplaneModeLabel);
  return it != namespace_labels.end() && it->second == "ambient";
}

std::vector<EnrolledPod> enrolledPodsOnNode(const ClusterSnapshot& snapshot,
                                            const std::string& node) {
  std::vector<EnrolledPod> out;
  for (const auto& [key, shared] : snapshot.pods) {
    const k8s::Pod& pod = *shared;
    if (pod.spec.node_name != node) continue;
    if (!isEnrolled(snapshot.namespaceLabels(pod.meta.namespace_), pod)) continue;
    out.push_back(EnrolledPod{pod.meta.namespace_, pod.meta.name, pod.meta.uid, pod.status.pod_ip,
                              pod.spec.service_account_name});
  }
  return out;  // std::map iteration order is already namespace/name order
}

}  // namespace warren::agent
