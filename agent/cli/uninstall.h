// `warren-agent uninstall`: removes everything the agent installed on the node (eBPF pins and
// links under --bpf-pin-dir, attachments on --cgroup). The eBPF owner fills runUninstall().
#pragma once

#include "agent/cli/agent_options.h"

namespace warren::agent {

Status runUninstall(const UninstallOptions& options);

}  // namespace warren::agent
