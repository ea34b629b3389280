// The lab's kubelet, run inside the CLI after every apply/delete/label (no daemon): turns
// Deployments into Pods, schedules Pods, creates each pod's netns, adds it through CNI, starts
// its containers detached in the pod netns and cgroup, and writes the Pod's status; removes
// pods whose object is gone or was replaced (new uid).
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"
#include "common/kube/manifest_store.h"
#include "lab/cni_runner.h"
#include "lab/lab_names.h"
#include "lab/lab_state.h"
#include "lab/process.h"
#include "lab/scheduler.h"

namespace warren::lab {

using kube::ManifestStore;

// What the kubelet knows about a pod it started: <dir>/pods/<ns>/<pod>.json.
struct PodRuntime {
  std::string ns, name, uid, node;
  std::string netns;  // name under /run/netns
  std::string cgroup;
  std::string container_id;
  std::string pod_ip, host_ip;
  bool host_network = false;
  nlohmann::json cni_result;  // null until CNI ADD succeeded
  std::vector<pid_t> pids;
  // The first container's hostPath mounts (what `exec` gives a command run in the pod).
  std::vector<BindMount> mounts;

  nlohmann::json toJson() const;
  static Result<PodRuntime> fromJson(const nlohmann::json& j);
};

class Kubelet {
 public:
  Kubelet(const LabState& state, const LabNames& names);

  // Admits objects other writers stored without the API server's allocations (a Service
  // without a ClusterIP: the waypoint controller's), then runs the pods.
  Status reconcile();
  std::vector<PodRuntime> runtimes() const;
  Result<PodRuntime> runtime(const std::string& ns, const std::string& name) const;
  Status teardown(const PodRuntime& rt);

  std::string podLogPath(const std::string& ns, const std::string& name) const;
  // The lab's own primary network config of a node (bridge + host-local), written by `up`
  // into the node's /etc/cni/net.d; warren-cni install chains itself into it.
  nlohmann::json conflistFor(int node) const;
  std::string conflistPath(int node) const;
  // The network config CNI ADD/DEL use, read from the node's conf dir like containerd does:
  // the first *.conflist/*.conf/*.json by name.
  Result<nlohmann::json> activeConflist(int node) const;

 private:
  Status admit(const std::vector<k8s::Object>& objects);
  Status materializeDeployments(const std::vector<k8s::Object>& objects);
  Status startPod(const k8s::Object& stored, std::vector<NodeLoad>& loads);
  Status saveRuntime(const PodRuntime& rt) const;
  Result<CniRunner> cniRunner(int node) const;
  std::string runtimePath(const std::string& ns, const std::string& name) const;

  const LabState& state_;
  const LabNames& names_;
  ManifestStore store_;
};

}  // namespace warren::lab
