#include "lab/apply_plan.h"

#include <fstream>
#include <map>
#include <set>

#include "common/k8s/core.h"
#include "common/kube/manifest_store.h"
#include "lab/lab_names.h"
#include "lab/scheduler.h"

namespace warren::lab {
namespace {

YAML::Node lookup(const YAML::Node& n, const std::string& key) {
  if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& c = n;
  YAML::Node v = c[key];
  if (!v.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return v;
}

Status checkNodeName(const k8s::Object& obj, const std::string& field, const std::string& node,
                     int nodes) {
  if (node.empty()) return ok();
  auto i = LabNames::parseNodeName(node);
  if (!i || *i > nodes)
    return fail(obj.fieldError(field, "node '" + node +
                                          "' does not exist (the lab has node-1..node-" +
                                          std::to_string(nodes) + ")"));
  return ok();
}

// A spec without the scheduler's nodeName, to tell "same pod re-applied" from "changed pod".
std::string podSpecIdentity(const YAML::Node& spec, bool drop_node_name) {
  YAML::Node c = YAML::Clone(spec);
  if (drop_node_name && c.IsMap()) c.remove("nodeName");
  return canonicalYaml(c);
}

}  // namespace

std::string canonicalYaml(const YAML::Node& node) {
  YAML::Emitter e;
  e << node;
  return e.c_str();
}

Result<std::vector<k8s::Object>> planApply(const std::vector<k8s::Object>& existing,
                                           const std::vector<k8s::Object>& incoming, int nodes,
                                           const std::function<std::string()>& new_uid) {
  std::map<std::string, const k8s::Object*> by_key;
  for (const auto& o : existing) by_key[o.key()] = &o;
  // ClusterIPs in use by Services this file does not replace.
  std::set<std::string> incoming_keys;
  for (const auto& o : incoming) {
    if (!incoming_keys.insert(o.key()).second)
      return fail(o.fieldError("metadata.name", "appears twice in this file"));
  }
  std::set<std::string> used_ips;
  for (const auto& o : existing) {
    if (o.kind != "Service" || incoming_keys.contains(o.key())) continue;
    auto svc = k8s::decodeService(o);
    if (svc && !svc->cluster_ip.empty() && svc->cluster_ip != "None")
      used_ips.insert(svc->cluster_ip);
  }

  std::vector<k8s::Object> out;
  for (const auto& in : incoming) {
    k8s::Object obj = in;
    if (obj.meta.name.empty())
      return fail(obj.fieldError("metadata.name", "required (generateName is not supported)"));
    auto prev_it = by_key.find(obj.key());
    const k8s::Object* prev = prev_it == by_key.end() ? nullptr : prev_it->second;
    obj.meta.uid = prev ? prev->meta.uid : new_uid();
    obj.meta.resource_version.clear();

    if (obj.kind == "Pod") {
      auto pod = k8s::decodePod(obj);
      if (!pod) return fail(pod.error());
      WARREN_TRY(checkNodeName(obj, "spec.nodeName", pod->spec.node_name, nodes));
      obj.node.remove("status");
      if (prev) {
        bool same = podSpecIdentity(lookup(prev->node, "spec"), pod->spec.node_name.empty()) ==
                    podSpecIdentity(lookup(obj.node, "spec"), pod->spec.node_name.empty());
        if (same) {
          // Same pod: keep where it runs and what it reported.
          YAML::Node prev_spec = lookup(prev->node, "spec");
          YAML::Node node_name = lookup(prev_spec, "nodeName");
          if (node_name.IsDefined() && !node_name.IsNull())
            obj.node["spec"]["nodeName"] = YAML::Clone(node_name);
          YAML::Node status = lookup(prev->node, "status");
          if (status.IsDefined()) obj.node["status"] = YAML::Clone(status);
        } else {
          obj.meta.uid = new_uid();  // a new pod: the kubelet replaces the old one
        }
      }
    } else if (obj.kind == "Deployment") {
      auto d = k8s::decodeDeployment(obj);
      if (!d) return fail(d.error());
      WARREN_TRY(
          checkNodeName(obj, "spec.template.spec.nodeName", d->template_spec.node_name, nodes));
    } else if (obj.kind == "Service") {
      auto svc = k8s::decodeService(obj);
      if (!svc) return fail(svc.error());
      std::string ip = svc->cluster_ip;
      if (svc->type == "ExternalName") {
        ip.clear();
      } else if (ip.empty()) {
        if (prev) {
          auto old = k8s::decodeService(*prev);
          if (old && !old->cluster_ip.empty() && old->cluster_ip != "None") ip = old->cluster_ip;
        }
        if (ip.empty()) {
          auto a = allocateClusterIp(used_ips);
          if (!a) return fail(obj.fieldError("spec.clusterIP", a.error().context()));
          ip = *a;
        }
      } else if (ip != "None") {
        if (!inServiceCidr(ip))
          return fail(obj.fieldError("spec.clusterIP",
                                     "'" + ip + "' is not in the service CIDR " + kServiceCidr));
        if (used_ips.contains(ip))
          return fail(obj.fieldError("spec.clusterIP", "'" + ip + "' is already allocated"));
      }
      if (!ip.empty()) {
        used_ips.insert(ip);
        obj.node["spec"]["clusterIP"] = ip;
        YAML::Node ips(YAML::NodeType::Sequence);
        ips.push_back(ip);
        obj.node["spec"]["clusterIPs"] = ips;
      }
    } else if (obj.kind == "Namespace") {
      auto n = k8s::decodeNamespace(obj);
      if (!n) return fail(n.error());
    } else if (obj.kind == "ServiceAccount") {
      auto sa = k8s::decodeServiceAccount(obj);
      if (!sa) return fail(sa.error());
    }
    // Status is not part of what a user applies (the API server's status subresource): an
    // object re-applied without one keeps what its controller wrote (a Gateway's conditions).
    if (prev && obj.kind != "Pod" && !lookup(obj.node, "status").IsDefined()) {
      YAML::Node status = lookup(prev->node, "status");
      if (status.IsDefined()) obj.node["status"] = YAML::Clone(status);
    }
    out.push_back(std::move(obj));
  }
  return out;
}

std::vector<k8s::Object> planDelete(const std::vector<k8s::Object>& existing,
                                    const std::vector<k8s::Object>& incoming,
                                    std::vector<std::string>* missing) {
  std::set<std::string> keys;
  std::set<std::string> namespaces;
  for (const auto& o : incoming) {
    keys.insert(o.key());
    if (o.kind == "Namespace") namespaces.insert(o.meta.name);
  }
  std::vector<k8s::Object> out;
  std::set<std::string> found;
  for (const auto& o : existing) {
    bool named = keys.contains(o.key());
    if (named) found.insert(o.key());
    if (named || (!o.meta.namespace_.empty() && namespaces.contains(o.meta.namespace_)))
      out.push_back(o);
  }
  if (missing) {
    for (const auto& o : incoming)
      if (!found.contains(o.key())) missing->push_back(o.describe());
  }
  return out;
}

}  // namespace warren::lab
