#include "lab/node_daemonset.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace warren::lab {
namespace {

using k8s::Fields;

#define LAB_TRY_ASSIGN(lhs, expr)     \
  do {                                \
    auto _r = (expr);                 \
    if (!_r) return fail(_r.error()); \
    lhs = std::move(*_r);             \
  } while (0)

Result<Probe> decodeProbe(const Fields& f) {
  Probe p;
  if (f.missing()) return p;
  WARREN_TRY(f.expectMap());
  int64_t period = 0, timeout = 0;
  LAB_TRY_ASSIGN(period, f.integer("periodSeconds", 10, 1, 3600));
  LAB_TRY_ASSIGN(timeout, f.integer("timeoutSeconds", 1, 1, 3600));
  p.period_seconds = static_cast<int>(period);
  p.timeout_seconds = static_cast<int>(timeout);
  Fields exec = f.child("exec");
  Fields http = f.child("httpGet");
  if (!exec.missing()) {
    p.kind = Probe::Kind::kExec;
    LAB_TRY_ASSIGN(p.exec, exec.stringList("command"));
    if (p.exec.empty()) return fail(exec.error("command", "is empty"));
  } else if (!http.missing()) {
    p.kind = Probe::Kind::kHttpGet;
    auto port = http.integer("port", 0, 1, 65535);
    if (!port)
      return fail(http.error("port",
                             "must be a port number (a hostNetwork pod declares no named "
                             "ports)"));
    p.port = static_cast<int>(*port);
    LAB_TRY_ASSIGN(p.path, http.str("path", "/"));
    std::string scheme;
    LAB_TRY_ASSIGN(scheme, http.str("scheme", "HTTP"));
    if (scheme != "HTTP") return fail(http.error("scheme", "only HTTP is supported by the lab"));
  } else if (f.has("tcpSocket") || f.has("grpc")) {
    return fail(f.error("", "only exec and httpGet probes are supported by the lab"));
  }
  return p;
}

Result<ContainerSpec> decodeContainer(const Fields& f) {
  WARREN_TRY(f.expectMap());
  ContainerSpec c;
  LAB_TRY_ASSIGN(c.name, f.str("name"));
  if (c.name.empty()) return fail(f.error("name", "missing"));
  LAB_TRY_ASSIGN(c.image, f.str("image"));
  if (c.image.empty()) return fail(f.error("image", "missing"));
  LAB_TRY_ASSIGN(c.command, f.stringList("command"));
  LAB_TRY_ASSIGN(c.args, f.stringList("args"));
  Fields env = f.child("env");
  WARREN_TRY(env.expectSequence());
  for (size_t i = 0; i < env.size(); ++i) {
    Fields e = env.item(i);
    WARREN_TRY(e.expectMap());
    EnvVar v;
    LAB_TRY_ASSIGN(v.name, e.str("name"));
    if (v.name.empty()) return fail(e.error("name", "missing"));
    Fields from = e.child("valueFrom");
    if (!from.missing()) {
      Fields ref = from.child("fieldRef");
      if (ref.missing())
        return fail(from.error("", "only fieldRef (the downward API) is supported by the lab"));
      LAB_TRY_ASSIGN(v.field_path, ref.str("fieldPath"));
      if (v.field_path.empty()) return fail(ref.error("fieldPath", "missing"));
    } else {
      LAB_TRY_ASSIGN(v.value, e.str("value"));
    }
    c.env.push_back(std::move(v));
  }
  Fields mounts = f.child("volumeMounts");
  WARREN_TRY(mounts.expectSequence());
  for (size_t i = 0; i < mounts.size(); ++i) {
    Fields m = mounts.item(i);
    WARREN_TRY(m.expectMap());
    VolumeMount vm;
    LAB_TRY_ASSIGN(vm.name, m.str("name"));
    LAB_TRY_ASSIGN(vm.mount_path, m.str("mountPath"));
    LAB_TRY_ASSIGN(vm.read_only, m.boolean("readOnly", false));
    if (vm.name.empty()) return fail(m.error("name", "missing"));
    if (vm.mount_path.empty() || vm.mount_path.front() != '/')
      return fail(m.error("mountPath", "must be an absolute path"));
    c.mounts.push_back(std::move(vm));
  }
  LAB_TRY_ASSIGN(c.readiness, decodeProbe(f.child("readinessProbe")));
  Fields sc = f.child("securityContext");
  WARREN_TRY(sc.expectMap());
  LAB_TRY_ASSIGN(c.privileged, sc.boolean("privileged", false));
  LAB_TRY_ASSIGN(c.allow_privilege_escalation, sc.boolean("allowPrivilegeEscalation", true));
  LAB_TRY_ASSIGN(c.read_only_root, sc.boolean("readOnlyRootFilesystem", false));
  if (sc.has("runAsUser")) {
    int64_t uid = 0;
    LAB_TRY_ASSIGN(uid, sc.integer("runAsUser", 0, 0, 2147483647));
    c.run_as_user = uid;
  }
  Fields caps = sc.child("capabilities");
  LAB_TRY_ASSIGN(c.cap_add, caps.stringList("add"));
  LAB_TRY_ASSIGN(c.cap_drop, caps.stringList("drop"));
  for (const auto& cap : c.cap_add)
    if (cap.empty() || cap.starts_with("CAP_") ||
        cap.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != std::string::npos)
      return fail(caps.error("add", "'" + cap + "' is not a capability name like NET_ADMIN"));
  return c;
}

Result<std::vector<ContainerSpec>> decodeContainers(const Fields& list) {
  WARREN_TRY(list.expectSequence());
  std::vector<ContainerSpec> out;
  for (size_t i = 0; i < list.size(); ++i) {
    auto c = decodeContainer(list.item(i));
    if (!c) return fail(c.error());
    out.push_back(std::move(*c));
  }
  return out;
}

Result<Volume> decodeVolume(const Fields& f) {
  WARREN_TRY(f.expectMap());
  Volume v;
  LAB_TRY_ASSIGN(v.name, f.str("name"));
  if (v.name.empty()) return fail(f.error("name", "missing"));
  if (Fields hp = f.child("hostPath"); !hp.missing()) {
    v.kind = Volume::Kind::kHostPath;
    LAB_TRY_ASSIGN(v.host_path, hp.str("path"));
    LAB_TRY_ASSIGN(v.host_path_type, hp.str("type"));
    if (v.host_path.empty() || v.host_path.front() != '/')
      return fail(hp.error("path", "must be an absolute path"));
  } else if (Fields sec = f.child("secret"); !sec.missing()) {
    v.kind = Volume::Kind::kSecret;
    LAB_TRY_ASSIGN(v.secret_name, sec.str("secretName"));
    if (v.secret_name.empty()) return fail(sec.error("secretName", "missing"));
  } else if (f.has("emptyDir")) {
    v.kind = Volume::Kind::kEmptyDir;
  } else {
    return fail(f.error("", "only hostPath, secret and emptyDir volumes are supported by the lab"));
  }
  return v;
}

Result<int> strategyNumber(const Fields& f, const std::string& key, int def) {
  if (!f.has(key)) return def;
  auto n = f.integer(key, def, 0, 1000);
  if (!n) return fail(f.error(key, "must be a number of pods (the lab has no percentages)"));
  return static_cast<int>(*n);
}

Result<NodeDaemonSet> decodeOne(const k8s::Object& obj) {
  NodeDaemonSet ds;
  ds.ns = obj.meta.namespace_;
  ds.name = obj.meta.name;
  ds.source = obj.source;
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  WARREN_TRY(spec.expectMap());
  Fields strategy = spec.child("updateStrategy");
  std::string type;
  LAB_TRY_ASSIGN(type, strategy.str("type", "RollingUpdate"));
  if (type != "RollingUpdate")
    return fail(strategy.error("type", "'" + type + "': the lab runs RollingUpdate only"));
  Fields rolling = strategy.child("rollingUpdate");
  LAB_TRY_ASSIGN(ds.max_surge, strategyNumber(rolling, "maxSurge", 0));
  LAB_TRY_ASSIGN(ds.max_unavailable, strategyNumber(rolling, "maxUnavailable", 1));
  if (ds.max_surge == 0 && ds.max_unavailable == 0)
    return fail(rolling.error("", "maxSurge and maxUnavailable cannot both be 0"));
  int64_t min_ready = 0;
  LAB_TRY_ASSIGN(min_ready, spec.integer("minReadySeconds", 0, 0, 3600));
  ds.min_ready_seconds = static_cast<int>(min_ready);
  Fields pod = spec.child("template").child("spec");
  if (pod.missing()) return fail(obj.fieldError("spec.template.spec", "missing"));
  WARREN_TRY(pod.expectMap());
  LAB_TRY_ASSIGN(ds.host_network, pod.boolean("hostNetwork", false));
  if (!ds.host_network)
    return fail(pod.error("hostNetwork",
                          "must be true: the lab runs node components in the node "
                          "netns"));
  int64_t grace = 0;
  LAB_TRY_ASSIGN(grace, pod.integer("terminationGracePeriodSeconds", 30, 0, 3600));
  ds.grace_seconds = static_cast<int>(grace);
  LAB_TRY_ASSIGN(ds.service_account, pod.str("serviceAccountName"));
  LAB_TRY_ASSIGN(ds.init_containers, decodeContainers(pod.child("initContainers")));
  LAB_TRY_ASSIGN(ds.containers, decodeContainers(pod.child("containers")));
  if (ds.containers.empty()) return fail(pod.error("containers", "missing"));
  Fields vols = pod.child("volumes");
  WARREN_TRY(vols.expectSequence());
  for (size_t i = 0; i < vols.size(); ++i) {
    auto v = decodeVolume(vols.item(i));
    if (!v) return fail(v.error());
    ds.volumes.push_back(std::move(*v));
  }
  // Every mount names a declared volume (the API server refuses the pod otherwise).
  auto checkMounts = [&](const std::vector<ContainerSpec>& list, const char* field) -> Status {
    for (size_t ci = 0; ci < list.size(); ++ci)
      for (size_t mi = 0; mi < list[ci].mounts.size(); ++mi)
        if (!ds.volume(list[ci].mounts[mi].name))
          return fail(obj.fieldError("spec.template.spec." + std::string(field) + "[" +
                                         std::to_string(ci) + "].volumeMounts[" +
                                         std::to_string(mi) + "].name",
                                     "no volume named '" + list[ci].mounts[mi].name + "'"));
    return ok();
  };
  WARREN_TRY(checkMounts(ds.init_containers, "initContainers"));
  WARREN_TRY(checkMounts(ds.containers, "containers"));
  return ds;
}

}  // namespace

