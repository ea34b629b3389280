// The lab's network: an underlay bridge in its own netns, one netns per node linked to it by a
// veth, per-node pod CIDRs routed between nodes. Built with iproute2 inside the lab's
// namespaces only; nothing is added to the root netns.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "lab/lab_names.h"

namespace warren::lab {

class LabNetwork {
 public:
  explicit LabNetwork(const LabNames& names) : names_(names) {}

  // Underlay netns + bridge, then every node netns with its uplink, address, routes to the
  // other nodes' pod CIDRs and ip_forward (inside the node netns only).
  Status create(int nodes) const;

  // Every /run/netns entry of this lab (underlay, nodes, pods), found by name.
  std::vector<std::string> scanNetns() const;

  static Status addNetns(const std::string& netns);
  // Removes a netns; missing is fine.
  static Status deleteNetns(const std::string& netns);
  static bool netnsExists(const std::string& netns);

 private:
  Status createNode(int node, int nodes) const;
  const LabNames& names_;
};

// Writes a numeric net.* sysctl ("net.ipv4.ip_forward") of the network namespace at
// `netns_path` (they are per netns).
Status setNetnsSysctl(const std::string& netns_path, const std::string& key, int value);

}  // namespace warren::lab
