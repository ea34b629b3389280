#include "agent/controller/waypoint_controller.h"

#include <spdlog/spdlog.h>

#include <set>

#include "agent/translate/route_translation.h"

namespace warren::agent {
namespace {

using nlohmann::json;

json statusJsonOf(const k8s::Object& obj) {
  if (!obj.node.IsMap()) return json();
  const YAML::Node& root = obj.node;
  YAML::Node s = root["status"];
  return s.IsDefined() ? k8s::yamlToJson(s) : json();
}

std::string annotation(const k8s::Object& obj, const std::string& key) {
  auto it = obj.meta.annotations.find(key);
  return it == obj.meta.annotations.end() ? "" : it->second;
}

// `desired` applied onto what is stored: our labels, annotations, ownerReferences and spec;
// the API server's allocations (a Service's clusterIP) and everything else kept.
k8s::Object merged(const k8s::Object& current, const k8s::Object& desired) {
  k8s::Object out = current;
  for (const auto& [k, v] : desired.meta.labels) out.meta.labels[k] = v;
  for (const auto& [k, v] : desired.meta.annotations) out.meta.annotations[k] = v;
  const YAML::Node& d = desired.node;
  out.node["metadata"]["ownerReferences"] = YAML::Clone(d["metadata"]["ownerReferences"]);
  if (d["spec"].IsDefined()) {
    YAML::Node spec = YAML::Clone(d["spec"]);
    if (current.kind == "Service") {
      const YAML::Node& cs = current.node;
      for (const char* keep : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"})
        if (cs["spec"].IsDefined() && cs["spec"][keep].IsDefined())
          spec[keep] = YAML::Clone(cs["spec"][keep]);
    }
    out.node["spec"] = spec;
  }
  return out;
}

std::string clusterIpOf(const k8s::Object& svc) {
  auto decoded = k8s::decodeService(svc);
  if (!decoded || decoded->cluster_ip == "None") return "";
  return decoded->cluster_ip;
}

// A rejected object that claims class warren-waypoint (read leniently: it did not decode).
bool claimsWaypointClass(const k8s::Object& obj) {
  k8s::Fields spec = k8s::Fields(obj, obj.node, "").child("spec");
  auto cls = spec.str("gatewayClassName");
  return cls && *cls == kWaypointGatewayClass;
}

}  // namespace

bool controllerCanReconcile(const ClusterSnapshot& snap) {
  for (const char* kind : {"Gateway", "HTTPRoute", "GRPCRoute", "Service"})
    if (!snap.listed(kind)) return false;
  return true;
}

WaypointController::WaypointController(ClusterModel& model,
                                       std::unique_ptr<kube::ObjectStore> store, Options options)
    : model_(model),
      store_(std::move(store)),
      options_(std::move(options)),
      elector_(*store_, options_.lease) {}

WaypointController::~WaypointController() { stop(); }

void WaypointController::start() {
  subscription_ = model_.subscribe([this](const SnapshotPtr&) {
    {
      std::lock_guard lock(mu_);
      dirty_ = true;
    }
    cv_.notify_all();
  });
  subscribed_ = true;
  spdlog::info("controller: waypoint controller {} on {} (lease {}/{})", options_.lease.identity,
               store_->describe(), options_.lease.lease_namespace, options_.lease.lease_name);
  thread_ = std::thread([this] { loop(); });
}

void WaypointController::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (subscribed_) {
    model_.unsubscribe(subscription_);
    subscribed_ = false;
  }
  elector_.release(options_.clock());
  leading_ = false;
}

bool WaypointController::leading() const { return leading_; }

WaypointController::Stats WaypointController::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void WaypointController::loop() {
  auto last_reconcile = std::chrono::steady_clock::time_point{};
  auto last_renew = std::chrono::steady_clock::time_point{};
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.renew_period, [&] { return stopping_ || dirty_; });
    if (stopping_) break;
    const bool changed = dirty_;
    dirty_ = false;
    lock.unlock();
    auto now = std::chrono::steady_clock::now();
    // The holder renews once per renew_period, not on every snapshot: renewing on each wrote
    // the Lease ~75 times a second in the lab, where each renewal came back as a snapshot (the
    // manifest directory carries the Lease) and kept a core busy parsing it. A follower
    // contends on every round (it only reads unless the lease is free), at least once a period.
    if (!leading_ || now - last_renew >= options_.renew_period) {
      const bool leading = elector_.tick(options_.clock());
      if (leading) last_renew = now;
      leading_ = leading;
      if (!elector_.lastError().empty())
        spdlog::debug("controller: lease round: {}", elector_.lastError());
    }
    const bool leading = leading_;
    if (leading && (changed || now - last_reconcile >= options_.resync)) {
      reconcile(*model_.snapshot());
      last_reconcile = now;
    }
    lock.lock();
  }
}

void WaypointController::runOnce() {
  leading_ = elector_.tick(options_.clock());
  if (leading_) reconcile(*model_.snapshot());
}

void WaypointController::count(const Error& e) {
  std::lock_guard lock(mu_);
  if (e.code() == ErrorCode::kConflict)
    stats_.conflicts++;
  else
    stats_.errors++;
}

