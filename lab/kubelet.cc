#include "lab/kubelet.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "common/cni_config_dir.h"
#include "common/k8s/core.h"
#include "lab/apply_plan.h"
#include "lab/cgroup_tree.h"
#include "lab/cni_runner.h"
#include "lab/lab_network.h"
#include "lab/node_pod.h"
#include "lab/process.h"
#include "lab/scheduler.h"

namespace warren::lab {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string randomHex(size_t n) {
  std::string s;
  while (s.size() < n) {
    std::string u = randomUid();
    for (char c : u)
      if (c != '-') s.push_back(c);
  }
  return s.substr(0, n);
}

std::string hashText(const std::string& s) {
  return std::to_string(std::hash<std::string>{}(s) % 1000000007ull);
}

// A container that could not start, as the kubelet reports it: waiting, RunContainerError.
struct ContainerFailure {
  std::string name, message;
};

void setStatus(k8s::Object& obj, const std::string& phase, const std::string& pod_ip,
               const std::string& host_ip, const std::string& message,
               const std::vector<ContainerFailure>& failures = {}) {
  YAML::Node st(YAML::NodeType::Map);
  st["phase"] = phase;
  if (!failures.empty()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& f : failures) {
      YAML::Node c;
      c["name"] = f.name;
      c["ready"] = false;
      c["state"]["waiting"]["reason"] = "RunContainerError";
      c["state"]["waiting"]["message"] = f.message;
      list.push_back(c);
    }
    st["containerStatuses"] = list;
  }
  if (!host_ip.empty()) st["hostIP"] = host_ip;
  if (!pod_ip.empty()) {
    st["podIP"] = pod_ip;
    YAML::Node ips(YAML::NodeType::Sequence);
    YAML::Node one;
    one["ip"] = pod_ip;
    ips.push_back(one);
    st["podIPs"] = ips;
  }
  if (!message.empty()) st["message"] = message;
  obj.node["status"] = st;
}

}  // namespace

json PodRuntime::toJson() const {
  json m = json::array();
  for (const auto& b : mounts)
    m.push_back({{"source", b.source}, {"target", b.target}, {"readOnly", b.read_only}});
  return {{"mounts", m},
          {"namespace", ns},
          {"name", name},
          {"uid", uid},
          {"node", node},
          {"netns", netns},
          {"cgroup", cgroup},
          {"containerID", container_id},
          {"podIP", pod_ip},
          {"hostIP", host_ip},
          {"hostNetwork", host_network},
          {"cniResult", cni_result},
          {"pids", pids}};
}

Result<PodRuntime> PodRuntime::fromJson(const json& j) {
  PodRuntime r;
  try {
    r.ns = j.at("namespace");
    r.name = j.at("name");
    r.uid = j.at("uid");
    r.node = j.at("node");
    r.netns = j.at("netns");
    r.cgroup = j.at("cgroup");
    r.container_id = j.at("containerID");
    r.pod_ip = j.value("podIP", "");
    r.host_ip = j.value("hostIP", "");
    r.host_network = j.value("hostNetwork", false);
    r.cni_result = j.value("cniResult", json(nullptr));
    r.pids = j.value("pids", std::vector<pid_t>{});
    for (const auto& m : j.value("mounts", json::array()))
      r.mounts.push_back({m.at("source"), m.at("target"), m.value("readOnly", false)});
  } catch (const json::exception& e) {
    return fail(Error::invalid(std::string("pod runtime record: ") + e.what()));
  }
  return r;
}

Kubelet::Kubelet(const LabState& state, const LabNames& names)
    : state_(state), names_(names), store_(state.dir + "/manifests") {}

std::string Kubelet::runtimePath(const std::string& ns, const std::string& name) const {
  return state_.dir + "/pods/" + ns + "/" + name + ".json";
}

std::string Kubelet::podLogPath(const std::string& ns, const std::string& name) const {
  return state_.dir + "/pods/" + ns + "/" + name + ".log";
}

std::string Kubelet::conflistPath(int node) const {
  return state_.dir + "/nodes/" + LabNames::nodeName(node) + "/cni/net.d/10-lab.conflist";
}

json Kubelet::conflistFor(int node) const {
  CniNodeConfig cfg;
  cfg.network_name = names_.name() + "-" + LabNames::nodeName(node);
  cfg.pod_cidr = LabNames::podCidr(node);
  cfg.gateway = LabNames::podGateway(node);
  cfg.ipam_data_dir = state_.dir + "/nodes/" + LabNames::nodeName(node) + "/cni/ipam";
  return buildConflist(cfg);
}

