#include "waypoint/route/route_decision.h"

#include <fmt/format.h>

namespace warren::waypoint {

std::string RouteRef::toString() const {
  if (!text.empty()) return text;
  std::string out =
      fmt::format("{} {}/{} rule {}", kind == Kind::kHttpRoute ? "HTTPRoute" : "GRPCRoute",
                  namespace_, name, rule_index);
  if (rule_name) out += fmt::format(" ({})", *rule_name);
  return out;
}

std::string BackendTarget::toString() const {
  if (kind == Kind::kOriginalDestination) return fmt::format("original-destination:{}", port);
  return fmt::format("{}/{}:{}", namespace_, name, port);
}

const char* toString(DirectResponse::Reason r) {
  switch (r) {
    case DirectResponse::Reason::kNoRouteMatched:
      return "no_route_matched";
    case DirectResponse::Reason::kNoBackends:
      return "no_backends";
    case DirectResponse::Reason::kAllWeightsZero:
      return "all_weights_zero";
    case DirectResponse::Reason::kInvalidBackend:
      return "invalid_backend";
    case DirectResponse::Reason::kUnsupportedFilter:
      return "unsupported_filter";
  }
  return "?";
}

nlohmann::json RouteDecision::toJson() const {
  nlohmann::json j;
  j["route"] = route ? nlohmann::json(route->toString()) : nullptr;
  if (const auto* f = forward()) {
    j["action"] = "forward";
    j["backend"] = f->backend.toString();
    j["path"] = f->request.pathAndQuery();
    j["authority"] = f->request.authority;
    nlohmann::json mirrors = nlohmann::json::array();
    for (const auto& m : f->mirrors) mirrors.push_back(m.toString());
    j["mirrors"] = mirrors;
  } else if (const auto* r = redirect()) {
    j["action"] = "redirect";
    j["status"] = r->status;
    j["location"] = r->location;
  } else if (const auto* d = direct()) {
    j["action"] = "direct_response";
    j["status"] = d->status;
    j["reason"] = toString(d->reason);
    j["detail"] = d->detail;
  }
  return j;
}

}  // namespace warren::waypoint
