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

}  // namespace warren::agent
