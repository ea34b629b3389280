#include "lab/lab_cluster.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/kernel_mounts.h"
#include "common/log.h"
#include "lab/apply_plan.h"
#include "lab/cgroup_tree.h"
#include "lab/cluster_ca.h"
#include "lab/kubelet.h"
#include "lab/lab_network.h"
#include "lab/process.h"

namespace warren::lab {
namespace fs = std::filesystem;

bool skippedComponent(const std::string& name) {
  const char* skip = std::getenv("WARREN_LAB_SKIP");
  if (!skip) return false;
  std::string list = std::string(",") + skip + ",";
  return list.find("," + name + ",") != std::string::npos;
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

// Mount points of cgroup v1 hierarchies (fstype "cgroup"), from /proc/self/mountinfo.
std::vector<std::string> cgroupV1Mounts() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos || line.compare(sep + 3, 7, "cgroup ") != 0) continue;
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    out.push_back(mount_point);
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

// What a container wrote since it started (its log is shared with earlier generations): the
// first lines, where a refused flag or a failed start says why.
std::string logSince(const std::string& path, std::streamoff offset, size_t max_chars = 600) {
  std::ifstream in(path);
  in.seekg(offset);
  std::string line, out;
  while (out.size() < max_chars && std::getline(in, line)) out += (out.empty() ? "" : " | ") + line;
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out.empty() ? "(nothing)" : out;
}

std::streamoff fileSize(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::streamoff>(n);
}

std::string podSuffix() {
  static const char kChars[] = "bcdfghjklmnpqrstvwxz2456789";  // as Kubernetes' rand.String
  std::string uid = randomUid(), out;
  for (size_t i = 0; out.size() < 5 && i < uid.size(); ++i)
    out.push_back(kChars[static_cast<unsigned char>(uid[i]) % (sizeof(kChars) - 1)]);
  return out;
}

// localhost/warren-node:<tag> for an image named without registry and tag, as the base
// manifests name them (an overlay pins real references).
std::string imageRef(const std::string& image, const std::string& tag) {
  auto slash = image.rfind('/');
  bool has_tag = image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
  if (has_tag || image.find('@') != std::string::npos) return image;
  return (slash == std::string::npos ? "localhost/" : "") + image + ":" + tag;
}

}  // namespace

Result<std::vector<NodeDaemonSet>> LabCluster::daemonSets(const LabState& state) const {
  return loadNodeDaemonSets(state.daemonsets.empty() ? defaultDaemonSetPath() : state.daemonsets);
}

