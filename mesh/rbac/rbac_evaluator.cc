#include "mesh/rbac/rbac_evaluator.h"

#include <algorithm>

namespace warren::mesh {

namespace {

// Positive values: any must hold (none declared: true). Negative: none may hold.
template <class T, class Pred>
bool kindMatches(const std::vector<T>& positive, const std::vector<T>& negative, Pred pred) {
  if (!positive.empty() && std::none_of(positive.begin(), positive.end(), pred)) return false;
  if (!negative.empty() && std::any_of(negative.begin(), negative.end(), pred)) return false;
  return true;
}

bool matchHolds(const AuthorizationMatch& m, const PreparedConnection& pc) {
  const ConnectionContext& c = pc.conn();
  return kindMatches(m.destination_ports, m.not_destination_ports,
                     [&](uint16_t p) { return p == c.destination_port; }) &&
         kindMatches(m.destination_ips, m.not_destination_ips,
                     [&](const net::IpCidr& n) { return n.contains(c.destination_ip); }) &&
         kindMatches(m.source_ips, m.not_source_ips,
                     [&](const net::IpCidr& n) { return n.contains(c.source_ip); }) &&
         kindMatches(m.service_accounts, m.not_service_accounts,
                     [&](const ServiceAccountMatch& sa) {
                       return c.source_identity && c.source_identity->ns() == sa.namespace_ &&
                              c.source_identity->serviceAccount() == sa.service_account;
                     }) &&
         // No identity: ztunnel's principal check fails to strip "spiffe://" and is false
         // for every matcher, presence included.
         kindMatches(m.principals, m.not_principals,
                     [&](const StringMatch& s) {
                       return c.source_identity && s.matches(pc.principal());
                     }) &&
         kindMatches(m.namespaces, m.not_namespaces,
                     [&](const StringMatch& s) { return s.matches(pc.sourceNamespace()); });
}

bool ruleHolds(const AuthorizationRule& rule, const PreparedConnection& pc) {
  if (rule.matches.empty()) return true;
  for (const auto& m : rule.matches) {
    if (m.empty()) continue;  // istio/istio#61126
    if (matchHolds(m, pc)) return true;
  }
  return false;
}

const Authorization* firstMatch(std::initializer_list<const std::vector<const Authorization*>*>
                                    lists,
                                const PreparedConnection& pc) {
  for (const auto* list : lists) {
    if (!list) continue;
    for (const Authorization* p : *list) {
      if (policyMatches(*p, pc)) return p;
    }
  }
  return nullptr;
}

}  // namespace

PreparedConnection::PreparedConnection(const ConnectionContext& conn) : conn_(conn) {
  if (conn.source_identity) {
    principal_ = conn.source_identity->principal();
    namespace_ = conn.source_identity->ns();
  }
}

bool policyMatches(const Authorization& policy, const PreparedConnection& conn) {
  for (const auto& group : policy.groups) {
    bool all = true;
    for (const auto& rule : group.rules) {
      if (!ruleHolds(rule, conn)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;  // includes "no groups"
}

const char* toString(RbacDecision::Reason r) {
  switch (r) {
    case RbacDecision::Reason::kNoAllowPolicies: return "no_allow_policies";
    case RbacDecision::Reason::kAllowMatched: return "allow_matched";
    case RbacDecision::Reason::kDenyMatched: return "deny_matched";
    case RbacDecision::Reason::kNoAllowMatched: return "no_allow_matched";
  }
  return "?";
}

nlohmann::json RbacDecision::toJson() const {
  nlohmann::json j = {{"allowed", allowed}, {"reason", toString(reason)},
                      {"policy", policy ? nlohmann::json(policy->key()) : nullptr}};
  if (dry_run) {
    j["dryRun"] = {{"allowed", dry_run->allowed},
                   {"reason", toString(dry_run->reason)},
                   {"policy", dry_run->policy ? nlohmann::json(dry_run->policy->key())
                                              : nullptr}};
  }
  return j;
}

RbacDecision evaluateRbac(const WorkloadPolicies& policies, const ConnectionContext& conn) {
  PreparedConnection pc(conn);
  const PolicyList* lists[] = {policies.global, policies.namespace_scoped, policies.selected};
  auto deny = [&](const PolicyList* l) { return l ? &l->deny : nullptr; };
  auto allow = [&](const PolicyList* l) { return l ? &l->allow : nullptr; };

  RbacDecision d;
  if (const Authorization* p =
          firstMatch({deny(lists[0]), deny(lists[1]), deny(lists[2])}, pc)) {
    d.allowed = false;
    d.reason = RbacDecision::Reason::kDenyMatched;
    d.policy = p;
  } else {
    bool any_allow = std::any_of(std::begin(lists), std::end(lists),
                                 [](const PolicyList* l) { return l && !l->allow.empty(); });
    if (any_allow) {
      d.policy = firstMatch({allow(lists[0]), allow(lists[1]), allow(lists[2])}, pc);
      d.allowed = d.policy != nullptr;
      d.reason = d.allowed ? RbacDecision::Reason::kAllowMatched
                           : RbacDecision::Reason::kNoAllowMatched;
    }
  }

  // Shadow evaluation with the dry-run policies counted as enforced.
  bool any_dry = std::any_of(std::begin(lists), std::end(lists),
                             [](const PolicyList* l) { return l && !l->dry_run.empty(); });
  if (!any_dry) return d;
  RbacDecision::Shadow s{d.allowed, d.reason, d.policy};
  const Authorization* dry_deny = nullptr;
  bool dry_allow_exists = false;
  const Authorization* dry_allow = nullptr;
  for (const PolicyList* l : lists) {
    if (!l) continue;
    for (const Authorization* p : l->dry_run) {
      if (p->action == AuthorizationAction::kDeny) {
        if (!dry_deny && policyMatches(*p, pc)) dry_deny = p;
      } else {
        dry_allow_exists = true;
        if (!dry_allow && policyMatches(*p, pc)) dry_allow = p;
      }
    }
  }
  if (d.reason == RbacDecision::Reason::kDenyMatched) {
    // Already denied by an enforced policy; dry-run cannot change that.
  } else if (dry_deny) {
    s = {false, RbacDecision::Reason::kDenyMatched, dry_deny};
  } else if (d.reason == RbacDecision::Reason::kAllowMatched) {
    // Allowed by an enforced ALLOW: stays allowed.
  } else if (dry_allow) {
    s = {true, RbacDecision::Reason::kAllowMatched, dry_allow};
  } else if (dry_allow_exists) {
    s = {false, RbacDecision::Reason::kNoAllowMatched, nullptr};
  }
  d.dry_run = s;
  return d;
}

}  // namespace warren::mesh
