// A whole lab: `up` (dirs, CA, network, cgroups, CNI configs, the node DaemonSets of deploy/
// run on every node, state.json) and `down` (everything above, found by name even when the
// state is missing), plus the node components' lifecycle (restart, rolling update).
#pragma once

#include <ios>
#include <string>
#include <vector>

#include "common/error.h"
#include "lab/lab_names.h"
#include "lab/lab_state.h"
#include "lab/node_daemonset.h"
#include "lab/node_pod.h"
#include "lab/node_runtime.h"

namespace warren::lab {

// WARREN_LAB_SKIP=ztunnel[,agent]: containers `up` does not start (tests that stand in for them).
bool skippedComponent(const std::string& name);

struct UpOptions {
  int nodes = 2;
  // Each "--name" or "--name=value": appended to every node's `agent` container, now and on
  // every restart (kept in state.json).
  std::vector<std::string> agent_flags;
  std::string daemonsets;           // the node DaemonSet manifests (default: deploy/base/node)
  std::string runtime = "process";  // process | podman
  std::string image_tag;            // podman: tag of the warren-node image (make images)
};

class LabCluster {
 public:
  LabCluster(std::string name, std::string dir, std::string cgroup_mount, std::string bin_dir);

  Status up(const UpOptions& options);
  // Removes everything of this lab; `report` gets one line per thing removed or left behind.
  Status down(std::vector<std::string>* report);

  // `restart node-N CONTAINER`: without `kill`, a rolling update of the DaemonSet pod holding
  // that container on the node, as its updateStrategy says (maxSurge 1: the new pod starts
  // and turns ready beside the old one, then the old one is terminated; maxSurge 0: the old
  // one goes first). With `kill`: the container is SIGKILLed and started again in its pod, as
  // kubelet restarts a crashed container.
  Status restartComponent(LabState& state, const std::string& container, int node, bool kill) const;

  // What uninstalling does to the nodes: the node DaemonSets' pods are deleted (grace period),
  // then the clean-up DaemonSet at `cleanup_path` (deploy/cleanup) runs on every node: its
  // init containers remove warren-cni from the CNI config and bin dir, the eBPF pins and
  // links, and the agent's run dir.
  Status nodeCleanup(LabState& state, const std::string& cleanup_path) const;

  std::string nodeDir(int node) const;
  std::string componentLog(int node, const std::string& container) const;
  const LabNames& names() const { return names_; }

 private:
  struct Running {
    const NodeDaemonSet* ds;
    std::string node_name;
    int node;
    ResolvedContainer container;
    ContainerPlacement placement;
    ComponentState state;
    std::streamoff log_offset = 0;  // where this container's output starts in its log
  };

  Result<std::vector<NodeDaemonSet>> daemonSets(const LabState& state) const;
  Result<Running> startContainer(const LabState& state, NodeRuntime& rt, const NodeDaemonSet& ds,
                                 const ContainerSpec& c, const PodIdentity& pod, int node) const;
  // Every container of the pod (the skipped ones aside).
  Result<std::vector<Running>> startPod(const LabState& state, NodeRuntime& rt,
                                        const NodeDaemonSet& ds, int node) const;
  // Until every container's readiness probe passes (bounded), failing as soon as one exits.
  Status waitReady(NodeRuntime& rt, const std::vector<Running>& pods,
                   std::chrono::seconds limit) const;
  // SIGTERM, terminationGracePeriodSeconds, SIGKILL.
  void terminate(NodeRuntime& rt, const std::vector<ComponentState>& containers,
                 int grace_seconds) const;
  void record(LabState& state, const std::vector<Running>& pods) const;

  std::string dir_;
  std::string bin_dir_;
  LabNames names_;
};

// Mount points of the cgroup v1 hierarchies (hybrid hosts), for clean-up.
std::vector<std::string> cgroupV1Mounts();

// PIDs whose network namespace is one of `netns_paths` (found through /proc/*/ns/net).
std::vector<pid_t> pidsInNetns(const std::vector<std::string>& netns_paths);

}  // namespace warren::lab