Result<json> Kubelet::activeConflist(int node) const {
  std::string dir = state_.dir + "/nodes/" + LabNames::nodeName(node) + "/cni/net.d";
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  auto name = primaryCniConfigName(names);
  if (!name) return fail(Error::notFound("no CNI network config in " + dir));
  auto text = readFile(dir + "/" + *name);
  if (!text) return fail(text.error());
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("plugins"))
    return fail(Error::invalid(dir + "/" + *name + ": not a CNI conflist"));
  return j;
}

Result<CniRunner> Kubelet::cniRunner(int node) const {
  auto conflist = activeConflist(node);
  if (!conflist) return fail(conflist.error());
  NodeHost host = labNodeHost(state_.dir, names_, node);
  auto bin = host.realPath("/opt/cni/bin");
  return CniRunner(std::move(*conflist), LabNames::netnsPath(names_.nodeNetns(node)), kNodeCniPath,
                   *bin + ":/usr/lib/cni", MountSetup{host.nodeMounts(), {}});
}

Status Kubelet::saveRuntime(const PodRuntime& rt) const {
  std::error_code ec;
  fs::create_directories(state_.dir + "/pods/" + rt.ns, ec);
  return writeFileAtomic(runtimePath(rt.ns, rt.name), rt.toJson().dump(2) + "\n");
}

std::vector<PodRuntime> Kubelet::runtimes() const {
  std::vector<PodRuntime> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(state_.dir + "/pods", ec), end; !ec && it != end;
       it.increment(ec)) {
    auto p = it->path();
    if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
    auto text = readFile(p.string());
    if (!text) continue;
    json j = json::parse(*text, nullptr, false);
    if (j.is_discarded()) continue;
    auto r = PodRuntime::fromJson(j);
    if (r) out.push_back(std::move(*r));
  }
  return out;
}

Result<PodRuntime> Kubelet::runtime(const std::string& ns, const std::string& name) const {
  auto text = readFile(runtimePath(ns, name));
  if (!text) return fail(Error::notFound("pod " + ns + "/" + name + " is not running in the lab"));
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return fail(Error::invalid(runtimePath(ns, name) + ": not valid JSON"));
  return PodRuntime::fromJson(j);
}

Status Kubelet::teardown(const PodRuntime& rt) {
  Status first = ok();
  auto keep = [&](Status s) {
    if (!s && first) first = std::move(s);
  };
  if (!rt.cgroup.empty()) keep(CgroupTree::remove(rt.cgroup));
  auto node = LabNames::parseNodeName(rt.node);
  if (!rt.cni_result.is_null() && node && !rt.host_network && LabNetwork::netnsExists(rt.netns)) {
    auto cni = cniRunner(*node);
    CniPod p{rt.ns, rt.name, rt.uid, rt.container_id, LabNames::netnsPath(rt.netns)};
    keep(cni ? cni->del(p, rt.cni_result) : fail(cni.error()));
  }
  if (!rt.host_network) keep(LabNetwork::deleteNetns(rt.netns));
  std::error_code ec;
  fs::remove(runtimePath(rt.ns, rt.name), ec);
  return first;
}

Status Kubelet::materializeDeployments(const std::vector<k8s::Object>& objects) {
  std::map<std::string, const k8s::Object*> pods;  // "ns/name"
  for (const auto& o : objects)
    if (o.kind == "Pod") pods[o.meta.namespace_ + "/" + o.meta.name] = &o;
  std::set<std::string> wanted;  // owned pods that should exist
  Status first = ok();
  for (const auto& o : objects) {
    if (o.kind != "Deployment") continue;
    auto d = k8s::decodeDeployment(o);
    if (!d) {
      if (first) first = fail(d.error());
      continue;
    }
    const YAML::Node& root = o.node;
    YAML::Node tmpl = YAML::Clone(root["spec"]["template"]);
    std::string hash = hashText(canonicalYaml(tmpl));
    std::string owner = "Deployment/" + o.meta.name;
    for (int i = 0; i < d->replicas; ++i) {
      std::string name = o.meta.name + "-" + std::to_string(i);
      std::string key = o.meta.namespace_ + "/" + name;
      wanted.insert(key);
      auto it = pods.find(key);
      if (it != pods.end()) {
        const auto& ann = it->second->meta.annotations;
        auto own = ann.find(kOwnerAnnotation);
        if (own == ann.end() || own->second != owner) {
          if (first)
            first = fail(Error(ErrorCode::kAlreadyExists, "Deployment " + o.meta.namespace_ + "/" +
                                                              o.meta.name + ": pod " + key +
                                                              " exists and is not owned by it"));
          continue;
        }
        auto h = ann.find(kTemplateHashAnnotation);
        if (h != ann.end() && h->second == hash) continue;
      }
      k8s::Object pod;
      pod.api_version = "v1";
      pod.kind = "Pod";
      pod.meta.name = name;
      pod.meta.namespace_ = o.meta.namespace_;
      pod.meta.uid = randomUid();
      pod.meta.labels = d->template_meta.labels;
      pod.meta.annotations = d->template_meta.annotations;
      pod.meta.annotations[kOwnerAnnotation] = owner;
      pod.meta.annotations[kTemplateHashAnnotation] = hash;
      YAML::Node doc(YAML::NodeType::Map);
      YAML::Node meta(YAML::NodeType::Map);
      YAML::Node ref(YAML::NodeType::Map);
      ref["apiVersion"] = "apps/v1";
      ref["kind"] = "Deployment";
      ref["name"] = o.meta.name;
      ref["uid"] = o.meta.uid;
      ref["controller"] = true;
      YAML::Node refs(YAML::NodeType::Sequence);
      refs.push_back(ref);
      meta["ownerReferences"] = refs;
      doc["metadata"] = meta;
      doc["spec"] = YAML::Clone(tmpl["spec"]);
      pod.node = doc;
      pod.source = "Deployment " + o.meta.namespace_ + "/" + o.meta.name;
      if (auto s = store_.put(pod); !s && first) first = fail(s.error());
    }
  }
  // Owned pods of a Deployment that is gone or scaled down.
  for (const auto& [key, p] : pods) {
    auto own = p->meta.annotations.find(kOwnerAnnotation);
    if (own == p->meta.annotations.end() || wanted.contains(key)) continue;
    if (auto s = store_.remove(*p); !s && first) first = fail(s.error());
  }
  return first;
}

