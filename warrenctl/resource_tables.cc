#include "warrenctl/resource_tables.h"

#include <cmath>

#include "warrenctl/table_renderer.h"
#include "warrenctl/yaml_renderer.h"

namespace warren::ctl {
namespace {

using nlohmann::json;

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// A scalar as text; arrays of scalars joined with ","; "-" for null, empty or objects.
std::string text(const json& v) {
  switch (v.type()) {
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      return s.empty() ? "-" : s;
    }
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float:
      return v.dump();
    case json::value_t::array: {
      std::string out;
      for (const auto& e : v) {
        if (e.is_structured()) continue;
        if (!out.empty()) out += ",";
        out += text(e);
      }
      return out.empty() ? "-" : out;
    }
    default:
      return "-";
  }
}

std::string text(const json& j, const char* key) { return text(field(j, key)); }

// "namespace/name", or whichever half is known.
std::string nsName(const json& j, const char* name_key = "name") {
  std::string ns = text(j, "namespace"), name = text(j, name_key);
  if (ns == "-") return name;
  if (name == "-") return ns + "/-";
  return ns + "/" + name;
}

const json& items(const json& doc) {
  static const json kEmpty = json::array();
  const json& it = field(doc, "items");
  return it.is_array() ? it : kEmpty;
}

std::string noneFound(const char* what) { return std::string("No ") + what + " found."; }

std::string workloadsTable(const json& doc) {
  Table t{{"NAMESPACE", "NAME", "NODE", "ADDRESSES", "IDENTITY", "PROTOCOL", "ENROLLED", "WAYPOINT",
           "STATUS"},
          {}};
  for (const auto& w : items(doc))
    t.rows.push_back({text(w, "namespace"), text(w, "name"), text(w, "node"), text(w, "addresses"),
                      text(w, "identity"), text(w, "protocol"), text(w, "enrolled"),
                      text(w, "waypoint"), text(w, "status")});
  return renderTable(t, noneFound("workloads"));
}

std::string servicesTable(const json& doc) {
  Table t{{"NAMESPACE", "NAME", "HOSTNAME", "VIPS", "PORTS", "ENDPOINTS", "WAYPOINT"}, {}};
  for (const auto& s : items(doc)) {
    std::string ports;
    if (field(s, "ports").is_array())
      for (const auto& p : field(s, "ports")) {
        if (!ports.empty()) ports += ",";
        ports += text(p, "port");
        std::string target = text(p, "target_port");
        if (target != "-" && target != text(p, "port")) ports += "->" + target;
        std::string proto = text(p, "protocol");
        if (proto != "-") ports += "/" + proto;
      }
    std::string endpoints = "-";
    if (field(s, "endpoints").is_array()) {
      size_t total = field(s, "endpoints").size(), healthy = 0;
      for (const auto& e : field(s, "endpoints"))
        if (!field(e, "healthy").is_boolean() || field(e, "healthy").get<bool>()) ++healthy;
      endpoints = std::to_string(healthy) + "/" + std::to_string(total);
    }
    t.rows.push_back({text(s, "namespace"), text(s, "name"), text(s, "hostname"), text(s, "vips"),
                      ports.empty() ? "-" : ports, endpoints, text(s, "waypoint")});
  }
  return renderTable(t, noneFound("services"));
}

std::string selectorText(const json& sel) {
  if (!sel.is_object() || sel.empty()) return "-";
  std::string out;
  for (const auto& [k, v] : sel.items()) {
    if (!out.empty()) out += ",";
    out += k + "=" + text(v);
  }
  return out;
}

std::string policiesTable(const json& doc) {
  Table t{{"NAMESPACE", "NAME", "KIND", "SCOPE", "ACTION", "MODE", "SELECTOR", "RULES"}, {}};
  for (const auto& p : items(doc)) {
    std::string rules =
        field(p, "rules").is_array() ? std::to_string(field(p, "rules").size()) : text(p, "rules");
    t.rows.push_back({text(p, "namespace"), text(p, "name"), text(p, "kind"), text(p, "scope"),
                      text(p, "action"), text(p, "mode"), selectorText(field(p, "selector")),
                      rules});
  }
  return renderTable(t, noneFound("policies"));
}

std::string certificatesTable(const json& doc) {
  Table t{{"IDENTITY", "STATE", "SERIAL", "NOT-BEFORE", "NOT-AFTER", "NEXT-REFRESH", "CHAIN"}, {}};
  for (const auto& c : items(doc)) {
    std::string chain =
        field(c, "chain").is_array() ? std::to_string(field(c, "chain").size()) : "-";
    std::string state = text(c, "state");
    std::string err = text(c, "last_error");
    if (err != "-") state += " (" + err + ")";
    t.rows.push_back({text(c, "identity"), state, text(c, "serial"), text(c, "not_before"),
                      text(c, "not_after"), text(c, "next_refresh"), chain});
  }
  return renderTable(t, noneFound("certificates"));
}

std::string connectionsTable(const json& doc) {
  Table t{{"DIRECTION", "SOURCE", "SOURCE-ADDR", "DESTINATION", "DEST-ADDR", "SOURCE-IDENTITY",
           "DEST-IDENTITY", "SENT", "RECV", "AGE", "POLICY", "WORKER"},
          {}};
  for (const auto& c : items(doc)) {
    const json& src = field(c, "source");
    const json& dst = field(c, "destination");
    std::string dst_name = nsName(dst, "workload");
    if (dst_name == "-" || dst_name == "-/-") dst_name = text(dst, "service");
    const json& pol = field(c, "policy");
    std::string policy = text(pol, "decision");
    if (text(pol, "policy") != "-") policy += " (" + text(pol, "policy") + ")";
    const json& age = field(c, "age_seconds");
    t.rows.push_back({text(c, "direction"), nsName(src, "workload"), text(src, "address"), dst_name,
                      text(dst, "address"), text(src, "identity"), text(dst, "identity"),
                      text(c, "bytes_sent"), text(c, "bytes_recv"),
                      age.is_number() ? formatAge(age.get<double>()) : "-", policy,
                      text(c, "worker")});
  }
  return renderTable(t, noneFound("connections"));
}

std::string redirectionTable(const json& doc) {
  std::string out;
  Table pods{{"NAMESPACE", "POD", "NETNS-COOKIE", "NETNS", "STATE"}, {}};
  for (const auto& p : items(doc))
    pods.rows.push_back({text(p, "namespace"), text(p, "pod"), text(p, "netns_cookie"),
                         text(p, "netns"), text(p, "state")});
  out += "ENROLLED PODS (pin dir " + text(doc, "pin_dir") + ")\n";
  out += renderTable(pods, "none");
  Table progs{{"PROGRAM", "ATTACH", "ID", "PINNED"}, {}};
  if (field(doc, "programs").is_array())
    for (const auto& p : field(doc, "programs"))
      progs.rows.push_back(
          {text(p, "name"), text(p, "attach_type"), text(p, "id"), text(p, "pin")});
  out += "\nPROGRAMS\n" + renderTable(progs, "none");
  Table links{{"LINK", "TYPE", "PROGRAM", "TARGET", "PINNED"}, {}};
  if (field(doc, "links").is_array())
    for (const auto& l : field(doc, "links"))
      links.rows.push_back(
          {text(l, "id"), text(l, "type"), text(l, "program"), text(l, "target"), text(l, "pin")});
  out += "\nLINKS\n" + renderTable(links, "none");
  Table counters{{"COUNTER", "VALUE"}, {}};
  if (field(doc, "counters").is_object())
    for (const auto& [k, v] : field(doc, "counters").items()) counters.rows.push_back({k, text(v)});
  out += "\nCOUNTERS (summed over CPUs)\n" + renderTable(counters, "none");
  if (const json& r = field(doc, "pin_repairs"); r.is_object()) {
    out += "\nPIN REPAIRS: " + text(r, "repairs") + " repairs, " + text(r, "pins_restored") +
           " pins restored, " + text(r, "failures") + " failed passes";
    if (const json& e = field(r, "last_error");
        e.is_string() && !e.get_ref<const std::string&>().empty())
      out += " (last error: " + text(e) + ")";
    out += "\n";
  }
  return out;
}

std::string xdsTable(const json& doc) {
  Table t{{"SUBSCRIBER", "NODE", "CONNECTED", "TYPE", "SENT", "ACKED", "RESOURCES", "LAST-NACK"},
          {}};
  for (const auto& s : items(doc)) {
    const json& subs = field(s, "subscriptions");
    if (!subs.is_array() || subs.empty()) {
      t.rows.push_back(
          {text(s, "id"), text(s, "node"), text(s, "connected_at"), "-", "-", "-", "-", "-"});
      continue;
    }
    for (const auto& sub : subs) {
      std::string type = text(sub, "type_url");
      if (auto slash = type.rfind('/'); slash != std::string::npos) type = type.substr(slash + 1);
      t.rows.push_back({text(s, "id"), text(s, "node"), text(s, "connected_at"), type,
                        text(sub, "sent_version"), text(sub, "acked_version"),
                        text(sub, "resources"), text(sub, "last_nack")});
    }
  }
  return renderTable(t, noneFound("xDS subscribers"));
}

std::string waypointsTable(const json& doc) {
  Table t{{"NAMESPACE", "NAME", "FOR", "ADDRESS", "ACCEPTED", "PROGRAMMED", "INSTANCES", "SERVICES",
           "WORKLOADS"},
          {}};
  for (const auto& w : items(doc)) {
    std::string instances;
    if (field(w, "instances").is_array())
      for (const auto& i : field(w, "instances"))
        instances += (instances.empty() ? "" : ",") + text(i, "pod") + "@" + text(i, "node");
    auto count = [&](const char* key) {
      return field(w, key).is_array() ? std::to_string(field(w, key).size()) : "-";
    };
    std::string accepted = text(w, "accepted");
    if (text(w, "error") != "-") accepted += " (invalid)";
    t.rows.push_back({text(w, "namespace"), text(w, "name"), text(w, "for"), text(w, "address"),
                      accepted, text(w, "programmed"), instances.empty() ? "-" : instances,
                      count("services"), count("workloads")});
  }
  std::string out = renderTable(t, noneFound("waypoints"));
  const json& c = field(doc, "controller");
  if (c.is_object())
    out += "controller on this agent: " +
           std::string(!field(c, "enabled").is_boolean() || !field(c, "enabled").get<bool>()
                           ? "off"
                           : (field(c, "leading").is_boolean() && field(c, "leading").get<bool>()
                                  ? "leading"
                                  : "standing by") +
                                 std::string(" (") + text(c, "identity") + ")") +
           "\n";
  return out;
}

// One line per match a waypoint tries, in order; a port without routes forwards to its Service.
std::string matchText(const json& m) {
  std::string out;
  const json& p = field(m, "path");
  std::string type = text(p, "type");
  out += (type == "-" ? "PATH_PREFIX" : type) + " " + text(p, "value");
  if (text(m, "method") != "-") out += " " + text(m, "method");
  for (const char* key : {"headers", "query_params"}) {
    if (!field(m, key).is_array()) continue;
    for (const auto& h : field(m, key))
      out += std::string(" ") + (std::string(key) == "headers" ? "header:" : "query:") +
             text(h, "name") + (text(h, "type") == "REGULAR_EXPRESSION" ? "~" : "=") +
             text(h, "value");
  }
  return out;
}

std::string backendsText(const json& rule) {
  std::string out;
  if (field(rule, "backends").is_array())
    for (const auto& b : field(rule, "backends")) {
      std::string svc = text(b, "service");
      if (auto dot = svc.find('.'); dot != std::string::npos) svc = svc.substr(0, dot);
      out += (out.empty() ? "" : ",") + svc + ":" + text(b, "port");
      std::string w = text(b, "weight");
      out += "*" + (w == "-" ? std::string("0") : w);
      if (text(b, "invalid") != "-") out += "!" + text(b, "invalid");
    }
  if (field(rule, "filters").is_array())
    for (const auto& f : field(rule, "filters"))
      if (f.is_object() && f.contains("request_redirect"))
        out += (out.empty() ? "" : ",") + std::string("redirect ") +
               text(field(f, "request_redirect"), "status_code");
  return out.empty() ? "-" : out;
}

std::string routesTable(const json& doc) {
  Table t{{"SERVICE", "WAYPOINT", "PORT", "PROTOCOL", "#", "MATCH", "ROUTE", "RULE", "BACKENDS"},
          {}};
  for (const auto& sr : items(doc)) {
    if (!field(sr, "ports").is_array()) continue;
    for (const auto& port : field(sr, "ports")) {
      std::string proto = text(port, "protocol");
      if (proto == "-") proto = "UNSPECIFIED";
      const json& matches = field(port, "matches");
      const json& rules = field(port, "rules");
      if (!matches.is_array() || matches.empty()) {
        t.rows.push_back({nsName(sr), text(sr, "waypoint"), text(port, "port"), proto, "-",
                          "(no routes: to the Service)", "-", "-", "-"});
        continue;
      }
      size_t n = 0;
      for (const auto& m : matches) {
        const json& rule_index = field(m, "rule");
        size_t ri = rule_index.is_number_unsigned() || rule_index.is_number_integer()
                        ? rule_index.get<size_t>()
                        : 0;
        json rule = rules.is_array() && ri < rules.size() ? rules[ri] : json();
        std::string route = text(rule, "route");
        std::string name = text(rule, "name");
        std::string index = text(rule, "index");
        t.rows.push_back({nsName(sr), text(sr, "waypoint"), text(port, "port"), proto,
                          std::to_string(++n), matchText(m), route,
                          name != "-" ? name : "rules[" + (index == "-" ? "0" : index) + "]",
                          backendsText(rule)});
      }
    }
  }
  return renderTable(t, noneFound("routes"));
}

std::string logTable(const json& doc) {
  Table t{{"COMPONENT", "LEVEL"}, {{text(doc, "component"), text(doc, "level")}}};
  return renderTable(t);
}

// Either one component's version or {"client": {...}, "server": {...}} (warrenctl version).
std::string versionTable(const json& doc) {
  Table t{{"COMPONENT", "VERSION", "GIT-COMMIT"}, {}};
  auto row = [&](const json& v) {
    t.rows.push_back({text(v, "component"), text(v, "version"), text(v, "git_commit")});
  };
  if (field(doc, "client").is_object() || field(doc, "server").is_object()) {
    if (field(doc, "client").is_object()) row(field(doc, "client"));
    if (field(doc, "server").is_object()) row(field(doc, "server"));
  } else {
    row(doc);
  }
  return renderTable(t);
}

}  // namespace

