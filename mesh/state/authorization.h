// An L4 authorization policy as a mesh proxy receives it (istio.security.Authorization, INTEROP
// §11). Nesting: groups are OR-ed; a group's rules are AND-ed; a rule's matches are OR-ed; inside a
// match, field kinds are AND-ed and values of one kind are OR-ed. Evaluation: mesh/rbac/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/state/network_address.h"

namespace warren::mesh {

enum class AuthorizationScope { kGlobal, kNamespace, kWorkloadSelector };
enum class AuthorizationAction { kAllow, kDeny };

const char* toString(AuthorizationScope s);
const char* toString(AuthorizationAction a);

struct StringMatch {
  enum class Kind { kExact, kPrefix, kSuffix, kPresence };
  Kind kind = Kind::kExact;
  std::string value;

  // Presence means "non-empty".
  bool matches(std::string_view s) const;
  nlohmann::json toJson() const;
  static StringMatch exact(std::string v) { return {Kind::kExact, std::move(v)}; }
  static StringMatch prefix(std::string v) { return {Kind::kPrefix, std::move(v)}; }
  static StringMatch suffix(std::string v) { return {Kind::kSuffix, std::move(v)}; }
  static StringMatch presence() { return {Kind::kPresence, {}}; }
};

struct ServiceAccountMatch {
  std::string namespace_;
  std::string service_account;
};

struct AuthorizationMatch {
  std::vector<StringMatch> namespaces;
  std::vector<StringMatch> not_namespaces;
  // Written without "spiffe://", e.g. "cluster.local/ns/a/sa/b".
  std::vector<StringMatch> principals;
  std::vector<StringMatch> not_principals;
  std::vector<net::IpCidr> source_ips;
  std::vector<net::IpCidr> not_source_ips;
  std::vector<net::IpCidr> destination_ips;
  std::vector<net::IpCidr> not_destination_ips;
  std::vector<uint16_t> destination_ports;
  std::vector<uint16_t> not_destination_ports;
  std::vector<ServiceAccountMatch> service_accounts;
  std::vector<ServiceAccountMatch> not_service_accounts;

  // An empty match is what an L7-only rule becomes; ztunnel skips it (istio/istio#61126).
  bool empty() const;
  nlohmann::json toJson() const;
};

struct AuthorizationRule {
  std::vector<AuthorizationMatch> matches;  // OR
};

struct AuthorizationGroup {
  std::vector<AuthorizationRule> rules;  // AND
};

struct Authorization {
  std::string name;
  std::string namespace_;
  AuthorizationScope scope = AuthorizationScope::kWorkloadSelector;
  AuthorizationAction action = AuthorizationAction::kAllow;
  std::vector<AuthorizationGroup> groups;  // OR
  bool dry_run = false;

  // The xDS resource name and the Workload.authorization_policies entry: "namespace/name".
  std::string key() const { return namespace_ + "/" + name; }
  nlohmann::json toJson() const;
};

}  // namespace warren::mesh