Result<LabCluster::Running> LabCluster::startContainer(const LabState& state, NodeRuntime& rt,
                                                       const NodeDaemonSet& ds,
                                                       const ContainerSpec& c,
                                                       const PodIdentity& pod, int node) const {
  NodeHost host = labNodeHost(dir_, names_, node);
  auto resolved = resolveContainer(ds, c, pod, host);
  if (!resolved) return fail(resolved.error());
  // hostPath types, as kubelet checks them before the container starts.
  for (const auto& m : c.mounts) {
    const Volume* v = ds.volume(m.name);
    if (!v || v->kind != Volume::Kind::kHostPath) continue;
    auto real = host.realPath(v->host_path);
    if (!real) continue;  // resolveContainer refused it already
    std::error_code ec;
    if (v->host_path_type == "DirectoryOrCreate") {
      fs::create_directories(*real, ec);
    } else if (v->host_path_type == "Directory" && !fs::is_directory(*real, ec)) {
      return fail(Error::notFound(ds.source + ": DaemonSet " + ds.ns + "/" + ds.name + ": volume " +
                                  v->name + ": hostPath " + v->host_path + " (on " +
                                  host.node_name + ": " + *real + ") is not a directory"));
    }
  }
  // What a Kubernetes node gives the agent that a DaemonSet cannot say: the API server (the
  // lab's manifest directory stands in for it) and the node's pod CIDR (Node.spec.podCIDR).
  if (c.name == "agent") {
    resolved->argv.push_back("--manifests=" + dir_ + "/manifests");
    resolved->argv.push_back("--pod-cidr=" + LabNames::podCidr(node));
    resolved->argv.insert(resolved->argv.end(), state.agent_flags.begin(), state.agent_flags.end());
    resolved->mounts.push_back({dir_ + "/manifests", dir_ + "/manifests", true});
  }
  ContainerPlacement p;
  p.netns_path = LabNames::netnsPath(names_.nodeNetns(node));
  p.cgroup = names_.componentCgroup(node, c.name);
  p.log_path = componentLog(node, c.name);
  p.bin_dir = bin_dir_;
  for (const auto& [host_path, real] : host.private_paths) p.private_paths.push_back(host_path);
  p.cgroup_parent = p.cgroup.substr(names_.cgroupMount().size());
  p.container_name = names_.name() + "-" + host.node_name + "-" + pod.name + "-" + c.name;
  p.image = imageRef(c.image, state.image_tag);
  const std::streamoff log_offset = fileSize(p.log_path);
  auto started = rt.start(*resolved, p);
  if (!started)
    return fail(started.error().wrap(host.node_name + ": DaemonSet " + ds.ns + "/" + ds.name));
  started->daemonset = ds.name;
  started->pod = pod.name;
  return Running{&ds,          host.node_name,      node,      std::move(*resolved),
                 std::move(p), std::move(*started), log_offset};
}

Result<std::vector<LabCluster::Running>> LabCluster::startPod(const LabState& state,
                                                              NodeRuntime& rt,
                                                              const NodeDaemonSet& ds,
                                                              int node) const {
  PodIdentity pod{ds.name + "-" + podSuffix(), ds.ns, randomUid()};
  // Init containers first, one after the other, each to completion (exit 0), as kubelet does.
  for (const auto& c : ds.init_containers) {
    NodeHost host = labNodeHost(dir_, names_, node);
    auto resolved = resolveContainer(ds, c, pod, host);
    if (!resolved) return fail(resolved.error());
    if (resolved->argv.empty()) continue;
    ContainerPlacement p;
    p.netns_path = LabNames::netnsPath(names_.nodeNetns(node));
    p.cgroup = names_.componentCgroup(node, c.name);
    p.cgroup_parent = p.cgroup.substr(names_.cgroupMount().size());
    p.log_path = componentLog(node, c.name);
    p.bin_dir = bin_dir_;
    for (const auto& [host_path, real] : host.private_paths) p.private_paths.push_back(host_path);
    p.container_name = names_.name() + "-" + host.node_name + "-" + pod.name + "-" + c.name;
    p.image = imageRef(c.image, state.image_tag);
    auto r = rt.runToCompletion(*resolved, p, std::chrono::seconds(60));
    const std::string who =
        host.node_name + ": DaemonSet " + ds.ns + "/" + ds.name + ": init container " + c.name;
    if (!r) return fail(r.error().wrap(who));
    if (r->exit_code != 0)
      return fail(Error::invalid(who + " failed (exit " + std::to_string(r->exit_code) +
                                 "): " + r->err + r->out));
  }
  std::vector<Running> out;
  for (const auto& c : ds.containers) {
    if (skippedComponent(c.name)) continue;
    if (!c.command.size()) continue;  // the image's entrypoint (pause): nothing to run
    auto r = startContainer(state, rt, ds, c, pod, node);
    if (!r) {
      std::vector<ComponentState> started;
      for (const auto& s : out) started.push_back(s.state);
      terminate(rt, started, 0);
      return fail(r.error());
    }
    out.push_back(std::move(*r));
  }
  return out;
}

