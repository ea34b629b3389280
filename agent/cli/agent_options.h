// Command line of warren-agent. The run command takes exactly the flags the lab passes
// (BRIEF: --node --node-ip --run-dir --manifests --ca-dir --cgroup --bpf-pin-dir --pod-cidr
// --trust-domain --log-level) plus the opt-in --sockmap-fast-path; `uninstall` takes --bpf-pin-dir,
// --cgroup and --run-dir. Both
// `--flag value` and `--flag=value` are accepted. Parsing is pure, so it is table-tested.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace warren::agent {

struct AgentOptions {
  std::string node;     // required: this node's name (spec.nodeName)
  std::string node_ip;  // underlay IP (kubelet probes come from it)
  std::string run_dir = "/var/run/warren";
  std::string manifests;    // manifest directory; empty = Kubernetes API
  std::string ca_dir;       // ca.crt + ca.key; empty = no CA service
  std::string cgroup;       // cgroup the eBPF programs attach to
  std::string bpf_pin_dir;  // default /sys/fs/bpf/warren/<node>
  std::string pod_cidr;
  std::string trust_domain = "cluster.local";
  std::string log_level = "info";
  bool sockmap_fast_path = false;  // --sockmap-fast-path: sk_msg same-node fast path
  // ztunnel's admin endpoint in the node netns: the admin API proxies certificates,
  // connections and ztunnel's log level from it.
  std::string ztunnel_admin = "127.0.0.1:15000";
  // --controller: also run the waypoint controller role (leader-elected through a Lease, so
  // every agent may run it); --controller-only: run just that (config source, model,
  // controller, admin API), e.g. as a Deployment; --node is then optional.
  bool controller = false;
  bool controller_only = false;
  std::string controller_id;  // Lease holder identity; default $POD_NAME, else <node|host>-<pid>
  std::string lease_namespace = "warren-system";
  std::string waypoint_image = "warren-waypoint:latest";
};

struct UninstallOptions {
  std::string bpf_pin_dir;
  std::string cgroup;
  std::string run_dir;  // when set: the agent's sockets and files there are removed too
  std::string log_level = "info";
};

struct HelpRequested {
  std::string text;
};

using AgentCommand = std::variant<AgentOptions, UninstallOptions, HelpRequested>;

// argv without the program name.
Result<AgentCommand> parseAgentArgs(const std::vector<std::string>& args);

std::string agentUsage();

}  // namespace warren::agent
