#include "agent/model/cluster_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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
  if (kind == "RequestAuthentication") return fn(s.request_authentications), true;
  if (kind == "TrafficPolicy") return fn(s.traffic_policies), true;
  if (kind == "DestinationRule") return fn(s.destination_rules), true;
  if (kind == "Gateway") return fn(s.gateways), true;
  if (kind == "HTTPRoute") return fn(s.http_routes), true;
  if (kind == "GRPCRoute") return fn(s.grpc_routes), true;
  return false;
}

// True for a kind the snapshot keeps. An update made only of other kinds (the controller's
// Lease, renewed every 2 s in the lab's manifest directory) changes nothing a subscriber reads:
// it publishes no snapshot, so no copy of the whole model and no round of translation.
bool keptKind(const std::string& kind) {
  static const ClusterSnapshot kNone;
  return withMap(kNone, kind, [](const auto&) {});
}

// Whether an object the update upserts or deletes is of a kept kind for which `pred(kind)`.
template <class Pred>
bool touchesKeptKind(const ConfigUpdate& u, Pred pred) {
  for (const k8s::Object& obj : u.upserts)
    if (keptKind(obj.kind) && pred(obj.kind)) return true;
  for (const std::string& key : u.deletes) {
    const std::string kind = splitObjectKey(key).kind;
    if (keptKind(kind) && pred(kind)) return true;
  }
  return false;
}

bool changesNothingKept(const ConfigUpdate& u) {
  if (u.replace_all || !u.errors.empty()) return false;
  return !touchesKeptKind(u, [](const std::string&) { return true; });
}

// Stores a decoded object, or records the rejected version (the map keeps the last good one).
template <class T>
bool store(ClusterSnapshot& next, std::map<std::string, T>& m, const k8s::Object& obj,
           const std::string& key, Result<T> decoded) {
  if (!decoded) {
    spdlog::warn("skipping bad object (keeping its last good version): {}",
                 decoded.error().message());
    next.rejected.erase(obj.key());
    next.rejected.emplace(obj.key(), RejectedObject{obj, decoded.error().message()});
    return false;
  }
  next.rejected.erase(obj.key());
  // erase + emplace, never assignment: Gateway/HTTPRoute hold YAML nodes, whose operator=
  // writes through to the node the old value shares with earlier snapshots.
  m.erase(key);
  m.emplace(key, std::move(*decoded));
  return true;
}

// Pods are shared between snapshots: a new version is a new object.
bool store(ClusterSnapshot& next, std::map<std::string, std::shared_ptr<const k8s::Pod>>& m,
           const k8s::Object& obj, const std::string& key, Result<k8s::Pod> decoded) {
  if (!decoded)
    return store(next, m, obj, key,
                 Result<std::shared_ptr<const k8s::Pod>>(std::unexpected(decoded.error())));
  return store(next, m, obj, key,
               Result<std::shared_ptr<const k8s::Pod>>(
                   std::make_shared<const k8s::Pod>(std::move(*decoded))));
}

// Whether an update changes nothing but Pods (the translation's context stays).
bool onlyPods(const ConfigUpdate& u) {
  if (u.replace_all &&
      (u.replace_kinds.empty() ||
       std::ranges::any_of(u.replace_kinds, [](const std::string& k) { return k != "Pod"; })))
    return false;
  return !touchesKeptKind(u, [](const std::string& kind) { return kind != "Pod"; });
}

}  // namespace

ClusterModel::ClusterModel() : current_(std::make_shared<const ClusterSnapshot>()) {}

bool ClusterModel::upsert(ClusterSnapshot& next, const k8s::Object& obj) {
  const std::string key = mapKey(obj);
  const std::string& kind = obj.kind;
  auto keep = [&](auto& map, auto decoded) {
    return store(next, map, obj, key, std::move(decoded));
  };
  if (kind == "Namespace") return keep(next.namespaces, k8s::decodeNamespace(obj));
  if (kind == "Pod") return keep(next.pods, k8s::decodePod(obj));
  if (kind == "Service") return keep(next.services, k8s::decodeService(obj));
  if (kind == "ServiceAccount") return keep(next.service_accounts, k8s::decodeServiceAccount(obj));
  if (kind == "EndpointSlice") return keep(next.endpoint_slices, decodeEndpointSlice(obj));
  if (kind == "AuthorizationPolicy")
    return keep(next.authorization_policies, decodeAuthorizationPolicy(obj));
  if (kind == "PeerAuthentication")
    return keep(next.peer_authentications, decodePeerAuthentication(obj));
  if (kind == "RequestAuthentication")
    return keep(next.request_authentications, decodeRequestAuthentication(obj));
  if (isWarrenTrafficPolicy(obj)) return keep(next.traffic_policies, decodeTrafficPolicy(obj));
  if (isIstioDestinationRule(obj))
    return keep(next.destination_rules, decodeDestinationRule(obj));
  if (kind == "Gateway") return keep(next.gateways, decodeGateway(obj));
  if (kind == "HTTPRoute") return keep(next.http_routes, decodeHttpRoute(obj));
  if (kind == "GRPCRoute") return keep(next.grpc_routes, decodeGrpcRoute(obj));
  spdlog::debug("ignoring {} (kind not used by the agent)", obj.describe());
  return true;
}

bool ClusterModel::erase(ClusterSnapshot& next, const std::string& object_key) {
  next.rejected.erase(object_key);
  SplitKey k = splitObjectKey(object_key);
  bool erased = false;
  withMap(next, k.kind, [&](auto& m) { erased = m.erase(k.map_key) > 0; });
  return erased;
}

size_t ClusterModel::apply(ConfigUpdate update) {
  std::lock_guard publish_lock(publish_mu_);
  for (const Error& e : update.errors) spdlog::warn("config source: {}", e.message());
  if (changesNothingKept(update)) return 0;
  SnapshotPtr cur = snapshot();
  auto next = std::make_shared<ClusterSnapshot>(
      update.replace_all && update.replace_kinds.empty() ? ClusterSnapshot{} : *cur);
  if (update.replace_all) {
    next->all_kinds_listed = cur->all_kinds_listed || update.replace_kinds.empty();
    next->listed_kinds.insert(update.replace_kinds.begin(), update.replace_kinds.end());
    for (const std::string& kind : update.replace_kinds) {
      withMap(*next, kind, [](auto& m) { m.clear(); });
      std::erase_if(next->rejected, [&](const auto& r) { return r.second.object.kind == kind; });
    }
  }
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
            if (auto it = src.find(key); it != src.end()) {
              dst.erase(key);
              dst.emplace(key, it->second);
            }
          }
        });
      });
    }
  }
  for (const std::string& key : update.deletes) erase(*next, key);
  next->generation = cur->generation + 1;
  next->context_generation = cur->context_generation + (onlyPods(update) ? 0 : 1);
  SnapshotPtr published = std::move(next);
  {
    std::lock_guard lock(mu_);
    current_ = published;
  }
  spdlog::debug(
      "model generation {}: {} pods, {} services, {} authorization policies, {} peer "
      "authentications ({} bad objects skipped)",
      published->generation, published->pods.size(), published->services.size(),
      published->authorization_policies.size(), published->peer_authentications.size(), bad);
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
