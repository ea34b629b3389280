// <dir>/state.json: what the CLI commands need to find the lab (name, node count, bin dir,
// cgroup mount) and the PIDs of node components. `down` does not depend on it: it also scans
// by name for a crashed lab's leftovers.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::lab {

// One running node component container (named by its container name in the DaemonSet).
struct ComponentState {
  pid_t pid = 0;  // the process (podman: the `podman run` client attached to it)
  std::vector<std::string> argv;
  std::string daemonset;     // "warren-agent"
  std::string pod;           // the DaemonSet pod it belongs to ("warren-agent-x7k2p")
  std::string container_id;  // podman: the container name; empty for the process runtime
};

struct LabState {
  std::string name;
  std::string dir;
  int nodes = 0;
  std::string bin_dir;
  std::string cgroup_mount;
  bool ready = false;  // set once `up` finished
  // `up --agent-flag`: appended to every node agent's command line, also on `restart`.
  std::vector<std::string> agent_flags;
  // `up --daemonsets`: the node DaemonSet manifests the components are started from (re-read
  // by `restart`, so an edited manifest rolls out like `kubectl apply`).
  std::string daemonsets;
  std::string runtime = "process";  // `up --runtime`: process | podman
  std::string image_tag;            // podman: the tag of the images to run
  // node name -> component ("agent", "ztunnel") -> state
  std::map<std::string, std::map<std::string, ComponentState>> components;

  static std::string pathIn(const std::string& dir) { return dir + "/state.json"; }
  static Result<LabState> load(const std::string& dir);
  Status save() const;  // atomic
};

// Writes `text` to `path` atomically (a dot-file in the same dir renamed into place).
Status writeFileAtomic(const std::string& path, const std::string& text);
Result<std::string> readFile(const std::string& path);

}  // namespace warren::lab
