#include "agent/cli/uninstall.h"

#include <spdlog/spdlog.h>

namespace warren::agent {

// The control plane installs nothing on the node outside its run dir; the eBPF component
// replaces this body with the removal of its pins and links.
Status runUninstall(const UninstallOptions& options) {
  spdlog::info("uninstall: bpf pin dir '{}', cgroup '{}': control plane has nothing to remove",
               options.bpf_pin_dir, options.cgroup);
  return ok();
}

}  // namespace warren::agent