void WaypointController::reconcile(const ClusterSnapshot& snap) {
  if (!controllerCanReconcile(snap)) {
    spdlog::debug("controller: waiting for the informer to list Gateways, routes and Services");
    return;
  }
  {
    std::lock_guard lock(mu_);
    stats_.rounds++;
  }
  for (const auto& [key, gw] : snap.gateways) {
    if (!gw.isWaypoint()) continue;
    // The latest version did not decode: what was deployed for the last good one stays, and
    // the loop below reports the error on the latest.
    if (snap.rejected.contains("Gateway/" + key)) continue;
    GatewayOutcome o;
    o.listener_problem = waypointListenerProblem(gw);
    if (o.listener_problem.empty()) o = deployGateway(gw);
    writeGatewayStatus(snap, gw, o);
  }
  for (const auto& [key, rejected] : snap.rejected) {
    if (rejected.object.kind != "Gateway" || !claimsWaypointClass(rejected.object)) continue;
    writeStatus(
        rejected.object,
        rejectedGatewayStatus(rejected.error, rejected.object.meta.generation,
                              statusJsonOf(rejected.object), kube::rfc3339(options_.clock())));
  }
  collectGarbage(snap);
  writeRouteStatuses(snap);
}

GatewayOutcome WaypointController::deployGateway(const Gateway& gw) {
  GatewayOutcome o;
  auto desired = waypointResources(gw, options_.deployment);
  if (!desired) {
    o.error = desired.error().message();
    return o;
  }
  o.deployed = true;
  for (const k8s::Object* d : desired->all()) {
    const kube::ObjectRef ref = kube::ObjectRef::of(*d);
    auto current = store_->get(ref);
    Result<k8s::Object> result = fail(Error::notFound(""));
    if (!current && current.error().code() == ErrorCode::kNotFound) {
      result = store_->create(*d);
      if (result) {
        spdlog::info("controller: created {} for Gateway {}/{}", ref.describe(), gw.meta.namespace_,
                     gw.meta.name);
        std::lock_guard lock(mu_);
        stats_.created++;
      }
    } else if (!current) {
      result = fail(current.error());
    } else if (!ownedByGateway(*current, gw.meta.uid)) {
      o.conflict = ref.describe() + " exists and is not owned by Gateway " + gw.meta.namespace_ +
                   "/" + gw.meta.name + "; remove it or rename the Gateway";
      o.deployed = false;
      continue;
    } else if (annotation(*current, kSpecHashAnnotation) != annotation(*d, kSpecHashAnnotation)) {
      result = store_->update(merged(*current, *d));
      if (result) {
        spdlog::info("controller: updated {}", ref.describe());
        std::lock_guard lock(mu_);
        stats_.updated++;
      }
    } else {
      result = std::move(current);
    }
    if (!result) {
      count(result.error());
      o.error = result.error().message();
      o.deployed = false;
      continue;
    }
    if (d->kind == "Service") o.address = clusterIpOf(*result);
  }
  return o;
}

void WaypointController::writeGatewayStatus(const ClusterSnapshot&, const Gateway& gw,
                                            const GatewayOutcome& o) {
  writeStatus(gw.object,
              gatewayStatus(gw, o, statusJsonOf(gw.object), kube::rfc3339(options_.clock())));
}

void WaypointController::writeStatus(const k8s::Object& obj, const json& status) {
  if (statusJsonOf(obj) == status) return;
  auto doc = k8s::toJson(obj);
  doc["status"] = status;
  auto next = k8s::fromJson(doc, obj.describe());
  if (!next) {
    count(next.error());
    spdlog::warn("controller: status of {}: {}", obj.describe(), next.error().message());
    return;
  }
  next->meta = obj.meta;
  auto written = store_->updateStatus(*next);
  if (!written) {
    count(written.error());
    spdlog::log(
        written.error().code() == ErrorCode::kConflict ? spdlog::level::debug : spdlog::level::warn,
        "controller: status of {}: {}", obj.describe(), written.error().message());
    return;
  }
  std::lock_guard lock(mu_);
  stats_.status_writes++;
}

void WaypointController::collectGarbage(const ClusterSnapshot& snap) {
  std::set<std::string> live_uids;
  for (const auto& [key, gw] : snap.gateways)
    if (gw.isWaypoint()) live_uids.insert(gw.meta.uid);
  for (const auto& [key, rejected] : snap.rejected)
    if (rejected.object.kind == "Gateway") live_uids.insert(rejected.object.meta.uid);
  const k8s::Labels selector = {{kManagedByLabel, kManagedByValue}};
  for (const auto& [api, kind] : {std::pair{"apps/v1", "Deployment"}, std::pair{"v1", "Service"},
                                  std::pair{"v1", "ServiceAccount"}}) {
    auto objects = store_->list(api, kind, "", selector);
    if (!objects) {
      count(objects.error());
      continue;
    }
    for (const k8s::Object& obj : *objects) {
      bool owned_by_live = false;
      for (const std::string& uid : live_uids) owned_by_live |= ownedByGateway(obj, uid);
      if (owned_by_live) continue;
      auto removed = store_->remove(kube::ObjectRef::of(obj), obj.meta.uid);
      if (!removed && removed.error().code() != ErrorCode::kNotFound) {
        count(removed.error());
        continue;
      }
      spdlog::info("controller: deleted {} (its Gateway is gone)", obj.describe());
      std::lock_guard lock(mu_);
      stats_.deleted++;
    }
  }
}

void WaypointController::writeRouteStatuses(const ClusterSnapshot& snap) {
  RouteTranslation t = translateRoutes(snap, options_.translation);
  const std::string now = kube::rfc3339(options_.clock());
  for (const auto& [key, st] : t.statuses) {
    const k8s::Object* obj = nullptr;
    if (auto r = snap.rejected.find(key); r != snap.rejected.end()) {
      obj = &r->second.object;
    } else {
      const auto& routes = st.kind == RouteKind::kGrpc ? snap.grpc_routes : snap.http_routes;
      if (auto it = routes.find(st.namespace_ + "/" + st.name); it != routes.end())
        obj = &it->second.object;
    }
    if (!obj) continue;
    auto status = routeStatus(st, obj->meta.generation, statusJsonOf(*obj), now);
    if (status) writeStatus(*obj, *status);
  }
}

}  // namespace warren::agent
