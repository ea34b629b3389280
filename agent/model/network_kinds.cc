#include "agent/model/network_kinds.h"

namespace warren::agent {

using k8s::Fields;

Result<EndpointSlice> decodeEndpointSlice(const k8s::Object& obj) {
  EndpointSlice s;
  s.meta = obj.meta;
  if (auto it = obj.meta.labels.find("kubernetes.io/service-name"); it != obj.meta.labels.end())
    s.service_name = it->second;
  Fields root(obj, obj.node, "");
  Fields eps = root.child("endpoints");
  if (auto st = eps.expectSequence(); !st) return fail(st.error());
  for (size_t i = 0; i < eps.size(); ++i) {
    Fields ep = eps.item(i);
    if (auto st = ep.expectMap(); !st) return fail(st.error());
    auto addrs = ep.stringList("addresses");
    if (!addrs) return fail(addrs.error());
    s.addresses.insert(s.addresses.end(), addrs->begin(), addrs->end());
  }
  return s;
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
  Fields listeners = spec.child("listeners");
  if (auto st = listeners.expectSequence(); !st) return fail(st.error());
  for (size_t i = 0; i < listeners.size(); ++i) {
    Fields lf = listeners.item(i);
    if (auto st = lf.expectMap(); !st) return fail(st.error());
    GatewayListener l;
    auto name = lf.str("name");
    if (!name) return fail(name.error());
    l.name = *name;
    auto port = lf.integer("port", 0, 1, 65535);
    if (!port) return fail(port.error());
    l.port = static_cast<uint16_t>(*port);
    auto proto = lf.str("protocol");
    if (!proto) return fail(proto.error());
    l.protocol = *proto;
    g.listeners.push_back(std::move(l));
  }
  return g;
}

Result<HttpRoute> decodeHttpRoute(const k8s::Object& obj) {
  HttpRoute r;
  r.meta = obj.meta;
  r.object = obj;
  Fields spec = Fields(obj, obj.node, "").child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  if (auto st = spec.expectMap(); !st) return fail(st.error());
  Fields parents = spec.child("parentRefs");
  if (auto st = parents.expectSequence(); !st) return fail(st.error());
  for (size_t i = 0; i < parents.size(); ++i) {
    Fields pf = parents.item(i);
    if (auto st = pf.expectMap(); !st) return fail(st.error());
    HttpRoute::ParentRef ref;
    auto group = pf.str("group", "gateway.networking.k8s.io");
    if (!group) return fail(group.error());
    ref.group = *group;
    auto kind = pf.str("kind", "Gateway");
    if (!kind) return fail(kind.error());
    ref.kind = *kind;
    auto ns = pf.str("namespace", obj.meta.namespace_);
    if (!ns) return fail(ns.error());
    ref.namespace_ = *ns;
    auto name = pf.str("name");
    if (!name) return fail(name.error());
    if (name->empty()) return fail(pf.error("name", "missing"));
    ref.name = *name;
    r.parent_refs.push_back(std::move(ref));
  }
  return r;
}

}  // namespace warren::agent
