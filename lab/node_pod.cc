#include "lab/node_pod.h"

#include <algorithm>

namespace warren::lab {

NodeHost labNodeHost(const std::string& lab_dir, const LabNames& names, int node) {
  NodeHost h;
  h.node_name = LabNames::nodeName(node);
  h.node_ip = LabNames::nodeIp(node);
  const std::string dir = lab_dir + "/nodes/" + h.node_name;
  h.private_paths = {
      {"/var/run/warren", dir + "/run"},          {"/etc/cni/net.d", dir + "/cni/net.d"},
      {"/opt/cni/bin", dir + "/cni/bin"},         {"/sys/fs/bpf/warren", names.pinDir(node)},
      {"/sys/fs/cgroup", names.nodeCgroup(node)},
  };
  h.shared_paths = {"/sys/fs/bpf", "/var/run/netns", "/run/netns"};
  h.secrets = {{"warren-ca", lab_dir + "/ca"}};
  return h;
}

Result<std::string> NodeHost::realPath(const std::string& host_path) const {
  if (auto it = private_paths.find(host_path); it != private_paths.end()) return it->second;
  // Below a node-private path (/var/run/warren/proxy): the same place under the node's copy,
  // the deepest private path first (/sys/fs/bpf/warren/x is the node's pin dir, not bpffs).
  const std::pair<const std::string, std::string>* under = nullptr;
  for (const auto& entry : private_paths)
    if (host_path.starts_with(entry.first + "/") &&
        (!under || entry.first.size() > under->first.size()))
      under = &entry;
  if (under) return under->second + host_path.substr(under->first.size());
  for (const auto& s : shared_paths)
    if (s == host_path) return s == "/var/run/netns" ? std::string("/run/netns") : s;
  std::string known;
  for (const auto& [p, real] : private_paths) known += (known.empty() ? "" : ", ") + p;
  for (const auto& s : shared_paths) known += ", " + s;
  return fail(Error::notFound("hostPath " + host_path + " is not a path of the lab's nodes (" +
                              known + ")"));
}

std::vector<BindMount> NodeHost::nodeMounts() const {
  std::vector<BindMount> out;
  for (const auto& [host, real] : private_paths) out.push_back({real, host, false});
  std::sort(out.begin(), out.end(),
            [](const BindMount& a, const BindMount& b) { return a.target < b.target; });
  return out;
}

Result<std::string> expandVars(const std::string& text,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const std::string& what) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$$(") == 0) {
      out += "$(";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "$(") == 0) {
      size_t close = text.find(')', i + 2);
      if (close == std::string::npos) {
        out += text.substr(i);
        break;
      }
      std::string name = text.substr(i + 2, close - i - 2);
      const std::string* value = nullptr;
      for (const auto& [k, v] : env)
        if (k == name) value = &v;  // the last definition wins, as in Kubernetes
      if (!value)
        return fail(Error::invalid(what + " refers to $(" + name +
                                   "), which is not in the container's env"));
      out += *value;
      i = close + 1;
      continue;
    }
    out += text[i++];
  }
  return out;
}

Result<std::string> downwardValue(const std::string& field_path, const DownwardFields& pod) {
  if (field_path == "metadata.name") return pod.name;
  if (field_path == "metadata.namespace") return pod.ns;
  if (field_path == "metadata.uid") return pod.uid;
  if (field_path == "spec.nodeName") return pod.node_name;
  if (field_path == "spec.serviceAccountName") return pod.service_account;
  if (field_path == "status.podIP" || field_path == "status.podIPs") return pod.pod_ip;
  if (field_path == "status.hostIP" || field_path == "status.hostIPs") return pod.host_ip;
  return fail(Error::invalid("fieldPath '" + field_path +
                             "' is not a downward API field the lab fills (metadata.name, "
                             "metadata.namespace, metadata.uid, spec.nodeName, "
                             "spec.serviceAccountName, status.hostIP, status.podIP)"));
}