std::string renderWaypointStatus(const json& doc, const std::string& name) {
  Table t{{"NAMESPACE", "NAME", "CONDITION", "STATUS", "REASON", "MESSAGE"}, {}};
  for (const auto& w : items(doc)) {
    if (!name.empty() && text(w, "name") != name) continue;
    const json& conditions = field(w, "conditions");
    if (conditions.is_array())
      for (const auto& c : conditions)
        t.rows.push_back({text(w, "namespace"), text(w, "name"), text(c, "type"), text(c, "status"),
                          text(c, "reason"), text(c, "message")});
    if (conditions.is_array() && !conditions.empty()) continue;
    // No status written yet: what the agent itself knows.
    t.rows.push_back({text(w, "namespace"), text(w, "name"), "-", "Unknown", "-",
                      text(w, "error") != "-"
                          ? text(w, "error")
                          : "no status yet (is a warren-agent running with --controller?)"});
  }
  std::string out = renderTable(t, noneFound("waypoints"));
  // Who uses each waypoint (the agent resolves the use-waypoint labels), as istioctl's status
  // lists what is enrolled.
  for (const auto& w : items(doc)) {
    if (!name.empty() && text(w, "name") != name) continue;
    for (const char* key : {"services", "workloads"}) {
      std::string names;
      if (field(w, key).is_array())
        for (const auto& n : field(w, key))
          names += (names.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : "-");
      out += text(w, "namespace") + "/" + text(w, "name") + " " + key + ": " +
             (names.empty() ? "none" : names) + "\n";
    }
  }
  return out;
}

std::string formatAge(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  auto s = static_cast<uint64_t>(seconds);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

std::string renderResourceTable(ResourceKind kind, const json& doc) {
  switch (kind) {
    case ResourceKind::kWorkloads:
      return workloadsTable(doc);
    case ResourceKind::kServices:
      return servicesTable(doc);
    case ResourceKind::kPolicies:
      return policiesTable(doc);
    case ResourceKind::kCertificates:
      return certificatesTable(doc);
    case ResourceKind::kConnections:
      return connectionsTable(doc);
    case ResourceKind::kRedirection:
      return redirectionTable(doc);
    case ResourceKind::kXdsSubscribers:
      return xdsTable(doc);
    case ResourceKind::kWaypoints:
      return waypointsTable(doc);
    case ResourceKind::kRoutes:
      return routesTable(doc);
    case ResourceKind::kLog:
      return logTable(doc);
    case ResourceKind::kVersion:
      return versionTable(doc);
    case ResourceKind::kConfigDump:
      break;
  }
  // config_dump is a nested document with no natural columns: its table form is the YAML.
  return renderYaml(doc);
}

}  // namespace warren::ctl
