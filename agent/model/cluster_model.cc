#include "agent/model/cluster_model.h"

#include <spdlog/spdlog.h>

#include <type_traits>

namespace warren::agent {
namespace {

// "Kind/ns/name" -> kind, and the map key used in the snapshot ("ns/name", or "name" for
// cluster-scoped kinds).
struct SplitKey {
  std::string kind;
  std::string map_key;
};

SplitKey splitObjectKey(const std::string& key) {
  size_t a = key.find('/');
  if (a == std::string::npos) return {key, ""};
  size_t b = key.find('/', a + 1);
  if (b == std::string::npos) return {key.substr(0, a), key.substr(a + 1)};
  std::string ns = key.substr(a + 1, b - a - 1);
  std::string name = key.substr(b + 1);
  return {key.substr(0, a), ns.empty() ? name : ns + "/" + name};
}

std::string mapKey(const k8s::Object& obj) {
  return obj.meta.namespace_.empty() ? obj.meta.name : obj.meta.namespace_ + "/" + obj.meta.name;
}

// Applies `fn` to the snapshot map that holds `kind`; false for kinds the model does not keep.
template <class Snapshot, class Fn>
bool withMap(Snapshot& s, const std::string& kind, Fn&& fn) {
  if (kind == "Namespace") return fn(s.namespaces), true;
  if (kind == "Pod") return fn(s.pods), true;
  if (kind == "Service") return fn(s.services), true;
  if (kind == "ServiceAccount") return fn(s.service_accounts), true;
  if (kind == "EndpointSlice") return fn(s.endpoint_slices), true;
  if (kind == "AuthorizationPolicy") return fn(s.authorization_policies), true;
  if (kind == "PeerAuthentication") return fn(s.peer_authentications), true;
  if (kind == "Gateway") return fn(s.gateways), true;
  if (kind == "HTTPRoute") return fn(s.http_routes), true;
  return false;
}

template <class T>
bool store(std::map<std::string, T>& m, const std::string& key, Result<T> decoded) {
  if (!decoded) {
    spdlog::warn("skipping bad object (keeping its last good version): {}",
                 decoded.error().message());
    return false;
  }
  m[key] = std::move(*decoded);
  return true;
}

}  // namespace

ClusterModel::ClusterModel() : current_(std::make_shared<const ClusterSnapshot>()) {}

bool ClusterModel::upsert(ClusterSnapshot& next, const k8s::Object& obj) {
  const std::string key = mapKey(obj);
  const std::string& kind = obj.kind;
  if (kind == "Namespace") return store(next.namespaces, key, k8s::decodeNamespace(obj));
  if (kind == "Pod") return store(next.pods, key, k8s::decodePod(obj));
  if (kind == "Service") return store(next.services, key, k8s::decodeService(obj));
  if (kind == "ServiceAccount")
    return store(next.service_accounts, key, k8s::decodeServiceAccount(obj));
  if (kind == "EndpointSlice") return store(next.endpoint_slices, key, decodeEndpointSlice(obj));
  if (kind == "AuthorizationPolicy")
    return store(next.authorization_policies, key, decodeAuthorizationPolicy(obj));
  if (kind == "PeerAuthentication")
    return store(next.peer_authentications, key, decodePeerAuthentication(obj));
  if (kind == "Gateway") return store(next.gateways, key, decodeGateway(obj));
  if (kind == "HTTPRoute") return store(next.http_routes, key, decodeHttpRoute(obj));
  spdlog::debug("ignoring {} (kind not used by the agent)", obj.describe());
  return true;
}

bool ClusterModel::erase(ClusterSnapshot& next, const std::string& object_key) {
  SplitKey k = splitObjectKey(object_key);
  bool erased = false;
  withMap(next, k.kind, [&](auto& m) { erased = m.erase(k.map_key) > 0; });
  return erased;
}

size_t ClusterModel::apply(ConfigUpdate update) {
  std::lock_guard publish_lock(publish_mu_);
  for (const Error& e : update.errors) spdlog::warn("config source: {}", e.message());
  SnapshotPtr cur = snapshot();
  auto next = std::make_shared<ClusterSnapshot>(update.replace_all ? ClusterSnapshot{} : *cur);
  size_t bad = 0;
  for (const k8s::Object& obj : update.upserts) {
    if (upsert(*next, obj)) continue;
    ++bad;
    // Keep the last good version: after a re-list the fresh snapshot must inherit it.
    if (update.replace_all) {
      const std::string key = mapKey(obj);
      withMap(*next, obj.kind, [&](auto& dst) {
        withMap(*cur, obj.kind, [&](auto& src) {
          using Dst = std::decay_t<decltype(dst)>;
          using Src = std::remove_cvref_t<decltype(src)>;
          if constexpr (std::is_same_v<Dst, Src>) {
            if (auto it = src.find(key); it != src.end()) dst[key] = it->second;
          }
        });
      });
    }
  }
  for (const std::string& key : update.deletes) erase(*next, key);
  next->generation = cur->generation + 1;
  SnapshotPtr published = std::move(next);
  {
    std::lock_guard lock(mu_);
    current_ = published;
  }
  spdlog::debug("model generation {}: {} pods, {} services, {} authorization policies, {} peer "
                "authentications ({} bad objects skipped)",
                published->generation, published->pods.size(), published->services.size(),
                published->authorization_policies.size(), published->peer_authentications.size(),
                bad);
  publish(published);
  return bad;
}

void ClusterModel::publish(SnapshotPtr snap) {
  for (auto& [id, cb] : subscribers_) cb(snap);
}

SnapshotPtr ClusterModel::snapshot() const {
  std::lock_guard lock(mu_);
  return current_;
}

ClusterModel::SubscriptionId ClusterModel::subscribe(Subscriber cb) {
  std::lock_guard publish_lock(publish_mu_);
  SubscriptionId id = next_id_++;
  cb(snapshot());
  subscribers_.emplace(id, std::move(cb));
  return id;
}

void ClusterModel::unsubscribe(SubscriptionId id) {
  std::lock_guard publish_lock(publish_mu_);
  subscribers_.erase(id);
}

}  // namespace warren::agent
