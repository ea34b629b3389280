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

// A resource of `m`, its version from its content.
XdsResource makeResource(const google::protobuf::Message& m, std::vector<std::string> aliases,
                         std::string scope = "") {
  XdsResource r;
  r.version = versionOf(m);
  r.aliases = std::move(aliases);
  r.scope = std::move(scope);
  auto body = std::make_shared<google::protobuf::Any>();
  body->PackFrom(m);
  r.body = std::move(body);
  return r;
}

void put(XdsResourceMap& map, const char* type, const std::string& name,
         const google::protobuf::Message& m, std::vector<std::string> aliases,
         std::string scope = "") {
  map[type][name] = makeResource(m, std::move(aliases), std::move(scope));
}

// "network/ip" of an address the resource carries as bytes: the alias it is also known by.
std::string networkAlias(const std::string& network, const std::string& bytes) {
  auto ip = net::IpAddress::fromBytes(bytes);
  return network + "/" + (ip ? ip->toString() : "");
}

}  // namespace

std::string contentVersion(const std::string& bytes) { return sha256Hex(bytes).substr(0, 16); }

namespace {

// Every resource that does not read pods: Services, policies, routes, waypoint policies.
XdsBuild buildOthers(const ClusterSnapshot& snap, const TranslationContext& ctx) {
  XdsBuild out;
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

}  // namespace

XdsBuild buildXdsResources(const ClusterSnapshot& snap, const TranslationContext& ctx,
                           XdsTranslationCache* cache) {
  XdsTranslationCache scratch;  // a build from scratch: a cache that starts empty
  if (!cache) cache = &scratch;
  XdsBuild out;
  out.resources[kAddressTypeUrl];
  out.resources[kAuthorizationTypeUrl];
  out.resources[kServiceRoutesTypeUrl];
  out.resources[kWaypointPolicyTypeUrl];
  // Pods first (their notes lead, in key order), each from the cache when it holds this very
  // pod object under an unchanged context.
  const bool context_kept =
      cache->valid_ && cache->context_generation_ == snap.context_generation && cache->ctx_ == ctx;
  if (!context_kept) cache->pods_.clear();
  cache->pods_translated_ = cache->pods_reused_ = 0;
  auto& addresses = out.resources[kAddressTypeUrl];
  auto translate = [&](XdsTranslationCache::Pod& entry,
                       const std::shared_ptr<const k8s::Pod>& pod) {
    entry = XdsTranslationCache::Pod{};
    ++cache->pods_translated_;
    auto w = translatePod(snap, *pod, ctx, &entry.notes);
    if (w) {
      entry.name = w->uid();
      std::vector<std::string> aliases{networkAlias(ctx.network, w->addresses(0))};
      istio::workload::Address a;
      *a.mutable_workload() = std::move(*w);
      entry.resource = makeResource(a, std::move(aliases));
    }
    // Marked as this pod's only once translated: should anything above throw, the entry
    // matches no pod and the next build translates it again.
    entry.source = pod;
  };
  // The snapshot's pods and the cache's are both in key order: one walk updates the cache in
  // place (pods gone are dropped, new ones added, changed ones translated again).
  auto& cached = cache->pods_;
  auto c = cached.begin();
  for (const auto& [key, pod] : snap.pods) {
    while (c != cached.end() && c->first < key) c = cached.erase(c);
    if (c == cached.end() || c->first != key) {
      c = cached.emplace_hint(c, key, XdsTranslationCache::Pod{});
      translate(c->second, pod);
    } else if (c->second.source != pod) {
      translate(c->second, pod);
    } else {
      ++cache->pods_reused_;
    }
    const XdsTranslationCache::Pod& entry = (c++)->second;
    out.notes.insert(out.notes.end(), entry.notes.begin(), entry.notes.end());
    if (entry.resource) addresses[entry.name] = *entry.resource;
  }
  cached.erase(c, cached.end());
  // The rest, from the cache while nothing but pods changed.
  if (!context_kept) cache->others_ = buildOthers(snap, ctx);
  for (const auto& [type, resources] : cache->others_.resources)
    for (const auto& [name, r] : resources) out.resources[type][name] = r;
  out.notes.insert(out.notes.end(), cache->others_.notes.begin(), cache->others_.notes.end());
  out.errors.insert(out.errors.end(), cache->others_.errors.begin(), cache->others_.errors.end());
  // The implicit ALLOW policies of the waypoints read their pods' service accounts: made anew.
  for (const auto& [key, gw] : snap.gateways) {
    if (!gw.isWaypoint()) continue;
    auto az = implicitWaypointPolicy(snap, gw, ctx.trust_domain);
    put(out.resources, kAuthorizationTypeUrl, az.namespace_() + "/" + az.name(), az, {});
  }
  cache->valid_ = true;
  cache->context_generation_ = snap.context_generation;
  cache->ctx_ = ctx;
  return out;
}

}  // namespace warren::agent
