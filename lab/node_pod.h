// One DaemonSet pod on one lab node, resolved the way a kubelet would: the downward API filled
// in (POD_NAME, NODE_NAME, INSTANCE_IP...), $(VAR) references in command and args expanded,
// and every volume mapped onto the lab node's "host" paths. Pure: the same answer serves the
// process runtime (bind mounts in a private mount namespace) and the podman runtime (-v).
//
// A lab node's host filesystem is the machine's, except for the paths in NodeHost: those are
// the node's own directories in the lab (its run dir, CNI dirs, pin dir, cgroup), so several
// nodes and several labs share one machine. A hostPath volume must be one of them or one of
// the shared kernel paths; anything else is refused, naming the volume and the path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "lab/lab_names.h"
#include "lab/node_daemonset.h"
#include "lab/process.h"

namespace warren::lab {

// A lab node's host, as its pods see it.
struct NodeHost {
  std::string node_name;  // spec.nodeName
  std::string node_ip;    // status.hostIP (and status.podIP: hostNetwork)
  // Host path -> real path, for the node-private ones (/var/run/warren -> <dir>/nodes/node-1/run).
  std::map<std::string, std::string> private_paths;
  // Host paths that are the machine's own and shared by every node (/sys/fs/bpf, /var/run/netns).
  std::vector<std::string> shared_paths;
  // secretName -> real directory holding its keys (warren-ca -> <dir>/ca).
  std::map<std::string, std::string> secrets;

  // The real path for a host path, when the lab provides it: a private path or a path below
  // one (/var/run/warren/proxy -> <dir>/nodes/node-1/run/proxy), or a shared path.
  Result<std::string> realPath(const std::string& host_path) const;
  // What the node's own processes (the CNI plugins) see: every private path bound in place.
  std::vector<BindMount> nodeMounts() const;
};

// Lab node i's host: its private paths under <lab dir>/nodes/node-<i> (run dir, CNI dirs),
// its pin dir and cgroup, the machine's bpffs and netns dir, and the cluster CA as Secret
// warren-ca.
NodeHost labNodeHost(const std::string& lab_dir, const LabNames& names, int node);

// Where a lab node's CNI plugins are: the node's /opt/cni/bin (warren-cni install copies
// itself there), then the machine's reference plugins (bridge, host-local).
inline constexpr const char* kNodeCniPath = "/opt/cni/bin:/usr/lib/cni";

struct PodIdentity {
  std::string name;  // <daemonset>-<node>-<generation>
  std::string ns;
  std::string uid;
};

struct ResolvedContainer {
  std::string name;
  std::string image;
  std::vector<std::string> argv;  // command + args, $(VAR) expanded
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<BindMount> mounts;  // in mountPath order, parents first
  Probe readiness;                // exec argv $(VAR) expanded too
  std::vector<std::string> cap_add, cap_drop;
  bool privileged = false;
  bool no_new_privileges = false;
  bool read_only_root = false;
  std::optional<int64_t> run_as_user;
};

// `$(NAME)` -> env value (Kubernetes' rule: `$$(NAME)` stays `$(NAME)` literally). Unlike
// Kubernetes, which leaves an unknown reference as it is, the lab refuses it: a misspelt
// variable is a broken manifest. `what` names the field in the error. Pure.
Result<std::string> expandVars(const std::string& text,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const std::string& what);

// What the downward API tells a container about its pod (valueFrom.fieldRef), for DaemonSet
// pods (hostNetwork: pod IP = node IP) and the kubelet's pods alike.
struct DownwardFields {
  std::string name;             // metadata.name
  std::string ns;               // metadata.namespace
  std::string uid;              // metadata.uid
  std::string node_name;        // spec.nodeName
  std::string service_account;  // spec.serviceAccountName
  std::string pod_ip;           // status.podIP(s)
  std::string host_ip;          // status.hostIP(s)
};

// The value of a fieldRef; an error naming the fields the lab fills for any other. Pure.
Result<std::string> downwardValue(const std::string& field_path, const DownwardFields& pod);

// A kubelet pod's container environment: first the lab's conveniences every lab pod gets
// (POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME, HOST_IP), then the container's `env` in order: a
// `value` with $(VAR) references to variables before it expanded, or `valueFrom.fieldRef`
// (downwardValue). Other valueFrom sources (Secrets, ConfigMaps) are refused naming the
// variable: "env[2] (TOKEN): only valueFrom.fieldRef ...". Pure.
Result<std::vector<std::pair<std::string, std::string>>> podContainerEnv(
    const DownwardFields& pod, const YAML::Node& container);

Result<ResolvedContainer> resolveContainer(const NodeDaemonSet& ds, const ContainerSpec& c,
                                           const PodIdentity& pod, const NodeHost& host);

}  // namespace warren::lab