Status Kubelet::admit(const std::vector<k8s::Object>& objects) {
  std::vector<k8s::Object> pending;
  for (const auto& o : objects) {
    if (o.kind != "Service") continue;
    auto svc = k8s::decodeService(o);
    if (svc && svc->cluster_ip.empty() && svc->type != "ExternalName") pending.push_back(o);
  }
  if (pending.empty()) return ok();
  auto plan = planApply(objects, pending, state_.nodes, randomUid);
  if (!plan) return fail(plan.error());
  for (size_t i = 0; i < plan->size(); ++i) {
    k8s::Object& obj = (*plan)[i];
    // Conditional on what we read: a writer that changed it meanwhile wins, we retry next time.
    obj.meta.resource_version = pending[i].meta.resource_version;
    if (auto s = store_.update(obj); !s && s.error().code() != ErrorCode::kConflict)
      return fail(s.error());
  }
  return ok();
}

Status Kubelet::reconcile() {
  auto objects = store_.loadAll();
  if (!objects) return fail(objects.error());
  Status first = admit(*objects);
  objects = store_.loadAll();
  if (!objects) return fail(objects.error());
  if (auto s = materializeDeployments(*objects); !s && first) first = fail(s.error());
  objects = store_.loadAll();
  if (!objects) return fail(objects.error());

  std::map<std::string, const k8s::Object*> pods;
  for (const auto& o : *objects) {
    if (o.kind != "Pod") continue;
    auto p = k8s::decodePod(o);
    // Another node's pod (runByLab): not ours to run. A pod that does not decode is ours
    // to report (startPod fails naming the field).
    if (p && !runByLab(p->spec.node_name)) continue;
    pods[o.meta.namespace_ + "/" + o.meta.name] = &o;
  }

  std::map<std::string, PodRuntime> running;
  for (auto& rt : runtimes()) {
    auto it = pods.find(rt.ns + "/" + rt.name);
    if (it == pods.end() || it->second->meta.uid != rt.uid) {
      if (auto s = teardown(rt); !s && first) first = fail(s.error());
      continue;
    }
    running[rt.ns + "/" + rt.name] = rt;
  }

  std::vector<NodeLoad> loads;
  for (int i = 1; i <= state_.nodes; ++i) loads.push_back({LabNames::nodeName(i), 0});
  for (const auto& [key, rt] : running)
    for (auto& l : loads)
      if (l.name == rt.node) ++l.pods;

  for (const auto& [key, obj] : pods) {
    if (running.contains(key)) continue;
    auto s = startPod(*obj, loads);
    if (!s && first) first = fail(s.error());
  }
  return first;
}