Result<std::vector<std::pair<std::string, std::string>>> podContainerEnv(
    const DownwardFields& pod, const YAML::Node& container) {
  std::vector<std::pair<std::string, std::string>> env = {{"POD_NAME", pod.name},
                                                          {"POD_NAMESPACE", pod.ns},
                                                          {"POD_IP", pod.pod_ip},
                                                          {"NODE_NAME", pod.node_name},
                                                          {"HOST_IP", pod.host_ip}};
  // Missing keys of a const node are "zombies" that throw on IsScalar(): test IsDefined first.
  auto scalar = [](const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); };
  if (!container.IsDefined() || !container.IsMap()) return env;
  const YAML::Node list = container["env"];
  if (!list.IsDefined() || !list.IsSequence()) return env;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node e = list[i];
    if (!e.IsMap() || !scalar(e["name"])) continue;
    const std::string name = e["name"].Scalar();
    const std::string what = "env[" + std::to_string(i) + "] (" + name + ")";
    const YAML::Node from = e["valueFrom"];
    if (from.IsDefined() && from.IsMap()) {
      const YAML::Node ref = from["fieldRef"];
      if (!ref.IsDefined() || !ref.IsMap() || !scalar(ref["fieldPath"]))
        return fail(Error::invalid(what + ": only valueFrom.fieldRef (the downward API) is "
                                          "supported by the lab"));
      auto v = downwardValue(ref["fieldPath"].Scalar(), pod);
      if (!v) return fail(v.error().wrap(what));
      env.emplace_back(name, std::move(*v));
      continue;
    }
    auto v = expandVars(scalar(e["value"]) ? e["value"].Scalar() : "", env, what);
    if (!v) return fail(v.error());
    env.emplace_back(name, std::move(*v));
  }
  return env;
}

Result<ResolvedContainer> resolveContainer(const NodeDaemonSet& ds, const ContainerSpec& c,
                                           const PodIdentity& pod, const NodeHost& host) {
  const std::string where =
      ds.source + ": DaemonSet " + ds.ns + "/" + ds.name + ": container " + c.name;
  ResolvedContainer r;
  r.name = c.name;
  r.image = c.image;
  r.cap_add = c.cap_add;
  r.cap_drop = c.cap_drop;
  r.privileged = c.privileged;
  r.no_new_privileges = !c.allow_privilege_escalation;
  r.read_only_root = c.read_only_root;
  r.run_as_user = c.run_as_user;
  // hostNetwork: the pod's IP is the node's.
  const DownwardFields fields{pod.name,           pod.ns,       pod.uid,     host.node_name,
                              ds.service_account, host.node_ip, host.node_ip};
  // env in order; a value may refer to variables defined before it.
  for (size_t i = 0; i < c.env.size(); ++i) {
    const auto& e = c.env[i];
    std::string what = where + ": env[" + std::to_string(i) + "] (" + e.name + ")";
    Result<std::string> v = e.field_path.empty() ? expandVars(e.value, r.env, what)
                                                 : downwardValue(e.field_path, fields);
    if (!v) return fail(v.error().wrap(what));
    r.env.emplace_back(e.name, std::move(*v));
  }
  // No command: the image's entrypoint (a pause container); the lab runs nothing for it, as
  // for a lab pod's container without a command.
  auto expandAll = [&](const std::vector<std::string>& in, const std::string& field,
                       std::vector<std::string>& out) -> Status {
    for (size_t i = 0; i < in.size(); ++i) {
      auto v = expandVars(in[i], r.env, where + ": " + field + "[" + std::to_string(i) + "]");
      if (!v) return fail(v.error());
      out.push_back(std::move(*v));
    }
    return ok();
  };
  WARREN_TRY(expandAll(c.command, "command", r.argv));
  WARREN_TRY(expandAll(c.args, "args", r.argv));
  r.readiness = c.readiness;
  r.readiness.exec.clear();
  WARREN_TRY(expandAll(c.readiness.exec, "readinessProbe.exec.command", r.readiness.exec));

  for (size_t i = 0; i < c.mounts.size(); ++i) {
    const auto& m = c.mounts[i];
    const Volume* v = ds.volume(m.name);
    std::string what = where + ": volumeMounts[" + std::to_string(i) + "] (" + m.name + ")";
    if (!v) return fail(Error::invalid(what + ": no volume named '" + m.name + "'"));
    BindMount b{"", m.mount_path, m.read_only};
    if (v->kind == Volume::Kind::kHostPath) {
      auto real = host.realPath(v->host_path);
      if (!real) return fail(real.error().wrap(what));
      b.source = *real;
    } else if (v->kind == Volume::Kind::kSecret) {
      auto it = host.secrets.find(v->secret_name);
      if (it == host.secrets.end())
        return fail(
            Error::notFound(what + ": Secret " + v->secret_name + " does not exist in the lab"));
      b.source = it->second;
      b.read_only = true;
    } else {
      return fail(Error::invalid(what + ": emptyDir volumes are not supported by the lab"));
    }
    r.mounts.push_back(std::move(b));
  }
  // Parents before children (/sys/fs/bpf before /sys/fs/bpf/warren), as kubelet orders them.
  std::stable_sort(r.mounts.begin(), r.mounts.end(),
                   [](const BindMount& a, const BindMount& b) { return a.target < b.target; });
  return r;
}

}  // namespace warren::lab
