#include "lab/lab_cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/log.h"
#include "lab/cgroup_tree.h"
#include "lab/cluster_ca.h"
#include "lab/kubelet.h"
#include "lab/lab_network.h"
#include "lab/process.h"

namespace warren::lab {
namespace fs = std::filesystem;

const std::vector<ComponentKind>& nodeComponents() {
  static const std::vector<ComponentKind> kinds = {{"agent", "warren-agent"},
                                                   {"ztunnel", "warren-ztunnel"}};
  return kinds;
}

bool skippedComponent(const std::string& name) {
  const char* skip = std::getenv("WARREN_LAB_SKIP");
  if (!skip) return false;
  std::string list = std::string(",") + skip + ",";
  return list.find("," + name + ",") != std::string::npos;
}

const ComponentKind* findComponent(const std::string& name) {
  for (const auto& c : nodeComponents())
    if (c.name == name || c.binary == name) return &c;
  return nullptr;
}

std::vector<pid_t> pidsInNetns(const std::vector<std::string>& netns_paths) {
  std::set<std::pair<dev_t, ino_t>> targets;
  for (const auto& p : netns_paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) targets.insert({st.st_dev, st.st_ino});
  }
  std::vector<pid_t> out;
  if (targets.empty()) return out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (::stat((it->path() / "ns/net").c_str(), &st) != 0) continue;
    if (targets.contains({st.st_dev, st.st_ino})) out.push_back(std::stoi(n));
  }
  return out;
}

LabCluster::LabCluster(std::string name, std::string dir, std::string cgroup_mount,
                       std::string bin_dir)
    : dir_(std::move(dir)),
      bin_dir_(std::move(bin_dir)),
      names_(std::move(name), std::move(cgroup_mount)) {}

std::string LabCluster::nodeDir(int node) const {
  return dir_ + "/nodes/" + LabNames::nodeName(node);
}

std::string LabCluster::componentLog(int node, const std::string& component) const {
  return nodeDir(node) + "/logs/" + component + ".log";
}

std::vector<std::string> LabCluster::componentArgv(const ComponentKind& c, int node) const {
  std::string bin = bin_dir_ + "/" + c.binary;
  std::string run = nodeDir(node) + "/run";
  if (c.name == "agent")
    return {bin,
            "--node",
            LabNames::nodeName(node),
            "--node-ip",
            LabNames::nodeIp(node),
            "--run-dir",
            run,
            "--manifests",
            dir_ + "/manifests",
            "--ca-dir",
            dir_ + "/ca",
            "--cgroup",
            names_.nodeCgroup(node),
            "--bpf-pin-dir",
            names_.pinDir(node),
            "--pod-cidr",
            LabNames::podCidr(node),
            "--trust-domain",
            "cluster.local",
            "--log-level",
            "info"};
  return {bin, "--node", LabNames::nodeName(node), "--run-dir", run, "--log-level", "info"};
}

Status LabCluster::startComponent(LabState& state, const ComponentKind& c, int node) const {
  std::string cg = names_.componentCgroup(node, c.name);
  WARREN_TRY(CgroupTree::create(cg));
  auto argv = componentArgv(c, node);
  if (c.name == "agent")
    argv.insert(argv.end(), state.agent_flags.begin(), state.agent_flags.end());
  DetachedSpec spec{argv, LabNames::netnsPath(names_.nodeNetns(node)), cg,
                    componentLog(node, c.name)};
  auto pid = spawnDetached(spec);
  if (!pid) return fail(pid.error().wrap(LabNames::nodeName(node) + " " + c.name));
  state.components[LabNames::nodeName(node)][c.name] = ComponentState{*pid, argv};
  return ok();
}

Status LabCluster::restartComponent(LabState& state, const ComponentKind& c, int node,
                                    bool kill) const {
  std::string cg = names_.componentCgroup(node, c.name);
  if (::access(componentArgv(c, node)[0].c_str(), X_OK) != 0)
    return fail(Error::notFound(c.binary + " is not built (" + componentArgv(c, node)[0] + ")"));
  if (c.name == "ztunnel" && !kill) return rollingRestart(state, c, node);
  CgroupTree::signalAll(cg, kill ? SIGKILL : SIGTERM);
  // Bounded wait for a graceful exit (ztunnel drains); then it is killed.
  if (!CgroupTree::waitEmpty(cg, std::chrono::seconds(kill ? 5 : 15)))
    WARREN_TRY(CgroupTree::kill(cg));
  WARREN_TRY(startComponent(state, c, node));
  if (c.name == "agent") waitForAgents(state, node, node);
  return state.save();
}

