#include "agent/controller/gateway_status.h"

namespace warren::agent {
namespace {

using nlohmann::json;

const json* findCondition(const json& existing, const std::string& type) {
  if (!existing.is_array()) return nullptr;
  for (const auto& c : existing)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

std::string statusText(bool b) { return b ? "True" : "False"; }

json member(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) ? obj[key] : json();
}

}  // namespace

json renderConditions(const std::vector<Condition>& desired, const json& existing,
                      int64_t generation, const std::string& now) {
  json out = json::array();
  for (const Condition& c : desired) {
    std::string since = now;
    if (const json* old = findCondition(existing, c.type);
        old && old->value("status", "") == statusText(c.status) &&
        (*old)["lastTransitionTime"].is_string())
      since = (*old)["lastTransitionTime"].get<std::string>();
    out.push_back({{"type", c.type},
                   {"status", statusText(c.status)},
                   {"reason", c.reason},
                   {"message", c.message},
                   {"observedGeneration", generation},
                   {"lastTransitionTime", since}});
  }
  return out;
}

json gatewayStatus(const Gateway& g, const GatewayOutcome& o, const json& existing,
                   const std::string& now) {
  const int64_t gen = g.meta.generation;
  std::vector<Condition> conditions;
  const bool accepted = o.listener_problem.empty();
  conditions.push_back(
      accepted ? Condition{"Accepted", true, "Accepted",
                           std::string("waypoint for ") + toString(g.waypoint_for) + " traffic"}
               : Condition{"Accepted", false, "ListenersNotValid", o.listener_problem});
  const std::string objects =
      "Deployment, Service and ServiceAccount " + g.meta.namespace_ + "/" + g.meta.name;
  if (!accepted) {
    conditions.push_back(
        {"Programmed", false, "Invalid", "not deployed: the Gateway is not accepted"});
  } else if (!o.conflict.empty()) {
    conditions.push_back({"Programmed", false, "Invalid", o.conflict});
  } else if (!o.error.empty()) {
    conditions.push_back({"Programmed", false, "Pending", o.error});
  } else if (!o.deployed || o.address.empty()) {
    conditions.push_back({"Programmed", false, "Pending",
                          o.deployed ? objects + " created; waiting for the Service's address"
                                     : "creating " + objects});
  } else {
    conditions.push_back(
        {"Programmed", true, "Programmed", objects + " deployed; address " + o.address});
  }
  json status = json::object();
  if (!o.address.empty())
    status["addresses"] = json::array({{{"type", "IPAddress"}, {"value", o.address}}});
  status["conditions"] = renderConditions(conditions, member(existing, "conditions"), gen, now);
  json listeners = json::array();
  const json old_listeners = member(existing, "listeners");
  for (const auto& l : g.listeners) {
    json old = json();
    if (old_listeners.is_array())
      for (const auto& x : old_listeners)
        if (x.is_object() && x.value("name", "") == l.name) old = x;
    const bool hbone = l.protocol == "HBONE" && l.port == kWaypointHbonePort;
    std::vector<Condition> lc;
    lc.push_back(hbone ? Condition{"Accepted", true, "Accepted", ""}
                       : Condition{"Accepted", false, "UnsupportedProtocol",
                                   "a waypoint listens on HBONE port 15008 only"});
    lc.push_back(
        {"Programmed", hbone && accepted, hbone && accepted ? "Programmed" : "Invalid", ""});
    lc.push_back({"ResolvedRefs", true, "ResolvedRefs", ""});
    listeners.push_back(
        {{"name", l.name},
         {"attachedRoutes", 0},
         {"supportedKinds", json::array()},
         {"conditions", renderConditions(lc, member(old, "conditions"), gen, now)}});
  }
  status["listeners"] = listeners;
  return status;
}

json rejectedGatewayStatus(const std::string& error, int64_t generation, const json& existing,
                           const std::string& now) {
  json status = existing.is_object() ? existing : json::object();
  status["conditions"] = renderConditions(
      {{"Accepted", false, "InvalidParameters", error},
       {"Programmed", false, "Invalid", "not deployed: the Gateway is not accepted"}},
      member(existing, "conditions"), generation, now);
  return status;
}

json parentRefJson(const ParentRef& ref) {
  json j = {
      {"group", ref.group}, {"kind", ref.kind}, {"namespace", ref.namespace_}, {"name", ref.name}};
  if (!ref.section_name.empty()) j["sectionName"] = ref.section_name;
  if (ref.port) j["port"] = *ref.port;
  return j;
}

std::optional<json> routeStatus(const RouteStatus& st, int64_t generation, const json& existing,
                                const std::string& now) {
  json parents = json::array();
  bool had_ours = false;
  const json old_parents = member(existing, "parents");
  auto oldEntry = [&](const json& ref) -> json {
    if (!old_parents.is_array()) return json();
    for (const auto& p : old_parents)
      if (p.is_object() && p.value("controllerName", "") == kWaypointControllerName &&
          member(p, "parentRef") == ref)
        return p;
    return json();
  };
  if (old_parents.is_array()) {
    for (const auto& p : old_parents) {
      if (p.is_object() && p.value("controllerName", "") == kWaypointControllerName) {
        had_ours = true;
        continue;
      }
      parents.push_back(p);  // another controller's: not ours to change
    }
  }
  if (st.parents.empty() && !had_ours) return std::nullopt;
  for (const auto& p : st.parents) {
    json ref = parentRefJson(p.parent);
    parents.push_back(
        {{"parentRef", ref},
         {"controllerName", kWaypointControllerName},
         {"conditions",
          renderConditions(p.conditions, member(oldEntry(ref), "conditions"), generation, now)}});
  }
  json status = existing.is_object() ? existing : json::object();
  status["parents"] = parents;
  return status;
}

}  // namespace warren::agent
