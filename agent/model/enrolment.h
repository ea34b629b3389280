// Which pods belong to the mesh: a pure function of namespace and pod labels, so the eBPF
// reconciler, ZDS and xDS all agree. Namespace label `warren.dev/dataplane-mode=ambient`
// enrols its pods; the pod label `warren.dev/dataplane-mode=none` opts one pod out, `=ambient`
// opts one pod in. Host-network pods are never enrolled (they share the node's netns), nor
// are finished pods (Succeeded/Failed).
#pragma once

#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"

namespace warren::agent {

inline constexpr const char* kDataplaneModeLabel = "warren.dev/dataplane-mode";

bool isEnrolled(const k8s::Labels& namespace_labels, const k8s::Pod& pod);

struct EnrolledPod {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string pod_ip;  // empty until the pod object carries status.podIP
  std::string service_account;

  bool operator==(const EnrolledPod&) const = default;
};

// Enrolled pods scheduled on `node` (spec.nodeName), sorted by namespace/name.
std::vector<EnrolledPod> enrolledPodsOnNode(const ClusterSnapshot& snapshot,
                                            const std::string& node);

}  // namespace warren::agent
