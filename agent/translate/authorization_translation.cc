#include "agent/translate/authorization_translation.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "agent/translate/route_translation.h"
#include "agent/translate/workload_translation.h"
#include "common/net/ip_cidr.h"

namespace warren::agent {
namespace {

namespace sec = istio::security;

bool hasSelector(const std::optional<k8s::Labels>& s) { return s && !s->empty(); }

void addAddresses(const std::vector<std::string>& blocks,
                  google::protobuf::RepeatedPtrField<sec::Address>* out) {
  for (const std::string& b : blocks) {
    auto c = net::IpCidr::parse(b);
    if (!c) continue;  // validated when the policy was decoded
    auto* a = out->Add();
    a->set_address(c->address().wireBytes());
    a->set_length(c->prefixLength());
  }
}

void addPorts(const std::vector<std::string>& ports,
              google::protobuf::RepeatedField<uint32_t>* out) {
  for (const std::string& p : ports) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (ec == std::errc() && end == p.data() + p.size()) out->Add(n);
  }
}

void addStrings(const std::vector<std::string>& values,
                google::protobuf::RepeatedPtrField<sec::StringMatch>* out) {
  for (const std::string& v : values) *out->Add() = stringMatch(v);
}

void addServiceAccounts(const std::vector<std::string>& values, const std::string& policy_ns,
                        google::protobuf::RepeatedPtrField<sec::ServiceAccountMatch>* out) {
  for (const std::string& v : values) {
    auto* m = out->Add();
    auto slash = v.find('/');
    m->set_namespace_(slash == std::string::npos ? policy_ns : v.substr(0, slash));
    m->set_serviceaccount(slash == std::string::npos ? v : v.substr(slash + 1));
  }
}

// Builds the Rules of one rule; returns the names of L7 attributes it had to leave out.
std::vector<std::string> translateRule(const AuthzRule& rule, const std::string& policy_ns,
                                       sec::Group& group) {
  std::vector<std::string> l7;
  auto note = [&](bool present, const char* what) {
    if (present && std::find(l7.begin(), l7.end(), what) == l7.end()) l7.push_back(what);
  };
  if (!rule.from.empty()) {
    sec::Rules* rules = group.add_rules();
    for (const AuthzSource& s : rule.from) {
      sec::Match* m = rules->add_matches();
      addStrings(s.principals, m->mutable_principals());
      addStrings(s.not_principals, m->mutable_not_principals());
      addStrings(s.namespaces, m->mutable_namespaces());
      addStrings(s.not_namespaces, m->mutable_not_namespaces());
      addAddresses(s.ip_blocks, m->mutable_source_ips());
      addAddresses(s.not_ip_blocks, m->mutable_not_source_ips());
      addServiceAccounts(s.service_accounts, policy_ns, m->mutable_service_accounts());
      addServiceAccounts(s.not_service_accounts, policy_ns, m->mutable_not_service_accounts());
      note(!s.request_principals.empty() || !s.not_request_principals.empty(), "requestPrincipals");
      note(!s.remote_ip_blocks.empty() || !s.not_remote_ip_blocks.empty(), "remoteIpBlocks");
    }
  }
  if (!rule.to.empty()) {
    sec::Rules* rules = group.add_rules();
    for (const AuthzOperation& o : rule.to) {
      sec::Match* m = rules->add_matches();
      addPorts(o.ports, m->mutable_destination_ports());
      addPorts(o.not_ports, m->mutable_not_destination_ports());
      note(!o.hosts.empty() || !o.not_hosts.empty(), "hosts");
      note(!o.methods.empty() || !o.not_methods.empty(), "methods");
      note(!o.paths.empty() || !o.not_paths.empty(), "paths");
    }
  }
  for (const AuthzCondition& c : rule.when) {
    sec::Rules* rules = group.add_rules();
    sec::Match* m = rules->add_matches();
    if (c.key == "source.ip") {
      addAddresses(c.values, m->mutable_source_ips());
      addAddresses(c.not_values, m->mutable_not_source_ips());
    } else if (c.key == "source.namespace") {
      addStrings(c.values, m->mutable_namespaces());
      addStrings(c.not_values, m->mutable_not_namespaces());
    } else if (c.key == "source.principal") {
      addStrings(c.values, m->mutable_principals());
      addStrings(c.not_values, m->mutable_not_principals());
    } else if (c.key == "destination.ip") {
      addAddresses(c.values, m->mutable_destination_ips());
      addAddresses(c.not_values, m->mutable_not_destination_ips());
    } else if (c.key == "destination.port") {
      addPorts(c.values, m->mutable_destination_ports());
      addPorts(c.not_values, m->mutable_not_destination_ports());
    } else {
      // An L7 condition: leave no empty Rules behind (an empty Rules would match nothing
      // for ALLOW, which is right, but the rule is dropped for ALLOW anyway; for DENY the
      // condition is ignored).
      group.mutable_rules()->RemoveLast();
      note(true, "when");
    }
  }
  return l7;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

sec::StringMatch stringMatch(const std::string& value) {
  sec::StringMatch m;
  if (value == "*") {
    m.mutable_presence();
  } else if (value.size() > 1 && value.back() == '*') {
    m.set_prefix(value.substr(0, value.size() - 1));
  } else if (value.size() > 1 && value.front() == '*') {
    m.set_suffix(value.substr(1));
  } else {
    m.set_exact(value);
  }
  return m;
}

AuthorizationTranslation translateAuthorizationPolicy(const AuthorizationPolicy& p,
                                                      const std::string& root_namespace) {
  AuthorizationTranslation out;
  const std::string who = "AuthorizationPolicy " + p.meta.namespace_ + "/" + p.meta.name;
  if (p.boundByTargetRefs()) {
    out.notes.push_back(who + ": bound by targetRef(s) to a waypoint; not sent to node proxies");
    return out;
  }
  if (p.action == "CUSTOM") {
    out.errors.push_back(who + ": action CUSTOM (ext_authz provider '" + p.provider +
                         "') is not supported; attach it to a waypoint with targetRefs, where "
                         "it denies the requests its rules match (fail closed)");
    return out;
  }
  if (p.action != "ALLOW" && p.action != "DENY") {
    out.notes.push_back(who + ": action " + p.action + " is not enforced by node proxies");
    return out;
  }
  sec::Authorization az;
  az.set_name(p.meta.name);
  az.set_namespace_(p.meta.namespace_);
  az.set_action(p.action == "DENY" ? sec::DENY : sec::ALLOW);
  az.set_dry_run(p.dry_run);
  if (hasSelector(p.selector)) {
    az.set_scope(sec::WORKLOAD_SELECTOR);
  } else if (p.meta.namespace_ == root_namespace) {
    az.set_scope(sec::GLOBAL);
  } else {
    az.set_scope(sec::NAMESPACE);
  }
  for (size_t i = 0; i < p.rules.size(); ++i) {
    sec::Group group;
    std::vector<std::string> l7 = translateRule(p.rules[i], p.meta.namespace_, group);
    if (l7.empty()) {
      *az.add_groups() = std::move(group);
      continue;
    }
    const std::string where =
        who + ": rules[" + std::to_string(i) + "] uses L7 attributes (" + join(l7) + ")";
    // An error on the policy: ztunnel cannot see L7 fields, and a policy without targetRefs
    // is not a waypoint's (Istio: L7 rules need targetRefs to the waypoint or a Service).
    if (az.action() == sec::ALLOW) {
      // Dropped: at L4 it can never be satisfied, so it must not allow anything.
      out.errors.push_back(where +
                           " but is enforced by ztunnel: ALLOW rule dropped (allows nothing); "
                           "attach the policy to a waypoint with targetRefs");
    } else {
      out.errors.push_back(where +
                           " but is enforced by ztunnel: DENY enforced on its L4 attributes only "
                           "(fails closed, denies more); attach the policy to a waypoint with "
                           "targetRefs");
      *az.add_groups() = std::move(group);
    }
  }
  out.policy = std::move(az);
  return out;
}

std::optional<sec::Authorization> translatePeerAuthentication(const PeerAuthentication& pa,
                                                              const std::string& inherited_mode) {
  const std::string base = pa.mode == "UNSET" ? inherited_mode : pa.mode;
  std::vector<uint32_t> exceptions, strict_ports;
  for (const auto& [port, mode] : pa.port_modes) {
    if (mode == "STRICT") strict_ports.push_back(port);
    if (mode == "PERMISSIVE" || mode == "DISABLE") exceptions.push_back(port);
  }
  sec::Authorization az;
  az.set_name("converted_peer_authentication_" + pa.meta.name);
  az.set_namespace_(pa.meta.namespace_);
  az.set_scope(sec::WORKLOAD_SELECTOR);
  az.set_action(sec::DENY);
  sec::Group* g = az.add_groups();
  g->add_rules()->add_matches()->add_not_principals()->mutable_presence();
  if (base == "STRICT") {
    if (!exceptions.empty()) {
      // AND-ed with the principal check: plaintext is denied unless on an exception port.
      sec::Match* m = g->add_rules()->add_matches();
      for (uint32_t p : exceptions) m->add_not_destination_ports(p);
    }
    return az;
  }
  if (strict_ports.empty()) return std::nullopt;
  sec::Match* m = g->add_rules()->add_matches();
  for (uint32_t p : strict_ports) m->add_destination_ports(p);
  return az;
}

sec::Authorization staticStrictPolicy(const std::string& root_namespace) {
  sec::Authorization az;
  az.set_name(kStaticStrictPolicyName);
  az.set_namespace_(root_namespace);
  az.set_scope(sec::WORKLOAD_SELECTOR);
  az.set_action(sec::DENY);
  az.add_groups()->add_rules()->add_matches()->add_not_principals()->mutable_presence();
  return az;
}

std::string namespacePeerAuthenticationMode(const ClusterSnapshot& snap, const std::string& ns,
                                            const std::string& root_namespace) {
  auto level = [&](const std::string& in) -> std::string {
    for (const auto& [key, pa] : inNamespace(snap.peer_authentications, in)) {
      if (!hasSelector(pa.selector) && pa.mode != "UNSET") return pa.mode;
    }
    return "";
  };
  if (std::string m = level(ns); !m.empty()) return m;
  if (std::string m = level(root_namespace); !m.empty()) return m;
  return "PERMISSIVE";
}

std::string implicitWaypointPolicyName(const Gateway& waypoint) {
  return std::string(kImplicitWaypointPolicyPrefix) + waypoint.meta.namespace_ + "_" +
         waypoint.meta.name;
}

sec::Authorization implicitWaypointPolicy(const ClusterSnapshot& snap, const Gateway& waypoint,
                                          const std::string& trust_domain) {
  std::set<std::string> accounts;
  // A waypoint's pods are in its namespace (waypointGatewayOfPod looks there).
  for (const auto& [key, pod] : inNamespace(snap.pods, waypoint.meta.namespace_)) {
    const Gateway* g = waypointGatewayOfPod(snap, *pod);
    if (g && g->meta.namespace_ == waypoint.meta.namespace_ && g->meta.name == waypoint.meta.name)
      accounts.insert(pod->spec.service_account_name);
  }
  if (accounts.empty()) accounts.insert(waypoint.meta.name);  // the controller's ServiceAccount
  sec::Authorization az;
  az.set_name(implicitWaypointPolicyName(waypoint));
  az.set_namespace_(waypoint.meta.namespace_);
  az.set_scope(sec::WORKLOAD_SELECTOR);
  az.set_action(sec::ALLOW);
  sec::Match* m = az.add_groups()->add_rules()->add_matches();
  for (const std::string& sa : accounts)
    m->add_principals()->set_exact(trust_domain + "/ns/" + waypoint.meta.namespace_ + "/sa/" + sa);
  return az;
}

namespace {

// The AuthorizationPolicies that may apply to a pod of namespace `ns`: its namespace's and the
// root namespace's (mesh-wide), each range in key order.
auto policiesFor(const ClusterSnapshot& snap, const std::string& ns,
                 const std::string& root_namespace) {
  std::vector<decltype(inNamespace(snap.authorization_policies, ns))> ranges{
      inNamespace(snap.authorization_policies, ns)};
  if (root_namespace != ns)
    ranges.push_back(inNamespace(snap.authorization_policies, root_namespace));
  return ranges;
}

// Does any enforced ALLOW policy apply to `pod` (selector, its namespace, or mesh-wide)?
bool hasAllowPolicy(const ClusterSnapshot& snap, const k8s::Pod& pod,
                    const std::string& root_namespace) {
  for (auto policies : policiesFor(snap, pod.meta.namespace_, root_namespace)) {
    for (const auto& [key, ap] : policies) {
      if (ap.action != "ALLOW" || ap.boundByTargetRefs() || ap.dry_run) continue;
      if (!hasSelector(ap.selector) || k8s::selectorMatches(*ap.selector, pod.meta.labels))
        return true;
    }
  }
  return false;
}

// The waypoint Gateways in front of `pod`: its own workload waypoint and those of the Services
// selecting it.
std::vector<const Gateway*> frontingWaypoints(const ClusterSnapshot& snap, const k8s::Pod& pod) {
  std::vector<const Gateway*> out;
  auto add = [&](const std::string& ns, const std::string& name) {
    const Gateway* g = snap.waypointGateway(ns, name);
    if (g && std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  };
  if (auto ref = waypointReference(snap, pod.meta)) {
    const Gateway* g = snap.waypointGateway(ref->first, ref->second);
    if (g && g->acceptsWorkloadTraffic()) add(ref->first, ref->second);
  }
  for (const auto& [key, svc] : inNamespace(snap.services, pod.meta.namespace_)) {
    if (!k8s::selectorMatches(svc.selector, pod.meta.labels)) continue;
    std::string wp = serviceWaypoint(snap, svc);
    if (auto slash = wp.find('/'); slash != std::string::npos)
      add(wp.substr(0, slash), wp.substr(slash + 1));
  }
  return out;
}

}  // namespace

std::vector<std::string> workloadPolicyNames(const ClusterSnapshot& snap, const k8s::Pod& pod,
                                             const std::string& root_namespace) {
  std::vector<std::string> out;
  const std::string& ns = pod.meta.namespace_;
  for (auto policies : policiesFor(snap, ns, root_namespace)) {
    for (const auto& [key, ap] : policies) {
      if (!hasSelector(ap.selector) || ap.boundByTargetRefs()) continue;
      if (ap.action != "ALLOW" && ap.action != "DENY") continue;
      if (k8s::selectorMatches(*ap.selector, pod.meta.labels)) out.push_back(key);
    }
  }
  if (!waypointGatewayOfPod(snap, pod) && hasAllowPolicy(snap, pod, root_namespace)) {
    for (const Gateway* g : frontingWaypoints(snap, pod))
      out.push_back(g->meta.namespace_ + "/" + implicitWaypointPolicyName(*g));
  }
  // The workload's own PeerAuthentication (the first by name when several select it).
  const PeerAuthentication* own = nullptr;
  for (const auto& [key, pa] : inNamespace(snap.peer_authentications, ns)) {
    if (hasSelector(pa.selector) && k8s::selectorMatches(*pa.selector, pod.meta.labels)) {
      own = &pa;
      break;
    }
  }
  const std::string inherited = namespacePeerAuthenticationMode(snap, ns, root_namespace);
  if (own) {
    if (auto az = translatePeerAuthentication(*own, inherited))
      out.push_back(ns + "/" + az->name());
  } else if (inherited == "STRICT") {
    out.push_back(root_namespace + "/" + kStaticStrictPolicyName);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace warren::agent
