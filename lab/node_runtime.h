// How the lab runs a node component container resolved from the DaemonSet manifest
// (node_pod.h): as a process (`--runtime process`, the default: the binary from the build's bin
// dir, in the node netns, its volumes bound in a private mount namespace, the other node paths
// masked), or as a podman container from the images `make images` built (`--runtime podman`:
// the image's binaries, `--network ns:` the node netns, exactly the manifest's capabilities,
// user, read-only root and volumes).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "lab/lab_state.h"
#include "lab/node_pod.h"
#include "lab/process.h"

namespace warren::lab {

// What a runtime needs to place a container on a lab node.
struct ContainerPlacement {
  std::string netns_path;  // the node's
  std::string cgroup;      // process runtime: the component's cgroup
  std::string log_path;
  std::string bin_dir;                     // process runtime: where binaries are
  std::vector<std::string> private_paths;  // the node's host paths (masked when not mounted)
  std::string cgroup_parent;               // podman: the component's cgroup below the cgroup2 root
                                           // ("/wl/node-1/system-ztunnel")
  std::string container_name;              // podman: a name unique on the machine
  std::string image;                       // podman: the image reference to run
};

class NodeRuntime {
 public:
  virtual ~NodeRuntime() = default;
  virtual std::string name() const = 0;
  virtual Result<ComponentState> start(const ResolvedContainer& c, const ContainerPlacement& p) = 0;
  virtual bool alive(const ComponentState& s) const = 0;
  virtual void signal(const ComponentState& s, int sig) = 0;
  // Runs a command in the container (exec probes): exit code and output.
  virtual Result<CommandResult> exec(const ComponentState& s, const ResolvedContainer& c,
                                     const ContainerPlacement& p,
                                     const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) = 0;
  // Runs an init container to completion; its output is appended to p.log_path.
  virtual Result<CommandResult> runToCompletion(const ResolvedContainer& c,
                                                const ContainerPlacement& p,
                                                std::chrono::milliseconds timeout) = 0;
  // Frees what a stopped container leaves (podman: the container record).
  virtual void remove(const ComponentState& s) = 0;
};

std::unique_ptr<NodeRuntime> makeProcessRuntime();
std::unique_ptr<NodeRuntime> makePodmanRuntime();
Result<std::unique_ptr<NodeRuntime>> makeNodeRuntime(const std::string& name);

// Podman containers of a lab, by name prefix "<lab>-node-" (for down after a crash).
std::vector<std::string> podmanContainersWithPrefix(const std::string& prefix);
// podman rm -f; ok when podman is absent.
Status podmanRemove(const std::vector<std::string>& names);

// The podman arguments for a resolved container (pure): --cap-drop/--cap-add from the
// manifest, user, read-only root, no-new-privileges, volumes, env, the node netns.
std::vector<std::string> podmanRunArgs(const ResolvedContainer& c, const ContainerPlacement& p);

}  // namespace warren::lab
