#include "agent/admin/cluster_documents.h"

#include <google/protobuf/util/json_util.h>

#include "agent/model/enrolment.h"
#include "agent/translate/authorization_translation.h"
#include "agent/translate/waypoint_policy_translation.h"
#include "common/net/ip_address.h"

namespace warren::agent::admin {
namespace {

using nlohmann::json;

json labelsJson(const k8s::Labels& labels) {
  json j = json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

// The Authorization's groups (its rules), as JSON; [] when it has none.
json rulesJson(const istio::security::Authorization& az) {
  json rules = json::array();
  for (const auto& g : az.groups()) rules.push_back(protoJson(g));
  return rules;
}

std::string scopeOf(const std::optional<k8s::Labels>& selector, const std::string& ns,
                    const std::string& root_namespace) {
  if (selector && !selector->empty()) return "workload";
  return ns == root_namespace ? "global" : "namespace";
}

std::string actionName(istio::security::Action a) {
  return a == istio::security::DENY ? "DENY" : "ALLOW";
}

}  // namespace

json protoJson(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &text, o).ok()) return json::object();
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string ipText(const std::string& bytes) {
  auto ip = net::IpAddress::fromBytes(bytes);
  return ip ? ip->toString() : "";
}

json listDocument(const std::string& kind, const std::string& node, json items) {
  return json{{"kind", kind}, {"node", node}, {"items", std::move(items)}};
}

std::string waypointName(const ClusterSnapshot& snapshot,
                         const istio::workload::GatewayAddress& waypoint) {
  if (waypoint.has_hostname()) {
    const auto& h = waypoint.hostname();
    return h.namespace_() + "/" + h.hostname().substr(0, h.hostname().find('.'));
  }
  if (waypoint.has_address()) {
    const std::string ip = ipText(waypoint.address().address());
    for (const auto& [key, svc] : snapshot.services)
      if (!ip.empty() && svc.cluster_ip == ip) return key;
    return ip;  // a VIP the model no longer has a Service for: still say which
  }
  return "";
}

json workloadItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx,
                   const NetnsCookies& cookies) {
  json items = json::array();
  for (const auto& [key, shared] : snapshot.pods) {  // keyed "ns/name": already sorted
    const k8s::Pod& pod = *shared;
    auto w = translatePod(snapshot, pod, ctx);
    if (!w) continue;
    const bool enrolled = isEnrolled(snapshot.namespaceLabels(pod.meta.namespace_), pod);
    const std::string sa = w->service_account().empty() ? "default" : w->service_account();
    const std::string td = w->trust_domain().empty() ? ctx.trust_domain : w->trust_domain();
    json addresses = json::array();
    for (const auto& a : w->addresses()) addresses.push_back(ipText(a));
    json cookie = nullptr;
    if (auto it = cookies.find(key); it != cookies.end()) cookie = it->second;
    items.push_back({
        {"uid", pod.meta.uid},
        {"name", w->name()},
        {"namespace", w->namespace_()},
        {"node", w->node()},
        {"service_account", sa},
        {"identity", "spiffe://" + td + "/ns/" + w->namespace_() + "/sa/" + sa},
        {"addresses", std::move(addresses)},
        {"enrolled", enrolled},
        {"dataplane_mode", enrolled ? "ambient" : "none"},
        {"protocol", w->tunnel_protocol() == istio::workload::HBONE ? "HBONE" : "TCP"},
        {"waypoint", w->has_waypoint() ? waypointName(snapshot, w->waypoint()) : ""},
        {"canonical_service", w->canonical_name()},
        {"canonical_revision", w->canonical_revision()},
        {"labels", labelsJson(pod.meta.labels)},
        {"status", w->status() == istio::workload::HEALTHY ? "Healthy" : "Unhealthy"},
        {"netns_cookie", std::move(cookie)},
        {"xds_uid", w->uid()},
        {"authorization_policies", std::vector<std::string>(w->authorization_policies().begin(),
                                                            w->authorization_policies().end())},
    });
  }
  return items;
}

json serviceItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx) {
  // Which workloads back which service: the translated workloads' `services` keys.
  std::map<std::string, json> endpoints;  // "ns/hostname" -> endpoint items
  for (const auto& [key, shared] : snapshot.pods) {
    const k8s::Pod& pod = *shared;
    auto w = translatePod(snapshot, pod, ctx);
    if (!w) continue;
    for (const auto& [svc_key, ports] : w->services()) {
      endpoints[svc_key].push_back({
          {"workload_uid", pod.meta.uid},
          {"workload", w->name()},
          {"namespace", w->namespace_()},
          {"address", w->addresses().empty() ? "" : ipText(w->addresses(0))},
          {"node", w->node()},
          {"healthy", w->status() == istio::workload::HEALTHY},
      });
    }
  }
  json items = json::array();
  for (const auto& [key, svc] : snapshot.services) {
    auto s = translateService(snapshot, svc, ctx);
    if (!s) continue;
    json vips = json::array();
    for (const auto& a : s->addresses()) vips.push_back(ipText(a.address()));
    json ports = json::array();
    for (const auto& p : svc.ports) {
      json port = {{"name", p.name}, {"port", p.port}, {"protocol", p.protocol}};
      if (p.target_port.number) {
        port["target_port"] = *p.target_port.number;
      } else if (!p.target_port.name.empty()) {
        port["target_port"] = nullptr;  // named: resolved per workload
        port["target_port_name"] = p.target_port.name;
      } else {
        port["target_port"] = p.port;
      }
      ports.push_back(std::move(port));
    }
    auto eps = endpoints.find(s->namespace_() + "/" + s->hostname());
    items.push_back({
        {"name", s->name()},
        {"namespace", s->namespace_()},
        {"hostname", s->hostname()},
        {"vips", std::move(vips)},
        {"ports", std::move(ports)},
        {"endpoints", eps == endpoints.end() ? json::array() : eps->second},
        {"waypoint", s->has_waypoint() ? waypointName(snapshot, s->waypoint()) : ""},
    });
  }
  return items;
}

json policyItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx) {
  json items = json::array();
  const WaypointPolicyTranslation bound = translateWaypointPolicies(snapshot, ctx);
  auto binding = [&](const std::string& id) {
    auto it = bound.bindings.find(id);
    return it == bound.bindings.end() ? PolicyBinding{} : it->second;
  };
  for (const auto& [key, ap] : snapshot.authorization_policies) {
    auto t = translateAuthorizationPolicy(ap, ctx.root_namespace);
    PolicyBinding b = binding("AuthorizationPolicy/" + key);
    for (const auto& e : b.errors) t.errors.push_back(e);
    items.push_back({
        {"name", ap.meta.name},
        {"namespace", ap.meta.namespace_},
        {"kind", "AuthorizationPolicy"},
        {"scope", scopeOf(ap.selector, ap.meta.namespace_, ctx.root_namespace)},
        {"action", ap.action},
        {"mode", ""},
        {"selector", ap.selector ? labelsJson(*ap.selector) : json::object()},
        {"rules", t.policy ? rulesJson(*t.policy) : json::array()},
        {"translated", t.policy ? t.policy->namespace_() + "/" + t.policy->name() : ""},
        {"notes", t.notes},
        {"waypoints", b.waypoints},  // the waypoints enforcing it (targetRefs)
        {"errors", t.errors},
    });
  }
  // A policy only waypoints enforce (no ztunnel translation, no action or mode).
  auto waypointItem = [&](const k8s::ObjectMeta& meta, const char* kind, json selector,
                          const PolicyBinding& b) {
    items.push_back({
        {"name", meta.name},
        {"namespace", meta.namespace_},
        {"kind", kind},
        {"scope", "WAYPOINT"},
        {"action", ""},
        {"mode", ""},
        {"selector", std::move(selector)},
        {"rules", json::array()},
        {"translated", ""},
        {"waypoints", b.waypoints},
        {"errors", b.errors},
    });
  };
  for (const auto& [key, ra] : snapshot.request_authentications) {
    waypointItem(ra.meta, "RequestAuthentication",
                 ra.selector ? labelsJson(*ra.selector) : json::object(),
                 binding("RequestAuthentication/" + key));
  }
  // A TrafficPolicy version that did not decode is reported on it (its last good version, if
  // any, still applies; without one the rejected object is listed), so `warrenctl policies`
  // shows why a change did not take.
  for (const auto& [key, tp] : snapshot.traffic_policies) {
    PolicyBinding b = binding("TrafficPolicy/" + key);
    if (auto r = snapshot.rejected.find("TrafficPolicy/" + key); r != snapshot.rejected.end())
      b.errors.push_back("rejected (the last good version applies): " + r->second.error);
    waypointItem(tp.meta, "TrafficPolicy", json::object(), b);
  }
  for (const auto& [object_key, r] : snapshot.rejected) {
    if (r.object.kind != "TrafficPolicy" ||
        snapshot.traffic_policies.contains(r.object.meta.namespace_ + "/" + r.object.meta.name))
      continue;
    waypointItem(r.object.meta, "TrafficPolicy", json::object(),
                 PolicyBinding{{}, {"rejected: " + r.error}});
  }
  // DestinationRules the same way, with the fields no waypoint applies named in errors.
  for (const auto& [key, dr] : snapshot.destination_rules) {
    PolicyBinding b = binding("DestinationRule/" + key);
    if (auto r = snapshot.rejected.find("DestinationRule/" + key); r != snapshot.rejected.end())
      b.errors.push_back("rejected (the last good version applies): " + r->second.error);
    for (const auto& f : dr.not_applied) b.errors.push_back(f + ": not applied by waypoints");
    waypointItem(dr.meta, "DestinationRule", json::object(), b);
  }
  for (const auto& [object_key, r] : snapshot.rejected) {
    if (r.object.kind != "DestinationRule" ||
        snapshot.destination_rules.contains(r.object.meta.namespace_ + "/" + r.object.meta.name))
      continue;
    waypointItem(r.object.meta, "DestinationRule", json::object(),
                 PolicyBinding{{}, {"rejected: " + r.error}});
  }
  const bool any_pa = !snapshot.peer_authentications.empty();
  for (const auto& [key, pa] : snapshot.peer_authentications) {
    std::optional<istio::security::Authorization> az;
    if (pa.selector && !pa.selector->empty()) {
      az = translatePeerAuthentication(
          pa, namespacePeerAuthenticationMode(snapshot, pa.meta.namespace_, ctx.root_namespace));
    } else if (any_pa && pa.mode == "STRICT") {
      // Namespace/mesh level: workloads bind the one static STRICT policy instead.
      az = staticStrictPolicy(ctx.root_namespace);
    }
    items.push_back({
        {"name", pa.meta.name},
        {"namespace", pa.meta.namespace_},
        {"kind", "PeerAuthentication"},
        {"scope", scopeOf(pa.selector, pa.meta.namespace_, ctx.root_namespace)},
        {"action", az ? actionName(az->action()) : ""},
        {"mode", pa.mode},
        {"selector", pa.selector ? labelsJson(*pa.selector) : json::object()},
        {"rules", az ? rulesJson(*az) : json::array()},
        {"translated", az ? az->namespace_() + "/" + az->name() : ""},
    });
  }
  return items;
}

}  // namespace warren::agent::admin
