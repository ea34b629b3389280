#include "common/k8s/core.h"

#include <cctype>

namespace warren::k8s {
namespace {

constexpr int64_t kMaxPort = 65535;

Result<ContainerPort> decodeContainerPort(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  ContainerPort p;
  auto name = f.str("name");
  if (!name) return fail(name.error());
  p.name = *name;
  if (!f.has("containerPort")) return fail(f.error("containerPort", "missing"));
  auto port = f.integer("containerPort", 0, 1, kMaxPort);
  if (!port) return fail(port.error());
  p.container_port = static_cast<uint16_t>(*port);
  auto proto = f.str("protocol", "TCP");
  if (!proto) return fail(proto.error());
  if (*proto != "TCP" && *proto != "UDP" && *proto != "SCTP")
    return fail(f.error("protocol", "expected TCP, UDP or SCTP, got '" + *proto + "'"));
  p.protocol = *proto;
  return p;
}

Result<Container> decodeContainer(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  Container c;
  auto name = f.str("name");
  if (!name) return fail(name.error());
  if (name->empty()) return fail(f.error("name", "missing"));
  c.name = *name;
  auto image = f.str("image");
  if (!image) return fail(image.error());
  c.image = *image;
  auto command = f.stringList("command");
  if (!command) return fail(command.error());
  c.command = std::move(*command);
  auto args = f.stringList("args");
  if (!args) return fail(args.error());
  c.args = std::move(*args);
  Fields ports = f.child("ports");
  if (auto s = ports.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < ports.size(); ++i) {
    auto p = decodeContainerPort(ports.item(i));
    if (!p) return fail(p.error());
    c.ports.push_back(std::move(*p));
  }
  Fields mounts = f.child("volumeMounts");
  if (auto s = mounts.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < mounts.size(); ++i) {
    Fields m = mounts.item(i);
    if (auto s = m.expectMap(); !s) return fail(s.error());
    VolumeMount vm;
    auto volume = m.str("name");
    if (!volume) return fail(volume.error());
    if (volume->empty()) return fail(m.error("name", "missing"));
    vm.name = *volume;
    auto path = m.str("mountPath");
    if (!path) return fail(path.error());
    if (path->empty() || path->front() != '/')
      return fail(m.error("mountPath", "must be an absolute path"));
    vm.mount_path = *path;
    auto ro = m.boolean("readOnly", false);
    if (!ro) return fail(ro.error());
    vm.read_only = *ro;
    c.volume_mounts.push_back(std::move(vm));
  }
  return c;
}

Result<ObjectMeta> decodeTemplateMeta(const Object& obj, const Fields& meta) {
  if (auto s = meta.expectMap(); !s) return fail(s.error());
  ObjectMeta m;
  auto labels = meta.stringMap("labels");
  if (!labels) return fail(labels.error());
  m.labels = std::move(*labels);
  auto ann = meta.stringMap("annotations");
  if (!ann) return fail(ann.error());
  m.annotations = std::move(*ann);
  m.namespace_ = obj.meta.namespace_;
  return m;
}

}  // namespace

Result<PodSpec> decodePodSpec(const Object& /*obj*/, const Fields& spec) {
  if (spec.missing()) return fail(spec.error("", "missing"));
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  PodSpec out;
  auto node = spec.str("nodeName");
  if (!node) return fail(node.error());
  out.node_name = *node;
  auto sa = spec.str("serviceAccountName", "default");
  if (!sa) return fail(sa.error());
  out.service_account_name = sa->empty() ? "default" : *sa;
  if (!isValidName(out.service_account_name))
    return fail(spec.error("serviceAccountName", "not a valid DNS-1123 name"));
  auto host = spec.boolean("hostNetwork", false);
  if (!host) return fail(host.error());
  out.host_network = *host;
  Fields containers = spec.child("containers");
  if (auto s = containers.expectSequence(); !s) return fail(s.error());
  if (containers.size() == 0)
    return fail(spec.error("containers", "at least one container is required"));
  for (size_t i = 0; i < containers.size(); ++i) {
    auto c = decodeContainer(containers.item(i));
    if (!c) return fail(c.error());
    out.containers.push_back(std::move(*c));
  }
  Fields volumes = spec.child("volumes");
  if (auto s = volumes.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < volumes.size(); ++i) {
    Fields v = volumes.item(i);
    if (auto s = v.expectMap(); !s) return fail(s.error());
    Volume vol;
    auto name = v.str("name");
    if (!name) return fail(name.error());
    if (name->empty()) return fail(v.error("name", "missing"));
    vol.name = *name;
    Fields hp = v.child("hostPath");
    if (auto s = hp.expectMap(); !s) return fail(s.error());
    auto path = hp.str("path");
    if (!path) return fail(path.error());
    vol.host_path = *path;
    auto type = hp.str("type");
    if (!type) return fail(type.error());
    vol.host_path_type = *type;
    out.volumes.push_back(std::move(vol));
  }
  for (const auto& c : out.containers)
    for (const auto& m : c.volume_mounts) {
      bool known = false;
      for (const auto& v : out.volumes) known |= v.name == m.name;
      if (!known)
        return fail(spec.error("containers", "container " + c.name + " mounts volume '" + m.name +
                                                 "', which the pod does not have"));
    }
  return out;
}

Result<Pod> decodePod(const Object& obj) {
  Fields root(obj, obj.node, "");
  Pod pod;
  pod.meta = obj.meta;
  auto spec = decodePodSpec(obj, root.child("spec"));
  if (!spec) return fail(spec.error());
  pod.spec = std::move(*spec);
  Fields status = root.child("status");
  if (auto s = status.expectMap(); !s) return fail(s.error());
  auto phase = status.str("phase");
  if (!phase) return fail(phase.error());
  pod.status.phase = *phase;
  auto ip = status.str("podIP");
  if (!ip) return fail(ip.error());
  pod.status.pod_ip = *ip;
  auto host = status.str("hostIP");
  if (!host) return fail(host.error());
  pod.status.host_ip = *host;
  return pod;
}

Result<Deployment> decodeDeployment(const Object& obj) {
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  Deployment d;
  d.meta = obj.meta;
  auto replicas = spec.integer("replicas", 1, 0, 1000);
  if (!replicas) return fail(replicas.error());
  d.replicas = static_cast<int32_t>(*replicas);
  Fields selector = spec.child("selector");
  if (auto s = selector.expectMap(); !s) return fail(s.error());
  auto match = selector.stringMap("matchLabels");
  if (!match) return fail(match.error());
  d.selector = std::move(*match);
  Fields tmpl = spec.child("template");
  if (tmpl.missing()) return fail(obj.fieldError("spec.template", "missing"));
  auto meta = decodeTemplateMeta(obj, tmpl.child("metadata"));
  if (!meta) return fail(meta.error());
  d.template_meta = std::move(*meta);
  auto pod_spec = decodePodSpec(obj, tmpl.child("spec"));
  if (!pod_spec) return fail(pod_spec.error());
  d.template_spec = std::move(*pod_spec);
  if (d.selector.empty()) d.selector = d.template_meta.labels;
  if (!selectorMatches(d.selector, d.template_meta.labels))
    return fail(obj.fieldError("spec.selector.matchLabels",
                               "does not match spec.template.metadata.labels"));
  return d;
}

Result<Service> decodeService(const Object& obj) {
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  Service svc;
  svc.meta = obj.meta;
  auto type = spec.str("type", "ClusterIP");
  if (!type) return fail(type.error());
  if (*type != "ClusterIP" && *type != "NodePort" && *type != "LoadBalancer" &&
      *type != "ExternalName")
    return fail(spec.error("type", "unknown Service type '" + *type + "'"));
  svc.type = *type;
  auto ip = spec.str("clusterIP");
  if (!ip) return fail(ip.error());
  svc.cluster_ip = *ip;
  auto selector = spec.stringMap("selector");
  if (!selector) return fail(selector.error());
  svc.selector = std::move(*selector);
  Fields ports = spec.child("ports");
  if (auto s = ports.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < ports.size(); ++i) {
    Fields pf = ports.item(i);
    if (auto s = pf.expectMap(); !s) return fail(s.error());
    ServicePort p;
    auto name = pf.str("name");
    if (!name) return fail(name.error());
    p.name = *name;
    auto proto = pf.str("protocol", "TCP");
    if (!proto) return fail(proto.error());
    p.protocol = *proto;
    if (!pf.has("port")) return fail(pf.error("port", "missing"));
    auto port = pf.integer("port", 0, 1, kMaxPort);
    if (!port) return fail(port.error());
    p.port = static_cast<uint16_t>(*port);
    auto target = pf.str("targetPort");
    if (!target) return fail(target.error());
    if (target->empty()) {
      p.target_port.number = p.port;
    } else if (std::isdigit(static_cast<unsigned char>(target->front()))) {
      auto n = pf.integer("targetPort", 0, 1, kMaxPort);
      if (!n) return fail(n.error());
      p.target_port.number = static_cast<uint16_t>(*n);
    } else {
      p.target_port.name = *target;
    }
    auto app = pf.str("appProtocol");
    if (!app) return fail(app.error());
    p.app_protocol = *app;
    if (ports.size() > 1 && p.name.empty())
      return fail(pf.error("name", "required when a Service has more than one port"));
    svc.ports.push_back(std::move(p));
  }
  return svc;
}

Result<Namespace> decodeNamespace(const Object& obj) { return Namespace{obj.meta}; }

Result<ServiceAccount> decodeServiceAccount(const Object& obj) { return ServiceAccount{obj.meta}; }

bool selectorMatches(const Labels& selector, const Labels& labels) {
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace warren::k8s
