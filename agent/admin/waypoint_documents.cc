#include "agent/admin/waypoint_documents.h"

#include "agent/admin/cluster_documents.h"
#include "agent/translate/route_translation.h"

namespace warren::agent::admin {
namespace {

using nlohmann::json;

std::string conditionStatus(const json& conditions, const std::string& type) {
  if (!conditions.is_array()) return "Unknown";
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == type) return c.value("status", "Unknown");
  return "Unknown";
}

json conditionsOf(const k8s::Object& obj) {
  if (!obj.node.IsMap()) return json::array();
  const YAML::Node& root = obj.node;
  YAML::Node status = root["status"];
  if (!status.IsDefined() || !status.IsMap() || !status["conditions"].IsDefined())
    return json::array();
  json c = k8s::yamlToJson(status["conditions"]);
  return c.is_array() ? c : json::array();
}

json item(const ClusterSnapshot& snap, const TranslationContext& ctx, const std::string& ns,
          const std::string& name, const Gateway* gw, const k8s::Object& obj,
          const std::string& error) {
  json conditions = conditionsOf(obj);
  std::string address;
  if (auto svc = snap.services.find(ns + "/" + name); svc != snap.services.end())
    address = svc->second.cluster_ip == "None" ? "" : svc->second.cluster_ip;
  json instances = json::array();
  json workloads = json::array();
  for (const auto& [key, shared] : snap.pods) {
    const k8s::Pod& pod = *shared;
    const Gateway* of = waypointGatewayOfPod(snap, pod);
    if (of && of->meta.namespace_ == ns && of->meta.name == name) {
      instances.push_back({{"pod", key},
                           {"node", pod.spec.node_name},
                           {"address", pod.status.pod_ip},
                           {"phase", pod.status.phase}});
      continue;
    }
    auto w = translatePod(snap, pod, ctx);
    if (w && w->has_waypoint() && waypointName(snap, w->waypoint()) == ns + "/" + name)
      workloads.push_back(key);
  }
  json services = json::array();
  for (const auto& [key, svc] : snap.services)
    if (serviceWaypoint(snap, svc) == ns + "/" + name) services.push_back(key);
  return {{"name", name},
          {"namespace", ns},
          {"for", gw ? toString(gw->waypoint_for) : ""},
          {"address", address},
          {"accepted", conditionStatus(conditions, "Accepted")},
          {"programmed", conditionStatus(conditions, "Programmed")},
          {"conditions", conditions},
          {"instances", instances},
          {"services", services},
          {"workloads", workloads},
          {"error", error}};
}

}  // namespace

json waypointItems(const ClusterSnapshot& snap, const TranslationContext& ctx) {
  json items = json::array();
  for (const auto& [key, gw] : snap.gateways) {
    if (!gw.isWaypoint()) continue;
    auto rejected = snap.rejected.find("Gateway/" + key);
    const bool bad = rejected != snap.rejected.end();
    items.push_back(item(snap, ctx, gw.meta.namespace_, gw.meta.name, &gw,
                         bad ? rejected->second.object : gw.object,
                         bad ? rejected->second.error : ""));
  }
  for (const auto& [key, r] : snap.rejected) {
    if (r.object.kind != "Gateway") continue;
    if (snap.gateways.contains(r.object.meta.namespace_ + "/" + r.object.meta.name)) continue;
    k8s::Fields spec = k8s::Fields(r.object, r.object.node, "").child("spec");
    auto cls = spec.str("gatewayClassName");
    if (!cls || *cls != kWaypointGatewayClass) continue;
    items.push_back(
        item(snap, ctx, r.object.meta.namespace_, r.object.meta.name, nullptr, r.object, r.error));
  }
  return items;
}

json controllerJson(const ControllerState& s) {
  return {{"enabled", s.enabled}, {"leading", s.leading}, {"identity", s.identity}};
}

json routeItems(const ClusterSnapshot& snap, const TranslationContext& ctx,
                const std::string& waypoint) {
  json items = json::array();
  RouteTranslation t = translateRoutes(snap, ctx);
  for (const auto& [name, sr] : t.services) {
    if (!waypoint.empty() && sr.waypoint() != waypoint) continue;
    json j = protoJson(sr);
    j["addresses"] = json::array();
    for (const auto& a : sr.addresses()) j["addresses"].push_back(ipText(a));
    j["resource"] = name;
    items.push_back(std::move(j));
  }
  return items;
}

}  // namespace warren::agent::admin
