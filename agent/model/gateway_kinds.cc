#include "agent/model/gateway_kinds.h"

#include <set>

namespace warren::agent {

using k8s::Fields;

namespace {

bool isDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-') return false;
  return true;
}

Result<WaypointFor> waypointForLabel(const k8s::Object& obj) {
  const k8s::Labels& l = obj.meta.labels;
  const char* key = kWaypointForLabel;
  auto it = l.find(key);
  if (it == l.end()) {
    key = kIstioWaypointForLabel;
    it = l.find(key);
  }
  if (it == l.end()) return WaypointFor::kService;
  if (it->second == "service") return WaypointFor::kService;
  if (it->second == "workload") return WaypointFor::kWorkload;
  if (it->second == "all") return WaypointFor::kAll;
  if (it->second == "none") return WaypointFor::kNone;
  return fail(obj.fieldError(std::string("metadata.labels[") + key + "]",
                             "'" + it->second + "' is not one of service, workload, all, none"));
}

}  // namespace

const char* toString(WaypointFor w) {
  switch (w) {
    case WaypointFor::kService:
      return "service";
    case WaypointFor::kWorkload:
      return "workload";
    case WaypointFor::kAll:
      return "all";
    case WaypointFor::kNone:
      return "none";
  }
  return "service";
}

std::string ParentRef::describe() const {
  std::string out = kind + " " + namespace_ + "/" + name;
  if (port) out += ":" + std::to_string(*port);
  if (!section_name.empty()) out += " (" + section_name + ")";
  return out;
}

bool isValidGatewayHostname(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  std::string_view rest = h;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t dot = rest.find('.', start);
    std::string_view label =
        rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!isDnsLabel(label)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool isValidSectionName(const std::string& s) { return k8s::isValidName(s); }

Result<ParentRef> decodeParentRef(const Fields& f, const std::string& route_namespace) {
  if (auto st = f.expectMap(); !st) return fail(st.error());
  ParentRef ref;
  auto group = f.str("group", kGatewayApiGroup);
  if (!group) return fail(group.error());
  ref.group = *group;
  auto kind = f.str("kind", "Gateway");
  if (!kind) return fail(kind.error());
  ref.kind = *kind;
  auto ns = f.str("namespace", route_namespace);
  if (!ns) return fail(ns.error());
  ref.namespace_ = *ns;
  auto name = f.str("name");
  if (!name) return fail(name.error());
  if (name->empty()) return fail(f.error("name", "missing"));
  ref.name = *name;
  auto section = f.str("sectionName");
  if (!section) return fail(section.error());
  if (!section->empty() && !isValidSectionName(*section))
    return fail(f.error("sectionName", "'" + *section + "' is not a valid section name"));
  ref.section_name = *section;
  if (f.has("port")) {
    auto port = f.integer("port", 0, 1, 65535);
    if (!port) return fail(port.error());
    ref.port = static_cast<uint16_t>(*port);
  }
  return ref;
}

Result<Gateway> decodeGateway(const k8s::Object& obj) {
  Gateway g;
  g.meta = obj.meta;
  g.object = obj;
  Fields spec = Fields(obj, obj.node, "").child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  if (auto st = spec.expectMap(); !st) return fail(st.error());
  auto cls = spec.str("gatewayClassName");
  if (!cls) return fail(cls.error());
  if (cls->empty()) return fail(spec.error("gatewayClassName", "missing"));
  g.gateway_class_name = *cls;
  auto waypoint_for = waypointForLabel(obj);
  if (!waypoint_for) return fail(waypoint_for.error());
  g.waypoint_for = *waypoint_for;
  Fields listeners = spec.child("listeners");
  if (auto st = listeners.expectSequence(); !st) return fail(st.error());
  if (listeners.size() > 64) return fail(spec.error("listeners", "more than 64 listeners"));
  std::set<std::string> names;
  for (size_t i = 0; i < listeners.size(); ++i) {
    Fields lf = listeners.item(i);
    if (auto st = lf.expectMap(); !st) return fail(st.error());
    GatewayListener l;
    auto name = lf.str("name");
    if (!name) return fail(name.error());
    if (name->empty()) return fail(lf.error("name", "missing"));
    if (!isValidSectionName(*name))
      return fail(lf.error("name", "'" + *name + "' is not a valid listener name"));
    if (!names.insert(*name).second)
      return fail(lf.error("name", "'" + *name + "' names another listener too"));
    l.name = *name;
    auto host = lf.str("hostname");
    if (!host) return fail(host.error());
    if (!host->empty() && !isValidGatewayHostname(*host))
      return fail(lf.error("hostname", "'" + *host + "' is not a valid hostname"));
    l.hostname = *host;
    auto port = lf.integer("port", 0, 1, 65535);
    if (!port) return fail(port.error());
    if (*port == 0) return fail(lf.error("port", "missing"));
    l.port = static_cast<uint16_t>(*port);
    auto proto = lf.str("protocol");
    if (!proto) return fail(proto.error());
    if (proto->empty()) return fail(lf.error("protocol", "missing"));
    l.protocol = *proto;
    g.listeners.push_back(std::move(l));
  }
  Fields infra = spec.child("infrastructure");
  if (auto st = infra.expectMap(); !st) return fail(st.error());
  auto labels = infra.stringMap("labels");
  if (!labels) return fail(labels.error());
  g.infrastructure_labels = std::move(*labels);
  auto ann = infra.stringMap("annotations");
  if (!ann) return fail(ann.error());
  g.infrastructure_annotations = std::move(*ann);
  return g;
}

}  // namespace warren::agent
