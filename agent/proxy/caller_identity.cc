#include "agent/proxy/caller_identity.h"

#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "agent/translate/workload_translation.h"

namespace warren::agent {
namespace {

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool podOwnsComponent(const k8s::Pod& pod, const std::string& c) {
  if (c == "pod-" + pod.meta.namespace_ + "-" + pod.meta.name) return true;  // the lab
  const std::string& uid = pod.meta.uid;
  if (uid.size() < 8) return false;  // too short to be a uid: never match by substring
  std::string underscored = uid;
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  return c.find("pod" + uid) != std::string::npos ||
         c.find("pod" + underscored) != std::string::npos;
}

}  // namespace

Result<PeerCredentials> peerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return fail(WARREN_SYS_ERROR("getsockopt SO_PEERCRED"));
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Result<std::string> cgroupOfPid(pid_t pid, const std::string& proc) {
  if (pid <= 0)
    return fail(Error(ErrorCode::kPermissionDenied,
                      "the caller's pid is not visible from the agent's pid namespace"));
  const std::string path = proc + "/" + std::to_string(pid) + "/cgroup";
  std::ifstream in(path);
  if (!in) return fail(WARREN_SYS_ERROR("read " + path));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("0::")) return line.substr(3);
  return fail(Error(ErrorCode::kPermissionDenied,
                    path + " has no cgroup v2 entry (0::): cannot tell which pod is calling"));
}

Result<const k8s::Pod*> podForCgroup(const ClusterSnapshot& snap, const std::string& node,
                                     const std::string& cgroup_path) {
  std::vector<const k8s::Pod*> found;
  std::vector<std::string> parts = components(cgroup_path);
  for (const auto& [key, shared] : snap.pods) {
    const k8s::Pod& pod = *shared;
    if (pod.spec.node_name != node) continue;
    if (pod.status.phase == "Succeeded" || pod.status.phase == "Failed") continue;
    for (const auto& c : parts) {
      if (podOwnsComponent(pod, c)) {
        found.push_back(&pod);
        break;
      }
    }
  }
  if (found.empty())
    return fail(Error(ErrorCode::kPermissionDenied,
                      "no pod of node " + node + " runs in cgroup " + cgroup_path));
  if (found.size() > 1)
    return fail(Error(ErrorCode::kPermissionDenied,
                      "cgroup " + cgroup_path + " could be pod " + found[0]->meta.namespace_ + "/" +
                          found[0]->meta.name + " or " + found[1]->meta.namespace_ + "/" +
                          found[1]->meta.name + "; refusing to guess"));
  return found.front();
}

Result<WaypointCaller> identifyWaypoint(const ClusterSnapshot& snap, const std::string& node,
                                        const std::string& trust_domain,
                                        const std::string& cgroup_path) {
  auto pod = podForCgroup(snap, node, cgroup_path);
  if (!pod) return fail(pod.error());
  const k8s::Pod& p = **pod;
  const std::string who = p.meta.namespace_ + "/" + p.meta.name;
  const Gateway* gw = waypointGatewayOfPod(snap, p);
  if (!gw)
    return fail(Error(ErrorCode::kPermissionDenied,
                      "pod " + who + " is not a waypoint (no " + kGatewayNameLabel +
                          " label naming a warren-waypoint Gateway in its namespace); the "
                          "proxy socket serves waypoints only"));
  auto id = identity::SpiffeId::make(trust_domain, p.meta.namespace_, p.spec.service_account_name);
  if (!id)
    return fail(Error(ErrorCode::kPermissionDenied, "pod " + who + ": " + id.error().message()));
  return WaypointCaller{who, gw->meta.namespace_ + "/" + gw->meta.name, std::move(*id)};
}

}  // namespace warren::agent
