#include "warrenctl/waypoint_routes.h"

#include "common/http/http_client.h"
#include "warrenctl/table_renderer.h"

namespace warren::ctl {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key, const std::string& none = "-") {
  if (!j.is_object() || !j.contains(key)) return none;
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>().empty() ? none : v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return none;
}

const json& arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : kEmpty;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out.empty() ? "-" : out;
}

Result<json> getJson(const net::SocketAddress& at, const std::string& path,
                     std::chrono::milliseconds timeout) {
  http::ClientRequest req = http::ClientRequest::get(path);
  req.timeout = timeout;
  auto resp = http::httpRequest(http::ListenAddress::tcp(at), req);
  if (!resp)
    return fail(Error(resp.error().code(),
                      "cannot reach the waypoint admin at " + at.toString() + ": " +
                          resp.error().context() +
                          "; run warrenctl in the waypoint pod's network namespace "
                          "(warren-lab exec NS/POD -- warrenctl waypoint routes) or port-forward "
                          "its 15000 and pass --admin"));
  if (resp->status != 200)
    return fail(Error(ErrorCode::kProtocol, "the waypoint admin answered GET " + path +
                                                " with HTTP " + std::to_string(resp->status)));
  auto parsed = json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return fail(
        Error(ErrorCode::kProtocol, "the waypoint admin's " + path + " is not a JSON object"));
  return parsed;
}

}  // namespace

Result<json> fetchWaypointRoutes(const std::string& admin, const std::string& expect_gateway,
                                 std::chrono::milliseconds timeout) {
  auto at = net::SocketAddress::parse(admin);
  if (!at) return fail(Error::invalid("--admin '" + admin + "' is not HOST:PORT (an IP address)"));
  auto stats = getJson(*at, "/stats", timeout);
  if (!stats) return fail(stats.error());
  std::string gateway = str(*stats, "gateway", "");
  if (!expect_gateway.empty() && gateway != expect_gateway)
    return fail(Error(ErrorCode::kNotFound, "the waypoint admin at " + admin + " serves Gateway '" +
                                                gateway + "', not " + expect_gateway));
  auto routes = getJson(*at, "/routes", timeout);
  if (!routes) return fail(routes.error());
  return json{{"gateway", gateway}, {"routes", *routes}};
}

std::string renderWaypointRoutes(const json& doc) {
  const json& routes = doc.is_object() && doc.contains("routes") ? doc["routes"] : json::object();
  std::string out = "waypoint " + str(doc, "gateway") + ", routes version " +
                    str(routes, "version") + ", " + str(routes, "accepted_rules", "0") +
                    " rules accepted\n\n";

  Table t{{"ROUTE", "RULE", "PARENTS", "MATCHES", "BACKENDS", "TIMEOUTS", "RETRY", "MIRRORS"}, {}};
  for (const auto& r : arr(routes, "routes")) {
    std::vector<std::string> parents;
    for (const auto& p : arr(r, "parents"))
      parents.push_back(p.is_string() ? p.get<std::string>() : "-");
    size_t index = 0;
    for (const auto& rule : arr(r, "rules")) {
      std::vector<std::string> matches;
      for (const auto& m : arr(rule, "matches")) {
        std::string one = str(m, "path");
        if (str(m, "method") != "-") one += " " + str(m, "method");
        for (const auto& h : arr(m, "headers")) one += " header:" + h.get<std::string>();
        matches.push_back(one);
      }
      std::vector<std::string> backends;
      for (const auto& b : arr(rule, "backends")) {
        std::string one = str(b, "service") + ":" + str(b, "port") + "*" + str(b, "weight");
        if (str(b, "invalid") != "-") one += "!" + str(b, "invalid");
        backends.push_back(one);
      }
      std::vector<std::string> timeouts;
      if (rule.contains("timeouts")) {
        const json& to = rule["timeouts"];
        if (to.contains("request_ms"))
          timeouts.push_back("request=" + str(to, "request_ms") + "ms");
        if (to.contains("backend_request_ms"))
          timeouts.push_back("backend=" + str(to, "backend_request_ms") + "ms");
      }
      std::string retry = "-";
      if (rule.contains("retry") && rule["retry"].is_object()) {
        const json& rt = rule["retry"];
        std::vector<std::string> codes;
        for (const auto& c : arr(rt, "codes")) codes.push_back(std::to_string(c.get<int>()));
        retry = "attempts=" + str(rt, "attempts") + " codes=" + join(codes, ",") +
                " backoff=" + str(rt, "backoff_ms") + "ms";
      }
      std::vector<std::string> mirrors;
      for (const auto& m : arr(rule, "mirrors")) {
        std::string one = str(m, "service") + ":" + str(m, "port") + " " + str(m, "fraction");
        if (str(m, "invalid") != "-") one += "!" + str(m, "invalid");
        mirrors.push_back(one);
      }
      std::string name = str(rule, "name");
      t.rows.push_back({str(r, "route"),
                        name != "-" ? name : "rules[" + std::to_string(index) + "]",
                        join(parents, ","), join(matches, "; "), join(backends, ","),
                        join(timeouts, " "), retry, join(mirrors, ",")});
      ++index;
    }
  }
  out += renderTable(t, "No routes attached to this waypoint's Services.\n");

  Table s{{"SERVICE", "VIPS", "PORT", "PROTOCOL", "ROUTES"}, {}};
  for (const auto& svc : arr(routes, "services")) {
    std::vector<std::string> vips;
    for (const auto& v : arr(svc, "vips")) vips.push_back(v.get<std::string>());
    for (const auto& p : arr(svc, "ports"))
      s.rows.push_back(
          {str(svc, "key"), join(vips, ","), str(p, "port"), str(p, "protocol"),
           str(p, "routes_attached") == "true" ? "attached" : "none (to the Service)"});
  }
  out += "\n" + renderTable(s, "No Services served.\n");
  const json& diags = arr(routes, "diagnostics");
  if (!diags.empty()) {
    out += "\nrules the waypoint refused:\n";
    for (const auto& d : diags)
      out += "  " + (d.is_string() ? d.get<std::string>() : d.dump()) + "\n";
  }
  return out;
}

}  // namespace warren::ctl
