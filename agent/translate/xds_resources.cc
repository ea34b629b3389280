#include "agent/translate/xds_resources.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "agent/translate/authorization_translation.h"
#include "common/net/ip_address.h"
#include "common/sha256.h"

namespace warren::agent {
namespace {

// SHA-256 of the deterministic serialisation, first 8 bytes in hex: stable across restarts,
// so a reconnecting client's initial_resource_versions can be honoured.
std::string versionOf(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream os(&bytes);
    google::protobuf::io::CodedOutputStream cos(&os);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return contentVersion(bytes);
}

void put(XdsResourceMap& map, const char* type, const std::string& name,
         const google::protobuf::Message& m, std::vector<std::string> aliases,
         std::string scope = "") {
  XdsResource r;
  r.version = versionOf(m);
  r.aliases = std::move(aliases);
  r.scope = std::move(scope);
  r.body.PackFrom(m);
  map[type][name] = std::move(r);
}

// "network/ip" of an address the resource carries as bytes: the alias it is also known by.
std::string networkAlias(const std::string& network, const std::string& bytes) {
  auto ip = net::IpAddress::fromBytes(bytes);
  return network + "/" + (ip ? ip->toString() : "");
}

}  // namespace

std::string contentVersion(const std::string& bytes) { return sha256Hex(bytes).substr(0, 16); }

XdsBuild buildXdsResources(const ClusterSnapshot& snap, const TranslationContext& ctx) {
  XdsBuild out;
  out.resources[kAddressTypeUrl];
  out.resources[kAuthorizationTypeUrl];
  out.resources[kServiceRoutesTypeUrl];
  out.resources[kWaypointPolicyTypeUrl];
  for (const auto& [key, pod] : snap.pods) {
    auto w = translatePod(snap, pod, ctx, &out.notes);
    if (!w) continue;
    istio::workload::Address a;
    *a.mutable_workload() = *w;
    put(out.resources, kAddressTypeUrl, w->uid(), a, {networkAlias(ctx.network, w->addresses(0))});
  }
  for (const auto& [key, svc] : snap.services) {
    auto s = translateService(snap, svc, ctx);
    if (!s) continue;
    istio::workload::Address a;
    *a.mutable_service() = *s;
    std::vector<std::string> aliases;
    for (const auto& addr : s->addresses())
      aliases.push_back(networkAlias(addr.network(), addr.address()));
    put(out.resources, kAddressTypeUrl, s->namespace_() + "/" + s->hostname(), a,
        std::move(aliases));
  }
  for (const auto& [key, ap] : snap.authorization_policies) {
    auto t = translateAuthorizationPolicy(ap, ctx.root_namespace);
    for (auto& n : t.notes) out.notes.push_back(std::move(n));
    for (auto& e : t.errors) out.errors.push_back(std::move(e));
    if (t.policy) put(out.resources, kAuthorizationTypeUrl, key, *t.policy, {});
  }
  for (const auto& [key, pa] : snap.peer_authentications) {
    if (!pa.selector || pa.selector->empty()) continue;  // namespace/mesh level: static policy
    auto az = translatePeerAuthentication(
        pa, namespacePeerAuthenticationMode(snap, pa.meta.namespace_, ctx.root_namespace));
    if (az) put(out.resources, kAuthorizationTypeUrl, az->namespace_() + "/" + az->name(), *az, {});
  }
  if (!snap.peer_authentications.empty()) {
    auto az = staticStrictPolicy(ctx.root_namespace);
    put(out.resources, kAuthorizationTypeUrl, az.namespace_() + "/" + az.name(), az, {});
  }
  for (const auto& [key, gw] : snap.gateways) {
    if (!gw.isWaypoint()) continue;
    auto az = implicitWaypointPolicy(snap, gw, ctx.trust_domain);
    put(out.resources, kAuthorizationTypeUrl, az.namespace_() + "/" + az.name(), az, {});
  }
  RouteTranslation routes = translateRoutes(snap, ctx);
  for (const auto& [name, sr] : routes.services)
    put(out.resources, kServiceRoutesTypeUrl, name, sr, {}, sr.waypoint());
  WaypointPolicyTranslation policies = translateWaypointPolicies(snap, ctx);
  for (const auto& [name, wp] : policies.resources)
    put(out.resources, kWaypointPolicyTypeUrl, name, wp, {}, wp.waypoint());
  for (const auto& [id, binding] : policies.bindings)
    for (const auto& e : binding.errors) out.errors.push_back(id + ": " + e);
  return out;
}

}  // namespace warren::agent
