// Typed views of the Istio security kinds the agent reads: AuthorizationPolicy,
// PeerAuthentication and RequestAuthentication (`security.istio.io/v1`, and the same schema under
// `warren.dev/v1alpha1`). Decoders keep every field Istio defines for L4 and L7 rules so the
// translation can tell an L7-only rule apart instead of silently dropping it; they reject
// wrong types and unknown enum values, naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/k8s/object.h"

namespace warren::agent {

bool isSecurityApiVersion(const std::string& api_version);

struct AuthzSource {
  std::vector<std::string> principals, not_principals;
  std::vector<std::string> request_principals, not_request_principals;  // L7 (JWT)
  std::vector<std::string> namespaces, not_namespaces;
  std::vector<std::string> ip_blocks, not_ip_blocks;
  std::vector<std::string> remote_ip_blocks, not_remote_ip_blocks;  // L7 (X-Forwarded-For)
  std::vector<std::string> service_accounts, not_service_accounts;  // "ns/sa" or "sa"
};

struct AuthzOperation {
  std::vector<std::string> ports, not_ports;
  std::vector<std::string> hosts, not_hosts;      // L7
  std::vector<std::string> methods, not_methods;  // L7
  std::vector<std::string> paths, not_paths;      // L7
};

struct AuthzCondition {
  std::string key;
  std::vector<std::string> values, not_values;
};

struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;
};

// spec.targetRef / spec.targetRefs (PolicyTargetReference): what a waypoint-bound policy
// attaches to. `group` "" is the core group.
struct PolicyTargetRef {
  std::string group;
  std::string kind;  // Gateway, GatewayClass, Service (others are reported, never matched)
  std::string name;
  std::string namespace_;  // "" = the policy's own
};

// spec.targetRef and spec.targetRefs, appended to `out`; every policy kind with targetRefs
// reads them this way.
Status readTargetRefs(const k8s::Fields& spec, std::vector<PolicyTargetRef>& out);

struct AuthorizationPolicy {
  k8s::ObjectMeta meta;
  std::optional<k8s::Labels> selector;  // spec.selector.matchLabels; nullopt = whole namespace
  std::string action = "ALLOW";         // ALLOW, DENY, AUDIT, CUSTOM
  std::vector<AuthzRule> rules;
  bool has_rules_field = false;  // `rules: []` / absent differ from a rule list
  bool dry_run = false;          // annotation istio.io/dry-run
  // targetRef(s): waypoint-bound, not for ztunnel. An empty `targetRefs: []` binds nothing, as
  // an unset repeated field in Istio's proto: the policy is then namespace/selector-wide.
  std::vector<PolicyTargetRef> target_refs;
  std::string provider;  // CUSTOM: spec.provider.name

  bool boundByTargetRefs() const { return !target_refs.empty(); }
};

// RequestAuthentication (security.istio.io/v1): JWT rules, enforced by waypoints only.
struct JwtRuleSpec {
  std::string issuer;
  std::vector<std::string> audiences;
  std::string jwks;                                               // inline JSON
  std::string jwks_uri;                                           // fetched by the waypoint
  std::vector<std::pair<std::string, std::string>> from_headers;  // name, prefix
  std::vector<std::string> from_params, from_cookies;
  bool forward_original_token = false;
  std::vector<std::pair<std::string, std::string>> output_claim_to_headers;  // header, claim
  std::string output_payload_to_header;
};

struct RequestAuthentication {
  k8s::ObjectMeta meta;
  std::optional<k8s::Labels> selector;
  std::vector<PolicyTargetRef> target_refs;
  std::vector<JwtRuleSpec> jwt_rules;
};

struct PeerAuthentication {
  k8s::ObjectMeta meta;
  std::optional<k8s::Labels> selector;
  std::string mode = "UNSET";                  // UNSET, DISABLE, PERMISSIVE, STRICT
  std::map<uint16_t, std::string> port_modes;  // spec.portLevelMtls
};

Result<AuthorizationPolicy> decodeAuthorizationPolicy(const k8s::Object& obj);
Result<PeerAuthentication> decodePeerAuthentication(const k8s::Object& obj);
Result<RequestAuthentication> decodeRequestAuthentication(const k8s::Object& obj);

}  // namespace warren::agent
