#include "mesh/state/authorization.h"

namespace warren::mesh {

const char* toString(AuthorizationScope s) {
  switch (s) {
    case AuthorizationScope::kGlobal: return "GLOBAL";
    case AuthorizationScope::kNamespace: return "NAMESPACE";
    case AuthorizationScope::kWorkloadSelector: return "WORKLOAD_SELECTOR";
  }
  return "?";
}

const char* toString(AuthorizationAction a) {
  return a == AuthorizationAction::kAllow ? "ALLOW" : "DENY";
}

bool StringMatch::matches(std::string_view s) const {
  switch (kind) {
    case Kind::kExact: return s == value;
    case Kind::kPrefix: return s.starts_with(value);
    case Kind::kSuffix: return s.ends_with(value);
    case Kind::kPresence: return !s.empty();
  }
  return false;
}

nlohmann::json StringMatch::toJson() const {
  switch (kind) {
    case Kind::kExact: return {{"exact", value}};
    case Kind::kPrefix: return {{"prefix", value}};
    case Kind::kSuffix: return {{"suffix", value}};
    case Kind::kPresence: return {{"presence", nlohmann::json::object()}};
  }
  return nullptr;
}

bool AuthorizationMatch::empty() const {
  return namespaces.empty() && not_namespaces.empty() && principals.empty() &&
         not_principals.empty() && source_ips.empty() && not_source_ips.empty() &&
         destination_ips.empty() && not_destination_ips.empty() && destination_ports.empty() &&
         not_destination_ports.empty() && service_accounts.empty() &&
         not_service_accounts.empty();
}

namespace {

nlohmann::json stringMatches(const std::vector<StringMatch>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& m : v) a.push_back(m.toJson());
  return a;
}

nlohmann::json serviceAccounts(const std::vector<ServiceAccountMatch>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& m : v) {
    a.push_back({{"namespace", m.namespace_}, {"serviceAccount", m.service_account}});
  }
  return a;
}

}  // namespace

nlohmann::json AuthorizationMatch::toJson() const {
  // Only the fields in use, like ztunnel's config_dump (skip_serializing_if empty).
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* k, const nlohmann::json& v) {
    if (!v.empty()) j[k] = v;
  };
  put("namespaces", stringMatches(namespaces));
  put("notNamespaces", stringMatches(not_namespaces));
  put("principals", stringMatches(principals));
  put("notPrincipals", stringMatches(not_principals));
  put("sourceIps", nlohmann::json(source_ips));
  put("notSourceIps", nlohmann::json(not_source_ips));
  put("destinationIps", nlohmann::json(destination_ips));
  put("notDestinationIps", nlohmann::json(not_destination_ips));
  put("destinationPorts", nlohmann::json(destination_ports));
  put("notDestinationPorts", nlohmann::json(not_destination_ports));
  put("serviceAccounts", serviceAccounts(service_accounts));
  put("notServiceAccounts", serviceAccounts(not_service_accounts));
  return j;
}

nlohmann::json Authorization::toJson() const {
  nlohmann::json groups_json = nlohmann::json::array();
  for (const auto& g : groups) {
    nlohmann::json rules_json = nlohmann::json::array();
    for (const auto& r : g.rules) {
      nlohmann::json matches_json = nlohmann::json::array();
      for (const auto& m : r.matches) matches_json.push_back(m.toJson());
      rules_json.push_back(matches_json);
    }
    groups_json.push_back(rules_json);
  }
  return {{"name", name},          {"namespace", namespace_}, {"scope", toString(scope)},
          {"action", toString(action)}, {"groups", groups_json}, {"dryRun", dry_run}};
}

}  // namespace warren::mesh