const ContainerSpec* NodeDaemonSet::container(const std::string& wanted) const {
  for (const auto& c : containers)
    if (c.name == wanted) return &c;
  return nullptr;
}

const Volume* NodeDaemonSet::volume(const std::string& wanted) const {
  for (const auto& v : volumes)
    if (v.name == wanted) return &v;
  return nullptr;
}

Result<std::vector<NodeDaemonSet>> decodeNodeDaemonSets(const std::vector<k8s::Object>& objects) {
  std::vector<NodeDaemonSet> out;
  for (const auto& o : objects) {
    if (o.kind != "DaemonSet") continue;
    auto ds = decodeOne(o);
    if (!ds) return fail(ds.error());
    for (const auto& c : ds->containers)
      for (const auto& other : out)
        if (other.container(c.name))
          return fail(o.fieldError("spec.template.spec.containers",
                                   "container name '" + c.name + "' is also in DaemonSet " +
                                       other.name + " (the lab names node components by it)"));
    out.push_back(std::move(*ds));
  }
  return out;
}

Result<std::vector<NodeDaemonSet>> loadNodeDaemonSets(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      auto ext = it->path().extension().string();
      // kustomization.yaml describes the directory; it is not an object.
      if ((ext == ".yaml" || ext == ".yml") && it->path().stem() != "kustomization")
        files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<k8s::Object> objects;
  for (const auto& f : files) {
    auto objs = k8s::loadManifestFile(f);
    if (!objs) return fail(objs.error().wrap("node DaemonSets"));
    for (auto& o : *objs) objects.push_back(std::move(o));
  }
  auto sets = decodeNodeDaemonSets(objects);
  if (!sets) return fail(sets.error());
  if (sets->empty()) return fail(Error::notFound("no DaemonSet in " + path));
  return sets;
}

std::string defaultDaemonSetPath() {
  if (const char* env = std::getenv("WARREN_LAB_DAEMONSETS"); env && *env) return env;
  return WARREN_LAB_DEPLOY_DIR "/base/node";
}

}  // namespace warren::lab