Status Kubelet::startPod(const k8s::Object& stored, std::vector<NodeLoad>& loads) {
  k8s::Object obj = stored;
  auto pod = k8s::decodePod(obj);
  if (!pod) return fail(pod.error());
  auto node_name = pickNode(pod->spec.node_name, loads);
  if (!node_name) return fail(obj.fieldError("spec.nodeName", node_name.error().context()));
  int node = *LabNames::parseNodeName(*node_name);
  for (auto& l : loads)
    if (l.name == *node_name) ++l.pods;
  if (obj.meta.uid.empty()) obj.meta.uid = randomUid();

  // Stored as Pending with its node and uid before CNI ADD, as the API server would be.
  obj.node["spec"]["nodeName"] = *node_name;
  setStatus(obj, "Pending", "", LabNames::nodeIp(node), "");
  WARREN_TRY(store_.put(obj));

  PodRuntime rt;
  rt.ns = obj.meta.namespace_;
  rt.name = obj.meta.name;
  rt.uid = obj.meta.uid;
  rt.node = *node_name;
  rt.host_network = pod->spec.host_network;
  rt.netns = rt.host_network ? names_.nodeNetns(node) : names_.podNetns(rt.ns, rt.name);
  rt.cgroup = names_.podCgroup(node, rt.ns, rt.name);
  rt.container_id = randomHex(64);
  rt.host_ip = LabNames::nodeIp(node);

  auto failed = [&](const Error& e) -> Status {
    Error err = e.wrap("pod " + rt.ns + "/" + rt.name);
    (void)teardown(rt);
    setStatus(obj, "Failed", "", rt.host_ip, err.message());
    (void)store_.put(obj);
    return fail(err);
  };

  WARREN_TRY(saveRuntime(rt));  // first, so a crash after this point is cleaned up
  if (rt.host_network) {
    rt.pod_ip = rt.host_ip;
  } else {
    if (LabNetwork::netnsExists(rt.netns)) (void)LabNetwork::deleteNetns(rt.netns);
    if (auto s = LabNetwork::addNetns(rt.netns); !s) return failed(s.error());
    // Loopback up, as every container runtime does for a pod sandbox (CRI; the `loopback` CNI
    // plugin): a pod outside the mesh (a waypoint, its admin on 127.0.0.1) needs it too.
    if (auto s = runChecked({"ip", "-n", rt.netns, "link", "set", "lo", "up"}); !s)
      return failed(s.error());
    auto cni = cniRunner(node);
    if (!cni) return failed(cni.error());
    CniPod p{rt.ns, rt.name, rt.uid, rt.container_id, LabNames::netnsPath(rt.netns)};
    auto res = cni->add(p);
    if (!res) return failed(res.error());
    rt.pod_ip = res->pod_ip;
    rt.cni_result = res->raw;
    if (auto s = saveRuntime(rt); !s) return failed(s.error());
  }

  if (auto s = CgroupTree::create(rt.cgroup); !s) return failed(s.error());
  const YAML::Node& containers_node = obj.node["spec"]["containers"];
  // hostPath volumes land on the node's own paths, as for the DaemonSet pods (node_pod.h).
  const NodeHost host = labNodeHost(state_.dir, names_, node);
  const DownwardFields downward{
      rt.name, rt.ns, rt.uid, rt.node, pod->spec.service_account_name, rt.pod_ip, rt.host_ip};
  // A container that cannot start leaves the pod up (its sandbox: netns, IP) with the reason
  // in its status, as a kubelet reports RunContainerError; only the sandbox failing fails it.
  std::vector<ContainerFailure> failures;
  for (size_t ci = 0; ci < pod->spec.containers.size(); ++ci) {
    const auto& c = pod->spec.containers[ci];
    std::vector<BindMount> mounts;
    for (const auto& m : c.volume_mounts) {
      for (const auto& v : pod->spec.volumes) {
        if (v.name != m.name) continue;
        if (v.host_path.empty())
          return failed(Error::invalid("container " + c.name + ": volume " + v.name +
                                       ": the lab supports hostPath volumes only"));
        auto source = host.realPath(v.host_path);
        if (!source) return failed(source.error().wrap("container " + c.name));
        mounts.push_back({*source, m.mount_path, m.read_only});
      }
    }
    if (ci == 0) rt.mounts = mounts;
    std::vector<std::string> argv = c.command;
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    if (argv.empty()) continue;  // nothing to run: the pod is just its network (a pause pod)
    auto prog = resolveProgram(argv[0], state_.bin_dir);
    auto env = podContainerEnv(downward, containers_node[ci]);
    Result<pid_t> pid = fail(Error::invalid(""));
    if (!prog) {
      pid = fail(prog.error());
    } else if (!env) {
      pid = fail(env.error());
    } else {
      argv[0] = *prog;
      DetachedSpec spec{argv,
                        LabNames::netnsPath(rt.netns),
                        rt.cgroup,
                        podLogPath(rt.ns, rt.name),
                        std::move(*env),
                        MountSetup{mounts, {}}};
      pid = spawnDetached(spec);
    }
    if (!pid) {
      std::string why = "container " + c.name + ": " + pid.error().message();
      failures.push_back({c.name, why});
      std::ofstream(podLogPath(rt.ns, rt.name), std::ios::app) << "warren-lab: " << why << "\n";
      continue;
    }
    rt.pids.push_back(*pid);
  }
  if (auto s = saveRuntime(rt); !s) return failed(s.error());
  setStatus(obj, "Running", rt.pod_ip, rt.host_ip, "", failures);
  return store_.put(obj);
}

}  // namespace warren::lab
