// PolicyConfig: what the waypoint authorizes and authenticates by, rebuilt on every
// warren.l7.v1.WaypointPolicy push (proto/warren/l7/v1/policy.proto) and every JWKS fetch.
// The agent sends one resource per AuthorizationPolicy / RequestAuthentication bound to this
// waypoint, with its targets resolved (the whole waypoint, or Services); this turns them into
// waypoint/authz's AuthzPolicy and waypoint/jwt's JwtRule values and compiles them. A policy
// compile() refuses a value of is reported (diagnostics: logged, in /policies) and fails
// closed as waypoint/authz/l7_policy_set.h says; the others apply.
//
// TrafficPolicy (warren.dev/v1alpha1): its rate limit and fault as waypoint/resilience's
// TrafficRule, one per target; a request to Service S gets the rules bound to S, then the
// waypoint-wide ones. A bad value (which the agent's decoder should have refused) is reported
// and that part of the policy skipped; the rest applies.
//
// DestinationRule (networking.istio.io, bound by the agent to the Service its host names): one
// per Service (two for one Service: the first by resource name applies, the other is reported),
// its outlier detection and request limit (destination_policy.h, applied by DestinationControl).
//
// JWT rules: a request to Service S is checked against the rules of every RequestAuthentication
// bound to the whole waypoint plus those bound to S, in resource-name order (Envoy's
// requires_any over the providers, as istiod merges them). Key sets come inline (`jwks`,
// parsed here) or from `jwksUri` (fetched by JwksFetcher, handed in as `fetched`); a rule whose
// keys are not there (not fetched yet, fetch failed, bad JSON) fails every token (401).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "warren/l7/v1/policy.pb.h"
#include "waypoint/authz/l7_policy_set.h"
#include "waypoint/jwt/request_authenticator.h"
#include "waypoint/proxy/destination_policy.h"
#include "waypoint/resilience/traffic_policy.h"

namespace warren::waypoint {

inline constexpr std::string_view kWaypointPolicyTypeUrl =
    "type.googleapis.com/warren.l7.v1.WaypointPolicy";

// jwksUri -> the key set last fetched from it.
using FetchedJwks = std::map<std::string, std::shared_ptr<const Jwks>>;

class PolicyConfig {
 public:
  // `resources`: resource name -> WaypointPolicy, every one held now.
  static std::shared_ptr<const PolicyConfig> build(
      const std::map<std::string, l7::v1::WaypointPolicy>& resources, const FetchedJwks& fetched,
      uint64_t version);

  const L7PolicySet& authz() const { return *authz_; }
  // The JWT rules for a request to `service` (null: not a Service): waypoint-wide ones first.
  const std::vector<JwtRule>& jwtRules(const ServiceKey* service) const;
  // Whether any authorization or authentication applies (none: every request is admitted).
  bool empty() const { return empty_; }
  // The TrafficPolicy rules for a request to `service` (null: not a Service): the Service's,
  // then the waypoint-wide ones.
  const std::vector<TrafficRule>& trafficRules(const ServiceKey* service) const;
  // The DestinationRule settings for `service` (null: none).
  const DestinationSettings* destination(const ServiceKey& service) const;
  // Every jwksUri the rules name (what JwksFetcher keeps fresh).
  const std::set<std::string>& jwksUris() const { return jwks_uris_; }
  const std::vector<std::string>& diagnostics() const { return diagnostics_; }
  uint64_t version() const { return version_; }
  // /policies and /config_dump "policies": policies, JWT rules (keys held), diagnostics.
  nlohmann::json toJson() const;

 private:
  uint64_t version_ = 0;
  bool empty_ = true;
  std::shared_ptr<const L7PolicySet> authz_;
  std::vector<JwtRule> waypoint_rules_;
  std::map<ServiceKey, std::vector<JwtRule>> service_rules_;  // waypoint-wide ones included
  std::set<std::string> jwks_uris_;
  std::vector<TrafficRule> waypoint_traffic_;
  std::map<ServiceKey, std::vector<TrafficRule>> service_traffic_;  // waypoint-wide ones after
  std::map<ServiceKey, DestinationSettings> destinations_;
  std::vector<std::string> diagnostics_;
  nlohmann::json dump_;
};

// The proto's TrafficPolicy as rules for `target` ("waypoint", "Service ns/name"); what is out
// of range goes to `diagnostics` and is left out (pure; exposed for tests).
TrafficRule trafficRuleOf(const l7::v1::TrafficPolicy& p, const std::string& target,
                          std::vector<std::string>& diagnostics);

// The proto's AuthorizationPolicy as waypoint/authz's value (pure; exposed for tests).
AuthzPolicy authzPolicyOf(const l7::v1::AuthorizationPolicy& p);

}  // namespace warren::waypoint
