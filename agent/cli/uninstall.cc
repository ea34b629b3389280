#include "agent/cli/uninstall.h"

#include <spdlog/spdlog.h>

#include "bpf/loader/redirect_dataplane.h"

namespace warren::agent {

// Detaches every Warren link (cgroup and netns) and removes every pin under --bpf-pin-dir.
// The cgroup attachments are all links pinned there, so nothing else needs --cgroup.
Status runUninstall(const UninstallOptions& options) {
  if (options.bpf_pin_dir.empty()) return fail(Error::invalid("uninstall needs --bpf-pin-dir"));
  if (auto s = redirect::RedirectDataplane::uninstall(options.bpf_pin_dir); !s) return s;
  spdlog::info("uninstall: removed eBPF links and pins under {}", options.bpf_pin_dir);
  return ok();
}

}  // namespace warren::agent
