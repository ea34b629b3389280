// warren-lab: a Kubernetes-like cluster on one machine out of network namespaces, for the
// demo, the end-to-end tests and the benchmarks. See lab/README.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/k8s/core.h"
#include "common/kernel_mounts.h"
#include "common/kube/manifest_store.h"
#include "common/log.h"
#include "lab/apply_plan.h"
#include "lab/cgroup_tree.h"
#include "lab/kubelet.h"
#include "lab/lab_cluster.h"
#include "lab/lab_lock.h"
#include "lab/lab_network.h"
#include "lab/process.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace warren;
using namespace warren::lab;

namespace {

struct Options {
  std::string dir = "/run/warren-lab";
  std::string name = "wl";
  int nodes = 2;
  std::vector<std::string> files;
  std::string output;
  std::string field;
  std::string ns;
  bool all_namespaces = false;
  std::vector<std::string> words;
  bool kill = false;
  std::vector<std::string> agent_flags;  // up --agent-flag (repeatable)
  std::string daemonsets;                // up --daemonsets
  std::string runtime = "process";       // up --runtime
  std::string image_tag;                 // up --image-tag
  std::vector<std::string> command;      // after "--"
};

int report(const Error& e) {
  std::fprintf(stderr, "warren-lab: %s\n", e.message().c_str());
  return 1;
}

// The lab a command works on: its state, names and kubelet.
struct Lab {
  LabState state;
  LabNames names;
  Lab(LabState s) : state(std::move(s)), names(state.name, state.cgroup_mount) {}
};

Result<Lab> openLab(const Options& o) {
  auto st = LabState::load(o.dir);
  if (!st) return fail(st.error());
  if (!st->ready)
    return fail(Error(ErrorCode::kUnavailable,
                      "lab in " + o.dir + " is not fully up (run warren-lab down, then up)"));
  return Lab(std::move(*st));
}

Result<std::vector<k8s::Object>> loadInputs(const std::vector<std::string>& files) {
  std::vector<std::string> paths;
  for (const auto& f : files) {
    std::error_code ec;
    if (fs::is_directory(f, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(f, ec)) {
        auto ext = e.path().extension().string();
        if (ext == ".yaml" || ext == ".yml" || ext == ".json") in_dir.push_back(e.path().string());
      }
      std::sort(in_dir.begin(), in_dir.end());
      paths.insert(paths.end(), in_dir.begin(), in_dir.end());
    } else {
      paths.push_back(f);
    }
  }
  std::vector<k8s::Object> out;
  for (const auto& p : paths) {
    auto objs = k8s::loadManifestFile(p);
    if (!objs) return fail(objs.error());
    for (auto& o : *objs) out.push_back(std::move(o));
  }
  return out;
}

int cmdUp(const Options& o, const std::string& cgroup_mount) {
  if (auto s = validateLabName(o.name); !s) return report(s.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  std::string dir = fs::absolute(o.dir).lexically_normal().string();
  LabCluster cluster(o.name, dir, cgroup_mount, selfBinDir());
  UpOptions up{o.nodes, o.agent_flags, o.daemonsets, o.runtime, o.image_tag};
  if (auto s = cluster.up(up); !s) {
    report(s.error().wrap("up"));
    if (s.error().code() == ErrorCode::kAlreadyExists) return 1;  // a live lab is left alone
    std::fprintf(stderr, "warren-lab: cleaning up the partial lab\n");
    (void)cluster.down(nullptr);
    return 1;
  }
  std::printf("lab '%s' is up: %d nodes, dir %s\n", o.name.c_str(), o.nodes, dir.c_str());
  for (int i = 1; i <= o.nodes; ++i)
    std::printf("  %s  ip %s  pods %s  netns %s\n", LabNames::nodeName(i).c_str(),
                LabNames::nodeIp(i).c_str(), LabNames::podCidr(i).c_str(),
                cluster.names().nodeNetns(i).c_str());
  return 0;
}

int cmdDown(const Options& o, const std::string& cgroup_mount) {
  std::string name = o.name;
  if (auto st = LabState::load(o.dir)) name = st->name;  // the state knows best when readable
  if (auto s = validateLabName(name); !s) return report(s.error());
  auto lock = LabLock::acquire(o.dir, std::chrono::seconds(30));
  if (!lock)
    std::fprintf(stderr, "warren-lab: %s; tearing down anyway\n", lock.error().message().c_str());
  LabCluster cluster(name, o.dir, cgroup_mount, selfBinDir());
  std::vector<std::string> removed;
  auto s = cluster.down(&removed);
  for (const auto& r : removed) std::printf("removed %s\n", r.c_str());
  if (!s) return report(s.error().wrap("down"));
  std::printf("lab '%s' is down\n", name.c_str());
  return 0;
}

int reconcileAndReport(Lab& lab) {
  Kubelet kubelet(lab.state, lab.names);
  if (auto s = kubelet.reconcile(); !s) return report(s.error());
  return 0;
}

int cmdApply(const Options& o) {
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  ManifestStore store(o.dir + "/manifests");
  {
    // Read, plan and write under the store's lock: other writers (the waypoint controller)
    // cannot change an object between our read and our write.
    auto store_lock = store.lock();
    if (!store_lock) return report(store_lock.error());
    auto existing = store.loadAll();
    if (!existing) return report(existing.error());
    auto incoming = loadInputs(o.files);
    if (!incoming) return report(incoming.error());
    auto plan = planApply(*existing, *incoming, lab->state.nodes, randomUid);
    if (!plan) return report(plan.error());
    for (const auto& obj : *plan) {
      if (auto s = store.put(obj); !s) return report(s.error());
      std::printf("%s applied\n", obj.describe().c_str());
    }
  }
  return reconcileAndReport(*lab);
}

int cmdDelete(const Options& o) {
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  ManifestStore store(o.dir + "/manifests");
  auto existing = store.loadAll();
  if (!existing) return report(existing.error());
  auto incoming = loadInputs(o.files);
  if (!incoming) return report(incoming.error());
  std::vector<std::string> missing;
  for (const auto& obj : planDelete(*existing, *incoming, &missing)) {
    if (auto s = store.remove(obj); !s) return report(s.error());
    std::printf("%s deleted\n", obj.describe().c_str());
  }
  for (const auto& m : missing) std::fprintf(stderr, "warren-lab: %s not found\n", m.c_str());
  return reconcileAndReport(*lab);
}

// label namespace NAME k=v k2- ... | label [-n NS] pod NAME k=v ...
int cmdLabel(const Options& o) {
  if (o.words.size() < 3)
    return report(Error::invalid(
        "usage: label namespace NAME k=v|k- ...  or  label [-n NS] pod NAME k=v|k- ..."));
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  std::string kind_word = o.words[0];
  std::string kind = kind_word == "namespace" || kind_word == "ns"  ? "Namespace"
                     : kind_word == "pod" || kind_word == "pods"    ? "Pod"
                     : kind_word == "service" || kind_word == "svc" ? "Service"
                     : kind_word == "deployment"                    ? "Deployment"
                                                                    : "";
  if (kind.empty())
    return report(Error::invalid("label: unknown kind '" + kind_word +
                                 "' (namespace, pod, service, deployment)"));
  std::string ns = kind == "Namespace" ? "" : (o.ns.empty() ? "default" : o.ns);
  const std::string& name = o.words[1];
  ManifestStore store(o.dir + "/manifests");
  auto all = store.loadAll();
  if (!all) return report(all.error());
  const k8s::Object* stored = nullptr;
  for (const auto& obj : *all)
    if (obj.kind == kind && obj.meta.name == name && obj.meta.namespace_ == ns) stored = &obj;
  std::vector<k8s::Object> implicit;
  if (!stored) {
    if (kind != "Namespace")
      return report(Error::notFound(kind + " " + ns + "/" + name + " not found"));
    // Namespaces exist implicitly (like "default"); labelling one stores it.
    auto parsed = k8s::parseManifests(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n", "label");
    if (!parsed || parsed->empty())
      return report(Error::invalid("namespace name '" + name + "' is not valid"));
    implicit = std::move(*parsed);
    implicit[0].meta.uid = randomUid();
    stored = &implicit[0];
  }
  k8s::Object target = *stored;
  for (size_t i = 2; i < o.words.size(); ++i) {
    const std::string& w = o.words[i];
    if (w.size() > 1 && w.back() == '-' && w.find('=') == std::string::npos) {
      target.meta.labels.erase(w.substr(0, w.size() - 1));
      continue;
    }
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return report(Error::invalid("label: '" + w + "' is not key=value or key-"));
    target.meta.labels[w.substr(0, eq)] = w.substr(eq + 1);
  }
  if (auto s = store.put(target); !s) return report(s.error());
  std::printf("%s labelled\n", target.describe().c_str());
  return reconcileAndReport(*lab);
}

// get's names for the stored kinds shown as whole objects.
std::optional<std::string> storedKind(const std::string& word) {
  static const std::map<std::string, std::string> kKinds = {{"deployments", "Deployment"},
                                                            {"deployment", "Deployment"},
                                                            {"serviceaccounts", "ServiceAccount"},
                                                            {"serviceaccount", "ServiceAccount"},
                                                            {"sa", "ServiceAccount"},
                                                            {"gateways", "Gateway"},
                                                            {"gateway", "Gateway"},
                                                            {"httproutes", "HTTPRoute"},
                                                            {"httproute", "HTTPRoute"},
                                                            {"grpcroutes", "GRPCRoute"},
                                                            {"grpcroute", "GRPCRoute"},
                                                            {"leases", "Lease"},
                                                            {"lease", "Lease"}};
  auto it = kKinds.find(word);
  if (it == kKinds.end()) return std::nullopt;
  return it->second;
}

int cmdGet(const Options& o) {
  if (o.words.empty())
    return report(Error::invalid("usage: get pods|services|namespaces [-o json]"));
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  ManifestStore store(o.dir + "/manifests");
  auto all = store.loadAll();
  if (!all) return report(all.error());
  Kubelet kubelet(lab->state, lab->names);
  std::string what = o.words[0];
  bool as_json = o.output == "json";
  if (!o.output.empty() && !as_json) return report(Error::invalid("-o: only 'json' is supported"));
  auto nsMatch = [&](const k8s::Object& obj) {
    return o.all_namespaces || o.ns.empty() || obj.meta.namespace_ == o.ns;
  };
  // Optional NS/NAME (or NAME in -n / default) picks one object.
  std::string only_ns, only_name;
  if (o.words.size() > 1) {
    const std::string& w = o.words[1];
    auto slash = w.find('/');
    only_ns = slash == std::string::npos ? (o.ns.empty() ? "default" : o.ns) : w.substr(0, slash);
    only_name = slash == std::string::npos ? w : w.substr(slash + 1);
  }
  auto picked = [&](const k8s::Object& obj) {
    if (only_name.empty()) return nsMatch(obj);
    return obj.meta.name == only_name &&
           (obj.meta.namespace_ == only_ns || obj.kind == "Namespace");
  };
  if (!o.field.empty()) as_json = true;
  json out = json::array();
  if (what == "pods" || what == "pod" || what == "po") {
    if (!as_json)
      std::printf("%-12s %-24s %-8s %-15s %-15s %s\n", "NAMESPACE", "NAME", "NODE", "IP", "HOST-IP",
                  "PHASE");
    for (const auto& obj : *all) {
      if (obj.kind != "Pod" || !picked(obj)) continue;
      auto pod = k8s::decodePod(obj);
      if (!pod) return report(pod.error());
      auto rt = kubelet.runtime(obj.meta.namespace_, obj.meta.name);
      std::vector<pid_t> pids;
      if (rt) pids = CgroupTree::procs(rt->cgroup);
      if (as_json) {
        json labels = json::object();
        for (const auto& [k, v] : obj.meta.labels) labels[k] = v;
        out.push_back({{"namespace", obj.meta.namespace_},
                       {"name", obj.meta.name},
                       {"uid", obj.meta.uid},
                       {"node", pod->spec.node_name},
                       {"podIP", pod->status.pod_ip},
                       {"hostIP", pod->status.host_ip},
                       {"phase", pod->status.phase},
                       {"labels", labels},
                       {"netns", rt ? LabNames::netnsPath(rt->netns) : ""},
                       {"cgroup", rt ? rt->cgroup : ""},
                       {"pids", pids},
                       {"log", kubelet.podLogPath(obj.meta.namespace_, obj.meta.name)}});
      } else {
        std::printf("%-12s %-24s %-8s %-15s %-15s %s\n", obj.meta.namespace_.c_str(),
                    obj.meta.name.c_str(), pod->spec.node_name.c_str(), pod->status.pod_ip.c_str(),
                    pod->status.host_ip.c_str(), pod->status.phase.c_str());
      }
    }
  } else if (what == "services" || what == "service" || what == "svc") {
    if (!as_json) std::printf("%-12s %-24s %-15s %s\n", "NAMESPACE", "NAME", "CLUSTER-IP", "PORTS");
    for (const auto& obj : *all) {
      if (obj.kind != "Service" || !picked(obj)) continue;
      auto svc = k8s::decodeService(obj);
      if (!svc) return report(svc.error());
      json ports = json::array();
      std::string ports_text;
      for (const auto& p : svc->ports) {
        json tp = p.target_port.number ? json(*p.target_port.number) : json(p.target_port.name);
        ports.push_back(
            {{"name", p.name}, {"port", p.port}, {"targetPort", tp}, {"protocol", p.protocol}});
        ports_text += (ports_text.empty() ? "" : ",") + std::to_string(p.port) + "/" + p.protocol;
      }
      json selector = json::object();
      for (const auto& [k, v] : svc->selector) selector[k] = v;
      if (as_json) {
        out.push_back({{"namespace", obj.meta.namespace_},
                       {"name", obj.meta.name},
                       {"clusterIP", svc->cluster_ip},
                       {"ports", ports},
                       {"selector", selector}});
      } else {
        std::printf("%-12s %-24s %-15s %s\n", obj.meta.namespace_.c_str(), obj.meta.name.c_str(),
                    svc->cluster_ip.c_str(), ports_text.c_str());
      }
    }
  } else if (what == "namespaces" || what == "namespace" || what == "ns") {
    if (!as_json) std::printf("%-24s %s\n", "NAME", "LABELS");
    for (const auto& obj : *all) {
      if (obj.kind != "Namespace" || (!only_name.empty() && obj.meta.name != only_name)) continue;
      json labels = json::object();
      std::string text;
      for (const auto& [k, v] : obj.meta.labels) {
        labels[k] = v;
        text += (text.empty() ? "" : ",") + k + "=" + v;
      }
      if (as_json)
        out.push_back({{"name", obj.meta.name}, {"labels", labels}});
      else
        std::printf("%-24s %s\n", obj.meta.name.c_str(), text.c_str());
    }
  } else if (auto kind = storedKind(what)) {
    // Any other stored kind, as the whole object (with its status).
    if (!as_json) std::printf("%-12s %s\n", "NAMESPACE", "NAME");
    for (const auto& obj : *all) {
      if (obj.kind != *kind || !picked(obj)) continue;
      if (as_json)
        out.push_back(k8s::toJson(obj));
      else
        std::printf("%-12s %s\n", obj.meta.namespace_.c_str(), obj.meta.name.c_str());
    }
  } else {
    return report(Error::invalid("get: unknown resource '" + what +
                                 "' (pods, services, namespaces, deployments, serviceaccounts, "
                                 "gateways, httproutes, grpcroutes, leases)"));
  }
  if (!only_name.empty() && out.empty())
    return report(Error::notFound(what + " " + (only_ns.empty() ? "" : only_ns + "/") + only_name +
                                  " not found"));
  if (!o.field.empty()) {
    // One value per line, strings unquoted: for shell scripts without a JSON tool.
    for (const auto& item : out) {
      if (!item.contains(o.field))
        return report(Error::invalid("--field: no field '" + o.field + "'"));
      const auto& v = item[o.field];
      std::printf("%s\n", v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
    return 0;
  }
  if (as_json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

// "ns/pod" or "pod" (default namespace), or "node-N".
struct Target {
  bool node = false;
  int node_index = 0;
  std::string ns, name;
};

Result<Target> parseTarget(const std::string& s, const Options& o, const LabState& st) {
  Target t;
  if (auto i = LabNames::parseNodeName(s)) {
    if (*i > st.nodes) return fail(Error::notFound("node '" + s + "' does not exist"));
    t.node = true;
    t.node_index = *i;
    return t;
  }
  auto slash = s.find('/');
  t.ns = slash == std::string::npos ? (o.ns.empty() ? "default" : o.ns) : s.substr(0, slash);
  t.name = slash == std::string::npos ? s : s.substr(slash + 1);
  if (t.name.empty()) return fail(Error::invalid("target '" + s + "': expected NS/POD or node-N"));
  return t;
}

int cmdExec(const Options& o) {
  if (o.words.empty() || o.command.empty())
    return report(Error::invalid("usage: exec NS/POD|node-N -- COMMAND [ARGS...]"));
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto t = parseTarget(o.words[0], o, lab->state);
  if (!t) return report(t.error());
  std::vector<std::string> argv = o.command;
  auto prog = resolveProgram(argv[0], lab->state.bin_dir);
  if (!prog) return report(prog.error());
  argv[0] = *prog;
  std::fflush(stdout);
  Result<int> rc = 0;
  if (t->node) {
    rc = runForeground(argv, LabNames::netnsPath(lab->names.nodeNetns(t->node_index)), "");
  } else {
    Kubelet kubelet(lab->state, lab->names);
    auto rt = kubelet.runtime(t->ns, t->name);
    if (!rt) return report(rt.error());
    rc =
        runForeground(argv, LabNames::netnsPath(rt->netns), rt->cgroup, MountSetup{rt->mounts, {}});
  }
  if (!rc) return report(rc.error());
  return *rc;
}

int catFile(const std::string& path) {
  auto text = readFile(path);
  if (!text) return report(text.error());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

int cmdLogs(const Options& o) {
  if (o.words.empty())
    return report(Error::invalid("usage: logs NS/POD  or  logs node-N agent|ztunnel"));
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto t = parseTarget(o.words[0], o, lab->state);
  if (!t) return report(t.error());
  LabCluster cluster(lab->state.name, lab->state.dir, lab->state.cgroup_mount, lab->state.bin_dir);
  if (t->node) {
    if (o.words.size() < 2)
      return report(Error::invalid("logs node-N: which component? (agent, ztunnel, install-cni)"));
    const std::string& c = o.words[1];
    std::string path = cluster.componentLog(t->node_index, c);
    if (c.find('/') != std::string::npos || ::access(path.c_str(), F_OK) != 0)
      return report(Error::notFound(o.words[0] + " has no '" + c + "' container log (" + path +
                                    "; the containers are those of the node DaemonSets)"));
    return catFile(path);
  }
  Kubelet kubelet(lab->state, lab->names);
  return catFile(kubelet.podLogPath(t->ns, t->name));
}

int cmdPs(const Options& o) {
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  std::printf("%-8s %-24s %-8s %s\n", "NODE", "COMPONENT/POD", "STATE", "PIDS");
  for (const auto& [node, comps] : lab->state.components) {
    for (const auto& [comp, c] : comps) {
      bool up = processAlive(c.pid);
      std::printf("%-8s %-24s %-8s %d\n", node.c_str(), comp.c_str(), up ? "running" : "exited",
                  c.pid);
    }
  }
  Kubelet kubelet(lab->state, lab->names);
  for (const auto& rt : kubelet.runtimes()) {
    auto pids = CgroupTree::procs(rt.cgroup);
    std::string text;
    for (pid_t p : pids) text += (text.empty() ? "" : ",") + std::to_string(p);
    std::string who = rt.ns + "/" + rt.name;
    std::printf("%-8s %-24s %-8s %s\n", rt.node.c_str(), who.c_str(),
                pids.empty() ? "exited" : "running", text.c_str());
  }
  return 0;
}

int cmdRestart(const Options& o) {
  if (o.words.size() != 2)
    return report(Error::invalid("usage: restart node-N agent|ztunnel [--kill]"));
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  auto node = LabNames::parseNodeName(o.words[0]);
  if (!node || *node > lab->state.nodes)
    return report(Error::notFound("node '" + o.words[0] + "' does not exist"));
  const std::string& c = o.words[1];
  LabCluster cluster(lab->state.name, lab->state.dir, lab->state.cgroup_mount, lab->state.bin_dir);
  if (auto s = cluster.restartComponent(lab->state, c, *node, o.kill); !s) return report(s.error());
  std::printf("%s %s restarted: pid %d\n", o.words[0].c_str(), c.c_str(),
              lab->state.components[o.words[0]][c].pid);
  return 0;
}

int cmdNodeCleanup(const Options& o) {
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  LabCluster cluster(lab->state.name, lab->state.dir, lab->state.cgroup_mount, lab->state.bin_dir);
  std::string path =
      o.daemonsets.empty() ? std::string(WARREN_LAB_DEPLOY_DIR "/cleanup") : o.daemonsets;
  if (auto s = cluster.nodeCleanup(lab->state, path); !s) return report(s.error());
  std::printf("node components deleted and nodes cleaned up (%s)\n", path.c_str());
  return 0;
}

int cmdReconcile(const Options& o) {
  auto lab = openLab(o);
  if (!lab) return report(lab.error());
  auto lock = LabLock::acquire(o.dir);
  if (!lock) return report(lock.error());
  return reconcileAndReport(*lab);
}

}  // namespace

int main(int argc, char** argv) {
  log::init("warren-lab", "info");
  Options o;
  // Everything after the first "--" is a command to run (exec), never parsed as our flags.
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      for (int j = i + 1; j < argc; ++j) o.command.push_back(argv[j]);
      break;
    }
    args.push_back(argv[i]);
  }

  CLI::App app{"warren-lab: a Kubernetes-like cluster on one machine, out of network namespaces"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.add_option("--dir", o.dir, "lab state directory")->envname("WARREN_LAB_DIR");
  app.add_option("--name", o.name, "lab name (prefix of every netns, cgroup and pin)")
      ->envname("WARREN_LAB_NAME");
  app.fallthrough();

  auto* up = app.add_subcommand("up", "create the nodes, CA and node components");
  up->add_option("--nodes", o.nodes, "number of nodes")->check(CLI::Range(1, LabNames::kMaxNodes));
  up->add_option("--agent-flag", o.agent_flags,
                 "extra flag for every node agent, also on restart (repeatable; "
                 "--agent-flag=--sockmap-fast-path)")
      ->allow_extra_args(false);
  up->add_option("--daemonsets", o.daemonsets,
                 "node DaemonSet manifests (file or dir) to run on every node; default "
                 "deploy/base/node, $WARREN_LAB_DAEMONSETS")
      ->envname("WARREN_LAB_DAEMONSETS");
  up->add_option("--runtime", o.runtime,
                 "process (the build's binaries) or podman (the images of make images)")
      ->envname("WARREN_LAB_RUNTIME");
  up->add_option("--image-tag", o.image_tag,
                 "podman: tag of the images (default: <build>/images/tag, from make images)");
  app.add_subcommand("down", "remove everything the lab created (also after a crash)");
  auto* apply = app.add_subcommand("apply", "store manifests and reconcile pods");
  apply->add_option("-f,--filename", o.files, "manifest file or directory")->required();
  auto* del = app.add_subcommand("delete", "delete the objects of manifests");
  del->add_option("-f,--filename", o.files, "manifest file or directory")->required();
  auto* label =
      app.add_subcommand("label", "label a namespace or pod: label namespace NAME k=v k2-");
  label->add_option("-n,--namespace", o.ns, "namespace of the object");
  label->add_option("args", o.words, "KIND NAME k=v|k- ...")->required();
  auto* get = app.add_subcommand("get", "list pods, services or namespaces");
  get->add_option("what", o.words, "pods|services|namespaces [NS/NAME]")->required();
  get->add_option("--field", o.field,
                  "print only this field of each object (podIP, node, clusterIP...)");
  get->add_option("-o,--output", o.output, "json");
  get->add_option("-n,--namespace", o.ns, "only this namespace");
  get->add_flag("-A,--all-namespaces", o.all_namespaces, "every namespace (the default)");
  auto* exec = app.add_subcommand(
      "exec", "run a command in a pod (netns+cgroup) or node netns: exec NS/POD -- CMD");
  exec->add_option("target", o.words, "NS/POD or node-N")->required();
  exec->add_option("-n,--namespace", o.ns, "namespace when the target has none");
  auto* logs = app.add_subcommand(
      "logs", "print a pod's or node component's log: logs NS/POD | logs node-N agent");
  logs->add_option("target", o.words, "NS/POD, or node-N COMPONENT")->required();
  logs->add_option("-n,--namespace", o.ns, "namespace when the target has none");
  app.add_subcommand("ps", "node components and pods with their PIDs");
  auto* restart = app.add_subcommand(
      "restart",
      "roll a node component's DaemonSet pod on one node (updateStrategy), or --kill one "
      "container: restart node-N agent|ztunnel|install-cni [--kill]");
  restart->add_option("args", o.words, "node-N COMPONENT")->required();
  restart->add_flag("--kill", o.kill, "SIGKILL instead of SIGTERM");
  auto* cleanup = app.add_subcommand(
      "node-cleanup",
      "uninstall from the nodes: delete the node DaemonSets' pods, then run deploy/cleanup");
  cleanup->add_option("--daemonsets", o.daemonsets,
                      "the clean-up DaemonSet (default deploy/cleanup)");
  app.add_subcommand("reconcile", "re-run the kubelet (start missing pods, remove stale ones)");

  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto cg = cgroup2Mount();
  auto sub = app.get_subcommands().front();
  const std::string& name = sub->get_name();
  if ((name == "up" || name == "down") && !cg) return report(cg.error());
  if (name == "up") return cmdUp(o, *cg);
  if (name == "down") return cmdDown(o, *cg);
  if (name == "apply") return cmdApply(o);
  if (name == "delete") return cmdDelete(o);
  if (name == "label") return cmdLabel(o);
  if (name == "get") return cmdGet(o);
  if (name == "exec") return cmdExec(o);
  if (name == "logs") return cmdLogs(o);
  if (name == "ps") return cmdPs(o);
  if (name == "restart") return cmdRestart(o);
  if (name == "reconcile") return cmdReconcile(o);
  if (name == "node-cleanup") return cmdNodeCleanup(o);
  return 2;
}
