// A whole lab: `up` (dirs, CA, network, cgroups, CNI configs, node components, state.json)
// and `down` (everything above, found by name even when the state is missing), plus the node
// components' lifecycle (start, restart).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "lab/lab_names.h"
#include "lab/lab_state.h"

namespace warren::lab {

// Node components, started only when their binary sits next to warren-lab.
struct ComponentKind {
  std::string name;    // "agent": cgroup system-agent, log logs/agent.log
  std::string binary;  // "warren-agent"
};
const std::vector<ComponentKind>& nodeComponents();
// "agent", "warren-agent" -> the component; nullptr when unknown.
const ComponentKind* findComponent(const std::string& name);
// WARREN_LAB_SKIP=ztunnel[,agent]: components `up` does not start (tests that stand in for them).
bool skippedComponent(const std::string& name);

class LabCluster {
 public:
  LabCluster(std::string name, std::string dir, std::string cgroup_mount, std::string bin_dir);

  // `agent_flags` (each "--name" or "--name=value") go after the contract flags of every
  // node agent, now and on every restart (kept in state.json).
  Status up(int nodes, const std::vector<std::string>& agent_flags = {});
  // Removes everything of this lab; `report` gets one line per thing removed or left behind.
  Status down(std::vector<std::string>* report);

  // The argv `up` uses for a component on a node (exactly the contract's flags; startComponent
  // appends the lab's agent flags).
  std::vector<std::string> componentArgv(const ComponentKind& c, int node) const;
  Status startComponent(LabState& state, const ComponentKind& c, int node) const;
  // SIGTERM (SIGKILL with `kill`), wait for exit (bounded), start again with the same flags.
  Status restartComponent(LabState& state, const ComponentKind& c, int node, bool kill) const;
  // ztunnel's restart: start the new one beside the old, then drain the old (no refused
  // connection); see lab/README.md.
  Status rollingRestart(LabState& state, const ComponentKind& c, int node) const;
  void waitForZtunnels(const LabState& state, int first_node, int last_node) const;

  std::string nodeDir(int node) const;
  std::string componentLog(int node, const std::string& component) const;
  const LabNames& names() const { return names_; }

 private:
  void waitForAgents(const LabState& state, int first_node, int last_node) const;

  std::string dir_;
  std::string bin_dir_;
  LabNames names_;
};

// PIDs whose network namespace is one of `netns_paths` (found through /proc/*/ns/net).
std::vector<pid_t> pidsInNetns(const std::vector<std::string>& netns_paths);

}  // namespace warren::lab