Status LabCluster::waitReady(NodeRuntime& rt, const std::vector<Running>& pods,
                             std::chrono::seconds limit) const {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<std::string> why(pods.size());
  std::vector<bool> ready(pods.size(), false);
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < pods.size(); ++i) {
      if (ready[i]) continue;
      const Running& r = pods[i];
      const std::string who = r.node_name + ": DaemonSet " + r.ds->ns + "/" + r.ds->name +
                              ": container " + r.container.name;
      if (!rt.alive(r.state))
        return fail(Error(ErrorCode::kUnavailable,
                          who + " exited before it was ready; it wrote (" + r.placement.log_path +
                              "): " + logSince(r.placement.log_path, r.log_offset)));
      const Probe& probe = r.container.readiness;
      auto timeout = std::chrono::seconds(probe.timeout_seconds);
      if (probe.kind == Probe::Kind::kNone) {
        ready[i] = true;
      } else if (probe.kind == Probe::Kind::kExec) {
        auto res = rt.exec(r.state, r.container, r.placement, probe.exec, timeout);
        if (res && res->exit_code == 0)
          ready[i] = true;
        else
          why[i] =
              res ? "exec probe exit " + std::to_string(res->exit_code) + ": " + res->err + res->out
                  : res.error().message();
      } else {
        CommandSpec curl;
        curl.argv = {
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            std::to_string(probe.timeout_seconds),
            "http://" + LabNames::nodeIp(r.node) + ":" + std::to_string(probe.port) + probe.path};
        curl.netns_path = r.placement.netns_path;
        curl.timeout = timeout + std::chrono::seconds(1);
        auto res = runCommand(curl);
        int code = res && !res->out.empty() ? std::atoi(res->out.c_str()) : 0;
        if (code >= 200 && code < 400)
          ready[i] = true;
        else
          why[i] =
              "httpGet " + curl.argv.back() + ": " + (code ? std::to_string(code) : "no answer");
      }
      all = all && ready[i];
      if (!ready[i] && std::chrono::steady_clock::now() > deadline)
        return fail(Error(ErrorCode::kTimeout,
                          who + " not ready after " + std::to_string(limit.count()) +
                              " s: " + why[i] +
                              "; it wrote: " + logSince(r.placement.log_path, r.log_offset)));
    }
    if (all) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void LabCluster::terminate(NodeRuntime& rt, const std::vector<ComponentState>& containers,
                           int grace_seconds) const {
  for (const auto& c : containers) rt.signal(c, grace_seconds > 0 ? SIGTERM : SIGKILL);
  auto gone = [&] {
    for (const auto& c : containers)
      if (rt.alive(c)) return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
  while (!gone() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const auto& c : containers)
    if (rt.alive(c)) rt.signal(c, SIGKILL);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!gone() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const auto& c : containers) rt.remove(c);
}

void LabCluster::record(LabState& state, const std::vector<Running>& pods) const {
  for (const auto& r : pods) state.components[r.node_name][r.container.name] = r.state;
}

