// Istio's security.istio.io/v1 AuthorizationPolicy as it applies at a waypoint, as plain C++
// values holding the API's own strings (security/v1beta1/authorization.proto): the control
// plane copies fields across, and L7PolicySet::compile (l7_policy_set.h) parses and checks
// them, so every syntax rule lives in one place.
#pragma once

#include <string>
#include <vector>

#include "waypoint/route/route_model.h"

namespace warren::waypoint {

// AuthorizationPolicy.action. AUDIT marks matching requests for the access log, never denies.
// CUSTOM (ext_authz) is not supported: see l7_policy_set.h for how it fails closed.
enum class AuthzAction { kAllow, kDeny, kAudit, kCustom };

// Rule.From.source (Source). Values use Istio's string syntax (string_matcher.h).
struct AuthzSource {
  std::vector<std::string> principals, not_principals;                  // "td/ns/x/sa/y"
  std::vector<std::string> request_principals, not_request_principals;  // "iss/sub"
  std::vector<std::string> namespaces, not_namespaces;
  std::vector<std::string> ip_blocks, not_ip_blocks;                // source.ip
  std::vector<std::string> remote_ip_blocks, not_remote_ip_blocks;  // remote.ip
};

// Rule.To.operation (Operation).
struct AuthzOperation {
  std::vector<std::string> hosts, not_hosts;      // :authority, case-insensitive, port kept
  std::vector<std::string> ports, not_ports;      // destination port, decimal
  std::vector<std::string> methods, not_methods;  // :method
  std::vector<std::string> paths, not_paths;      // normalized path (no query); "{*}"/"{**}"
};

// Condition: key is an Istio attribute ("request.headers[x-user]", "source.ip",
// "request.auth.claims[groups]"...).
struct AuthzCondition {
  std::string key;
  std::vector<std::string> values, not_values;
};

// Rule: matches when any `from` and any `to` and every `when` hold; an absent list holds.
struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;
};

// What the policy governs at this waypoint, as the control plane resolved its targetRefs:
// everything through the waypoint (targetRef to the Gateway, or a namespace-wide policy Istio
// applies to the waypoint) or the traffic to one Service (targetRef to a Service).
struct AuthzTarget {
  enum class Kind { kWaypoint, kService };
  Kind kind = Kind::kWaypoint;
  ServiceKey service;  // kService only
};

struct AuthzPolicy {
  std::string namespace_;
  std::string name;
  AuthzAction action = AuthzAction::kAllow;
  std::string provider;  // CUSTOM: spec.provider.name
  bool dry_run = false;  // annotation istio.io/dry-run: "true"
  // spec.rules. Empty: an ALLOW policy allows nothing, a DENY/AUDIT policy matches nothing
  // (istiod generates "match never" for it), `[{}]` matches everything.
  std::vector<AuthzRule> rules;
  std::vector<AuthzTarget> targets;  // empty: the whole waypoint
};

}  // namespace warren::waypoint
