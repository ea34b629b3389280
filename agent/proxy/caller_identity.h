// Who is calling on the proxy socket: the peer's credentials (SO_PEERCRED, taken by the kernel
// at connect time, not claimed by the caller), its pid's cgroup (/proc/<pid>/cgroup), and the
// pod of this node running in that cgroup, which must be a waypoint instance. Deciding is pure
// (`identifyWaypoint`, table-tested); reading the kernel is `peerCredentials` and `cgroupOfPid`.
//
// Pods are found in a cgroup path by either shape:
// - the lab: ".../pod-<namespace>-<name>" (lab/lab_names.h);
// - Kubernetes: a component holding "pod<uid>" (cgroupfs driver: ".../pod<uid>/<container>";
//   systemd driver: "kubepods-<qos>-pod<uid with '_' for '-'>.slice").
// A path two pods could claim is refused, never guessed.
#pragma once

#include <sys/types.h>

#include <string>

#include "agent/model/cluster_snapshot.h"
#include "common/error.h"
#include "common/identity/spiffe_id.h"

namespace warren::agent {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct WaypointCaller {
  std::string pod;       // "ns/name"
  std::string waypoint;  // the Gateway "ns/name"
  identity::SpiffeId identity;
  std::string describe() const { return "Pod " + pod + " (waypoint " + waypoint + ")"; }
};

// SO_PEERCRED of a connected unix socket.
Result<PeerCredentials> peerCredentials(int fd);
// The cgroup v2 path of `pid` ("0::<path>" in <proc>/<pid>/cgroup), e.g. "/wl/node-1/pod-a-b".
Result<std::string> cgroupOfPid(pid_t pid, const std::string& proc = "/proc");

// The pod of `node` whose cgroup `cgroup_path` is (or is under).
Result<const k8s::Pod*> podForCgroup(const ClusterSnapshot& snapshot, const std::string& node,
                                     const std::string& cgroup_path);

// The waypoint pod calling from `cgroup_path`: on `node`, an instance of a warren-waypoint
// Gateway (label gateway.networking.k8s.io/gateway-name), with its SPIFFE identity. Errors
// (kPermissionDenied) say why a caller is refused.
Result<WaypointCaller> identifyWaypoint(const ClusterSnapshot& snapshot, const std::string& node,
                                        const std::string& trust_domain,
                                        const std::string& cgroup_path);

}  // namespace warren::agent