Status LabCluster::restartComponent(LabState& state, const std::string& container, int node,
                                    bool kill) const {
  auto sets = daemonSets(state);
  if (!sets) return fail(sets.error());
  const NodeDaemonSet* ds = nullptr;
  for (const auto& d : *sets)
    if (d.container(container)) ds = &d;
  if (!ds) return fail(Error::notFound("no node DaemonSet has a container '" + container + "'"));
  auto rt = makeNodeRuntime(state.runtime);
  if (!rt) return fail(rt.error());
  const std::string node_name = LabNames::nodeName(node);
  auto& comps = state.components[node_name];
  auto current = comps.find(container);

  if (kill) {
    // A crashed container: kubelet starts it again in the same pod.
    PodIdentity pod{current != comps.end() ? current->second.pod : ds->name + "-" + podSuffix(),
                    ds->ns, randomUid()};
    if (current != comps.end()) terminate(**rt, {current->second}, 0);
    auto r = startContainer(state, **rt, *ds, *ds->container(container), pod, node);
    if (!r) return fail(r.error());
    std::vector<Running> started;
    started.push_back(std::move(*r));
    record(state, started);
    WARREN_TRY(state.save());
    return waitReady(**rt, started, std::chrono::seconds(60));
  }

  // A rolling update of this node's pod, as the DaemonSet's updateStrategy says.
  std::vector<ComponentState> old;
  for (const auto& [name, c] : comps)
    if (c.daemonset == ds->name) old.push_back(c);
  const bool has_ztunnel = ds->container("ztunnel") != nullptr;
  const size_t replays_before = zdsReplays(componentLog(node, "agent"));
  if (ds->max_surge == 0) terminate(**rt, old, ds->grace_seconds);
  auto fresh = startPod(state, **rt, *ds, node);
  if (!fresh) return fail(fresh.error());
  record(state, *fresh);
  WARREN_TRY(state.save());
  WARREN_TRY(waitReady(**rt, *fresh, std::chrono::seconds(60)));
  if (ds->max_surge > 0) {
    // Old and new ztunnel share 15021 (SO_REUSEPORT), so the probe may be answered by the old
    // one: the lab also waits until the agent has replayed its pods to the new one.
    if (has_ztunnel && replays_before > 0) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (zdsReplays(componentLog(node, "agent")) <= replays_before &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::seconds(ds->min_ready_seconds));
    terminate(**rt, old, ds->grace_seconds);
  }
  return state.save();
}

Status LabCluster::nodeCleanup(LabState& state, const std::string& cleanup_path) const {
  auto sets = loadNodeDaemonSets(cleanup_path);
  if (!sets) return fail(sets.error());
  auto rt = makeNodeRuntime(state.runtime);
  if (!rt) return fail(rt.error());
  // `kubectl delete -k`: every node component pod goes, with its grace period.
  auto node_sets = daemonSets(state);
  for (auto& [node, comps] : state.components) {
    std::vector<ComponentState> all;
    for (const auto& [name, c] : comps) all.push_back(c);
    int grace = 30;
    if (node_sets)
      for (const auto& ds : *node_sets) grace = std::min(grace, ds.grace_seconds);
    terminate(**rt, all, grace);
    comps.clear();
  }
  WARREN_TRY(state.save());
  // Then the clean-up DaemonSet on every node: its init containers do the work.
  for (int i = 1; i <= state.nodes; ++i)
    for (const auto& ds : *sets) {
      auto pod = startPod(state, **rt, ds, i);
      if (!pod) return fail(pod.error());
      std::vector<ComponentState> started;
      for (const auto& r : *pod) started.push_back(r.state);
      terminate(**rt, started, 0);
    }
  return state.save();
}

