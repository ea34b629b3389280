#include "common/http/log_level_routes.h"

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace warren::http {
namespace {

// The message may quote the request (a level or component that is not UTF-8): replaced, so
// it is a 400 naming the bad value, not a 500 from dump() throwing.
HttpResponse jsonError(int status, const std::string& message) {
  return HttpResponse::json(status, nlohmann::json{{"error", message}}.dump(
                                        -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

HttpResponse handleLogLevel(const HttpRequest& request, const std::string& component) {
  std::string asked = request.queryOr("component", component);
  if (asked != component)
    return jsonError(404,
                     "this is " + component + "; its admin API has no component '" + asked + "'");
  if (request.method == "PUT") {
    std::string level = request.queryOr("level");
    if (level.empty()) return jsonError(400, "PUT /api/v1/log needs ?level=");
    if (auto set = log::setLevel(level); !set) return jsonError(400, set.error().message());
  }
  auto name = spdlog::level::to_string_view(spdlog::get_level());
  std::string level(name.data(), name.size());
  if (level == "warning") level = "warn";  // the API's names: trace debug info warn error ...
  return HttpResponse::json(200, nlohmann::json{{"component", component}, {"level", level}}.dump());
}

void addLogLevelRoutes(Router& router, const std::string& component) {
  auto h = [component](const HttpRequest& r) { return handleLogLevel(r, component); };
  router.add("GET", "/api/v1/log", h);
  router.add("PUT", "/api/v1/log", h);
}

}  // namespace warren::http
