// AuthorizationPolicy and PeerAuthentication to istio.security.Authorization, with Istio's
// semantics for node proxies. Pure functions; table-tested in tests/agent/.
//
// Scope: a policy without selector in the root namespace (warren-system) is GLOBAL; without
// selector elsewhere NAMESPACE; with a selector WORKLOAD_SELECTOR, bound through the matching
// workloads' `authorization_policies` (in any namespace when the policy is in the root one).
//
// Rules: one Group per rule; `from`, `to` and each `when` become one Rules each (AND-ed),
// their entries Matches (OR-ed). Only L4 attributes reach ztunnel. An ALLOW rule that needs
// L7 attributes is dropped (it can never match at L4, so access is never widened); a DENY rule
// keeps its L4 part (denying more, never less). Both are reported in `notes`.
//
// PeerAuthentication: STRICT becomes DENY `notPrincipals: presence`, with port-level
// PERMISSIVE/DISABLE exceptions AND-ed as `notDestinationPorts` (the OR-ed form was
// istio/ztunnel#792); a PERMISSIVE base with STRICT ports denies plaintext on those ports only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "istio/security/authorization.pb.h"

namespace warren::agent {

inline constexpr const char* kRootNamespace = "warren-system";
// Listed by workloads whose effective mTLS mode (namespace or mesh PeerAuthentication) is STRICT.
inline constexpr const char* kStaticStrictPolicyName = "istio_converted_static_strict";
// "istio_allow_waypoint_<ns>_<name>": the implicit ALLOW of a waypoint's identity (Istio's name;
// '_' cannot occur in a Kubernetes name, so it never collides with a user's policy).
inline constexpr const char* kImplicitWaypointPolicyPrefix = "istio_allow_waypoint_";

struct AuthorizationTranslation {
  std::optional<istio::security::Authorization> policy;  // nullopt: nothing for ztunnel
  std::vector<std::string> notes;                        // what was not translated, and why
  // Errors on the policy (the admin API's `errors`, logged at warn): L7 fields in a policy
  // node proxies enforce (selector or namespace scope, no waypoint in between), CUSTOM.
  std::vector<std::string> errors;
};

AuthorizationTranslation translateAuthorizationPolicy(const AuthorizationPolicy& policy,
                                                      const std::string& root_namespace);

// The effective mode of a PeerAuthentication's base (`UNSET` resolved against the namespace
// and mesh policies) is passed in as `inherited_mode`.
std::optional<istio::security::Authorization> translatePeerAuthentication(
    const PeerAuthentication& pa, const std::string& inherited_mode);

istio::security::Authorization staticStrictPolicy(const std::string& root_namespace);

// Effective namespace-level mode for `ns`: the namespace PeerAuthentication (no selector),
// else the root namespace's, else PERMISSIVE.
std::string namespacePeerAuthenticationMode(const ClusterSnapshot& snapshot, const std::string& ns,
                                            const std::string& root_namespace);

// "ns/name" of every WORKLOAD_SELECTOR Authorization that applies to `pod`: selector
// AuthorizationPolicies, converted selector PeerAuthentications, and the static STRICT policy.
std::vector<std::string> workloadPolicyNames(const ClusterSnapshot& snapshot, const k8s::Pod& pod,
                                             const std::string& root_namespace);

// The waypoint's implicit ALLOW: an ALLOW policy (WORKLOAD_SELECTOR scope, in the waypoint's
// namespace) matching the principals of the waypoint's pods (their service accounts; the
// controller's ServiceAccount, named after the Gateway, while it has none), so the destination
// ztunnel lets the waypoint through on behalf of the clients it already authorized.
//
// Binding (workloadPolicyNames): a workload lists it only when the waypoint fronts it (its own
// workload waypoint, or the waypoint of a Service selecting it) AND at least one ALLOW policy
// already applies to it. Without ALLOW policies a workload admits everyone and needs nothing;
// with them, the waypoint would otherwise be refused. DENY policies are evaluated first, so a
// DENY naming the waypoint still denies it. Istio (PILOT_AUTO_ALLOW_WAYPOINT_POLICY, off by
// default) binds it to every fronted workload unconditionally, which turns a workload without
// ALLOW policies into waypoint-only; Warren leaves that choice to an explicit policy.
istio::security::Authorization implicitWaypointPolicy(const ClusterSnapshot& snapshot,
                                                      const Gateway& waypoint,
                                                      const std::string& trust_domain);
std::string implicitWaypointPolicyName(const Gateway& waypoint);

// "*" -> presence, "a*" -> prefix, "*a" -> suffix, else exact (Istio's string match rules).
istio::security::StringMatch stringMatch(const std::string& value);

}  // namespace warren::agent