namespace {

// "zds: ztunnel #N connected, replayed M workloads" lines in the agent's log: one per ztunnel
// that received the full pod snapshot (its listeners are bound when the line is written).
size_t zdsReplays(const std::string& agent_log) {
  std::ifstream in(agent_log);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    if (line.find("zds: ztunnel #") != std::string::npos &&
        line.find("connected, replayed") != std::string::npos)
      ++n;
  return n;
}

}  // namespace

// Like a DaemonSet's maxSurge rolling update: the new ztunnel starts beside the old one and
// binds every pod's listeners with SO_REUSEPORT; only when the agent has replayed its pods to
// it does the old one get SIGTERM, stop accepting and drain. No new connection is refused.
Status LabCluster::rollingRestart(LabState& state, const ComponentKind& c, int node) const {
  std::string name = LabNames::nodeName(node);
  pid_t old_pid = 0;
  if (auto it = state.components[name].find(c.name); it != state.components[name].end())
    old_pid = it->second.pid;
  std::string agent_log = componentLog(node, "agent");
  size_t before = zdsReplays(agent_log);
  WARREN_TRY(startComponent(state, c, node));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (zdsReplays(agent_log) <= before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (zdsReplays(agent_log) <= before)
    spdlog::warn("{}: the new ztunnel got no ZDS replay within 30 s; stopping the old one anyway",
                 name);
  if (old_pid > 0 && processAlive(old_pid)) {
    ::kill(old_pid, SIGTERM);
    auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (processAlive(old_pid) && std::chrono::steady_clock::now() < drain_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (processAlive(old_pid)) ::kill(old_pid, SIGKILL);
  }
  return state.save();
}

// A node's ztunnel is ready for pods once the agent has replayed its pods to it over ZDS
// (before that, an enrolled pod's CNI ADD fails: nothing would acknowledge it). Bounded.
void LabCluster::waitForZtunnels(const LabState& state, int first_node, int last_node) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int i = first_node; i <= last_node; ++i) {
    auto node = state.components.find(LabNames::nodeName(i));
    if (node == state.components.end() || !node->second.count("ztunnel") ||
        !node->second.count("agent"))
      continue;
    while (zdsReplays(componentLog(i, "agent")) == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status LabCluster::up(int nodes, const std::vector<std::string>& agent_flags) {
  if (nodes < 1 || nodes > LabNames::kMaxNodes)
    return fail(Error::invalid("--nodes must be 1.." + std::to_string(LabNames::kMaxNodes)));
  for (const auto& f : agent_flags) {
    if (f.size() < 3 || !f.starts_with("--"))
      return fail(Error::invalid("--agent-flag '" + f +
                                 "' must be one flag like --name or --name=value (write "
                                 "--agent-flag=--name when it starts with --)"));
  }
  auto existing = LabState::load(dir_);
  if (existing && existing->ready) {
    // A live lab is never torn down by `up`; a crashed one (no/partial state) is.
    bool alive = false;
    for (const auto& [node, comps] : existing->components)
      for (const auto& [comp, c] : comps) alive = alive || processAlive(c.pid);
    if (alive || LabNetwork::netnsExists(names_.underlayNetns()))
      return fail(Error(ErrorCode::kAlreadyExists, "lab '" + existing->name +
                                                       "' is already up in " + dir_ +
                                                       " (run warren-lab down first)"));
  }
  std::vector<std::string> report;
  if (auto s = down(&report); !s) return fail(s.error().wrap("cleaning up an earlier lab"));
  for (const auto& line : report) spdlog::info("removed leftover: {}", line);

  std::error_code ec;
  for (const char* sub : {"manifests", "pods", "ca"}) fs::create_directories(dir_ + "/" + sub, ec);
  for (int i = 1; i <= nodes; ++i)
    for (const char* sub : {"run", "logs", "cni/ipam"})
      fs::create_directories(nodeDir(i) + "/" + sub, ec);
  if (ec) return fail(Error::system(ec.value(), "create lab directories in " + dir_));

  LabState state;
  state.name = names_.name();
  state.dir = dir_;
  state.nodes = nodes;
  state.bin_dir = bin_dir_;
  state.cgroup_mount = names_.cgroupMount();
  state.agent_flags = agent_flags;
  WARREN_TRY(state.save());  // not ready yet: a crash from here on is cleaned by the next up/down

  WARREN_TRY(createClusterCa(dir_ + "/ca", "cluster.local"));
  WARREN_TRY(LabNetwork(names_).create(nodes));
  Kubelet kubelet(state, names_);
  for (int i = 1; i <= nodes; ++i) {
    WARREN_TRY(CgroupTree::create(names_.nodeCgroup(i)));
    WARREN_TRY(writeFileAtomic(kubelet.conflistPath(i), kubelet.conflistFor(i).dump(2) + "\n"));
  }
  for (int i = 1; i <= nodes; ++i) {
    for (const auto& c : nodeComponents()) {
      if (::access((bin_dir_ + "/" + c.binary).c_str(), X_OK) != 0) continue;
      if (skippedComponent(c.name)) continue;
      WARREN_TRY(startComponent(state, c, i));
    }
  }
  waitForAgents(state, 1, nodes);
  waitForZtunnels(state, 1, nodes);
  state.ready = true;
  return state.save();
}

void LabCluster::waitForAgents(const LabState& state, int first_node, int last_node) const {
  // With warren-cni chained, CNI ADD needs the agent's cni.sock; wait for it (bounded) so an
  // apply right after up does not race the agent's start. Without warren-cni nothing waits.
  if (::access((bin_dir_ + "/warren-cni").c_str(), X_OK) != 0) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = first_node; i <= last_node; ++i) {
    auto comps = state.components.find(LabNames::nodeName(i));
    if (comps == state.components.end() || !comps->second.contains("agent")) continue;
    std::string sock = nodeDir(i) + "/run/cni.sock";
    while (::access(sock.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::access(sock.c_str(), F_OK) != 0)
      spdlog::warn("{}: agent has not created {} yet; pods may fail CNI ADD until it does",
                   LabNames::nodeName(i), sock);
  }
}

Status LabCluster::down(std::vector<std::string>* report) {
  auto note = [&](const std::string& s) {
    if (report) report->push_back(s);
  };
  Status first = ok();
  auto keep = [&](Status s) {
    if (!s && first) first = std::move(s);
  };

  // 1. Processes: everything in the lab's cgroup tree, then anything still inside its netns
  //    (e.g. started by hand with ip netns exec).
  const std::string cg_root = names_.cgroupRoot();
  auto netns = LabNetwork(names_).scanNetns();
  std::vector<std::string> netns_paths;
  for (const auto& n : netns) netns_paths.push_back(LabNames::netnsPath(n));
  if (CgroupTree::exists(cg_root)) {
    size_t n = CgroupTree::procsRecursive(cg_root).size();
    keep(CgroupTree::kill(cg_root));
    if (n) note("killed " + std::to_string(n) + " processes in cgroup " + cg_root);
  }
  for (int round = 0; round < 50; ++round) {
    auto pids = pidsInNetns(netns_paths);
    pids.erase(std::remove(pids.begin(), pids.end(), ::getpid()), pids.end());
    if (pids.empty()) break;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    if (round == 0) note("killed " + std::to_string(pids.size()) + " processes in lab netns");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // 2. Network namespaces: pods, then nodes (their veths and bridges go with them), underlay.
  std::stable_sort(netns.begin(), netns.end(), [&](const auto& a, const auto& b) {
    return static_cast<int>(*names_.classifyNetns(a)) > static_cast<int>(*names_.classifyNetns(b));
  });
  for (const auto& n : netns) {
    auto s = LabNetwork::deleteNetns(n);
    if (s) note("netns " + n);
    keep(std::move(s));
  }

  // 3. BPF pins under the lab's pin dirs.
  std::error_code ec;
  for (fs::directory_iterator it(std::string(LabNames::kPinBase), ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (!names_.isOwnPinDir(n)) continue;
    std::error_code rec;
    fs::remove_all(it->path(), rec);
    if (rec)
      keep(fail(Error::system(rec.value(), "remove BPF pins " + it->path().string())));
    else
      note("bpf pins " + it->path().string());
  }

  // 4. cgroups, deepest first.
  if (fs::exists(cg_root)) {
    auto s = CgroupTree::remove(cg_root);
    if (s) note("cgroup " + cg_root);
    keep(std::move(s));
  }

  // 5. Files: only what the lab writes, then the dir itself when empty.
  for (const char* sub : {"manifests", "pods", "nodes", "ca", "state.json", ".lock"}) {
    std::error_code rec;
    if (fs::exists(dir_ + "/" + sub, rec)) {
      fs::remove_all(dir_ + "/" + sub, rec);
      if (rec) keep(fail(Error::system(rec.value(), "remove " + dir_ + "/" + sub)));
    }
  }
  std::error_code rec;
  for (fs::directory_iterator it(dir_, rec), end; !rec && it != end; it.increment(rec)) {
    std::string n = it->path().filename().string();
    if (n.starts_with(".") && n.ends_with(".tmp")) fs::remove(it->path(), rec);
  }
  fs::remove(dir_, rec);  // fails harmlessly when the user keeps other files there
  return first;
}

}  // namespace warren::lab
