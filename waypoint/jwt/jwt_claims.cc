#include "waypoint/jwt/jwt_claims.h"

namespace warren::waypoint {

const nlohmann::json* JwtClaims::claim(const std::vector<std::string>& path) const {
  const nlohmann::json* at = &payload;
  for (const auto& name : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(name);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

}  // namespace warren::waypoint
