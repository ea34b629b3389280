// The identity a verified JWT carries: what RequestAuthentication hands to AuthorizationPolicy
// (`requestPrincipals`, `request.auth.*` conditions) and what claim-to-header outputs read.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace warren::waypoint {

struct JwtClaims {
  std::string issuer;                  // "iss"
  std::string subject;                 // "sub" ("" when absent)
  std::string principal;               // Istio's request principal: "<iss>/<sub>"
  std::vector<std::string> audiences;  // "aud" (a string or an array of strings)
  std::string presenter;               // "azp"
  nlohmann::json payload;              // every claim, for request.auth.claims[...]

  // The claim at a path of names (["nested", "key"] is request.auth.claims[nested][key]), or
  // nullptr when any step is missing or not an object.
  const nlohmann::json* claim(const std::vector<std::string>& path) const;
};

}  // namespace warren::waypoint