Status LabCluster::up(const UpOptions& o) {
  if (o.nodes < 1 || o.nodes > LabNames::kMaxNodes)
    return fail(Error::invalid("--nodes must be 1.." + std::to_string(LabNames::kMaxNodes)));
  for (const auto& f : o.agent_flags) {
    if (f.size() < 3 || !f.starts_with("--"))
      return fail(Error::invalid("--agent-flag '" + f +
                                 "' must be one flag like --name or --name=value (write "
                                 "--agent-flag=--name when it starts with --)"));
  }
  auto runtime = makeNodeRuntime(o.runtime);
  if (!runtime) return fail(runtime.error());
  std::string ds_path = o.daemonsets.empty() ? defaultDaemonSetPath() : o.daemonsets;
  ds_path = fs::absolute(ds_path).lexically_normal().string();
  LabState probe_state;
  probe_state.daemonsets = ds_path;
  // A broken manifest is refused before anything is created.
  auto sets = daemonSets(probe_state);
  if (!sets) return fail(sets.error());
  std::string image_tag = o.image_tag;
  if (o.runtime == "podman" && image_tag.empty()) {
    auto tag = readFile(bin_dir_ + "/../images/tag");
    if (!tag)
      return fail(Error::notFound("--runtime podman: no --image-tag and no " + bin_dir_ +
                                  "/../images/tag (run make images)"));
    image_tag = *tag;
    while (!image_tag.empty() && std::isspace(static_cast<unsigned char>(image_tag.back())))
      image_tag.pop_back();
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
  // Every lab shares the machine's bpffs; the node components must find it mounted.
  WARREN_TRY(ensureBpffs());

  std::error_code ec;
  for (const char* sub : {"manifests", "pods", "ca"}) fs::create_directories(dir_ + "/" + sub, ec);
  for (int i = 1; i <= o.nodes; ++i)
    for (const char* sub : {"run", "logs", "cni/ipam", "cni/net.d", "cni/bin"})
      fs::create_directories(nodeDir(i) + "/" + sub, ec);
  if (ec) return fail(Error::system(ec.value(), "create lab directories in " + dir_));

  LabState state;
  state.name = names_.name();
  state.dir = dir_;
  state.nodes = o.nodes;
  state.bin_dir = bin_dir_;
  state.cgroup_mount = names_.cgroupMount();
  state.agent_flags = o.agent_flags;
  state.daemonsets = ds_path;
  state.runtime = o.runtime;
  state.image_tag = image_tag;
  WARREN_TRY(state.save());  // not ready yet: a crash from here on is cleaned by the next up/down

  WARREN_TRY(createClusterCa(dir_ + "/ca", "cluster.local"));
  WARREN_TRY(LabNetwork(names_).create(o.nodes));
  Kubelet kubelet(state, names_);
  for (int i = 1; i <= o.nodes; ++i) {
    WARREN_TRY(CgroupTree::create(names_.nodeCgroup(i)));
    // The node's primary CNI (bridge + host-local); warren-cni install chains itself into it.
    WARREN_TRY(writeFileAtomic(kubelet.conflistPath(i), kubelet.conflistFor(i).dump(2) + "\n"));
  }
  std::vector<Running> all;
  for (int i = 1; i <= o.nodes; ++i) {
    for (const auto& ds : *sets) {
      auto pod = startPod(state, **runtime, ds, i);
      if (!pod) return fail(pod.error());
      for (auto& r : *pod) all.push_back(std::move(r));
      record(state, all);
      WARREN_TRY(state.save());
    }
  }
  WARREN_TRY(waitReady(**runtime, all, std::chrono::seconds(90)));
  state.ready = true;
  return state.save();
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
  // podman containers of this lab's nodes (--runtime podman), found by name.
  if (auto ctrs = podmanContainersWithPrefix(names_.name() + "-node-"); !ctrs.empty()) {
    keep(podmanRemove(ctrs));
    note("removed " + std::to_string(ctrs.size()) + " podman containers");
  }
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

  // 4b. cgroup v1 hierarchies (hybrid hosts): runc creates the podman containers' parents
  //     there too (--cgroup-parent); empty once the containers are gone.
  for (const auto& mount : cgroupV1Mounts()) {
    std::string dir = mount + "/" + names_.name();
    std::error_code rec;
    if (!fs::exists(dir, rec)) continue;
    std::vector<std::string> dirs;
    for (fs::recursive_directory_iterator it(dir, rec), end; !rec && it != end; it.increment(rec))
      if (it->is_directory(rec)) dirs.push_back(it->path().string());
    std::sort(dirs.begin(), dirs.end(), std::greater<>());  // children first
    dirs.push_back(dir);
    // A container's own cgroup goes a moment after `podman rm` returns: EBUSY until then.
    bool removed = false;
    for (int attempt = 0; attempt < 60 && !removed; ++attempt) {
      if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      removed = true;
      for (const auto& d : dirs) removed = (::rmdir(d.c_str()) == 0 || errno == ENOENT) && removed;
    }
    if (removed)
      note("cgroup " + dir);
    else
      keep(fail(WARREN_SYS_ERROR("remove cgroup " + dir)));
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
