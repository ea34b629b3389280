#include "agent/cli/uninstall.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "agent/redirect/pod_netns_store.h"
#include "bpf/loader/pin_owner_lock.h"
#include "bpf/loader/redirect_dataplane.h"

namespace warren::agent {

// Detaches every Warren link (cgroup and netns) and removes every pin under --bpf-pin-dir.
// The cgroup attachments are all links pinned there, so nothing else needs --cgroup.
Status runUninstall(const UninstallOptions& options) {
  if (options.bpf_pin_dir.empty()) return fail(Error::invalid("uninstall needs --bpf-pin-dir"));
  // Held while the pins go, so ztunnel's PinKeeper does not put back what is removed here (it
  // lets go of detached links anyway; this covers the maps in between). Taken if free: a
  // running agent holds it already, and lets go of what this detaches.
  std::optional<redirect::PinOwnerLock> owner;
  if (!options.run_dir.empty() && std::filesystem::is_directory(options.run_dir)) {
    if (auto lock = redirect::PinOwnerLock::acquire(options.run_dir)) owner = std::move(*lock);
  }
  if (auto s = redirect::RedirectDataplane::uninstall(options.bpf_pin_dir); !s) return s;
  spdlog::info("uninstall: removed eBPF links and pins under {}", options.bpf_pin_dir);
  if (options.run_dir.empty()) return ok();
  // Only what the agent (and the waypoint socket dir) put there: the run dir is a host path.
  std::error_code ec;
  for (const char* f : {"xds.sock", "zds.sock", "cni.sock", "admin.sock", "bpf_pin_dir",
                        redirect::kPinOwnerLockFile})
    std::filesystem::remove(options.run_dir + "/" + f, ec);
  std::filesystem::remove_all(options.run_dir + "/proxy", ec);
  std::filesystem::remove_all(PodNetnsStore::dirIn(options.run_dir), ec);  // pods' netns records
  // Only when empty, and not when it is a mount point (a container's hostPath volume).
  std::filesystem::remove(options.run_dir, ec);
  spdlog::info("uninstall: removed the agent's files in {}", options.run_dir);
  return ok();
}

}  // namespace warren::agent
