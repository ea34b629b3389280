// Scheduling and address decisions of the lab's control plane, as pure functions.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::lab {

struct NodeLoad {
  std::string name;  // "node-1"
  int pods = 0;
};

// `requested` (spec.nodeName) when set and known; otherwise the node with the fewest pods,
// ties going to the first in `nodes` order.
Result<std::string> pickNode(const std::string& requested, const std::vector<NodeLoad>& nodes);

// Whether the lab's kubelet runs a stored Pod bound to `node_name` (spec.nodeName): unbound
// ("", scheduled here) or a lab node name (`node-<i>`, checked by pickNode). A Pod bound to any
// other name belongs to a node outside the lab, as a kubelet runs only its own node's pods:
// nothing runs it, yet the agents see it in the model. `apply` refuses such names (it checks
// nodes), so only a direct writer of the store makes them: the scale run's synthetic
// workloads (bench/scale). Pure.
bool runByLab(const std::string& node_name);

// Service ClusterIPs come from 10.96.0.0/16, as in kubeadm's default service CIDR.
inline constexpr const char* kServiceCidr = "10.96.0.0/16";
bool inServiceCidr(const std::string& ip);
// The lowest free address in the service CIDR (10.96.0.1 up; network and broadcast excluded).
Result<std::string> allocateClusterIp(const std::set<std::string>& used);

}  // namespace warren::lab
