#include "agent/admin/proxied_documents.h"

#include "agent/admin/cluster_documents.h"

namespace warren::agent::admin {

using nlohmann::json;

namespace {

std::string unreachable(const std::string& ztunnel_admin, const Error& e) {
  return "ztunnel admin at " + ztunnel_admin + " unreachable: " + e.message();
}

// The body of a ztunnel answer as JSON, or a 502 naming what was wrong with it.
std::optional<AdminAnswer> badAnswer(const std::string& what, const std::string& ztunnel_admin,
                                     const http::HttpResponse& r, json& parsed) {
  if (r.status != 200) {
    std::string body = r.body.substr(0, 200);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return errorAnswer(502, "ztunnel admin at " + ztunnel_admin + " answered " + what +
                                " with HTTP " + std::to_string(r.status) +
                                (body.empty() ? "" : ": " + body));
  }
  parsed = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    return errorAnswer(502, "ztunnel admin at " + ztunnel_admin + " answered " + what +
                                " with a body that is not a JSON object");
  return std::nullopt;
}

}  // namespace

AdminAnswer errorAnswer(int status, const std::string& message) {
  return {status, json{{"error", message}}};
}

AdminAnswer certificatesAnswer(const std::string& node, const std::string& ztunnel_admin,
                               const Result<http::HttpResponse>& dump) {
  if (!dump) return errorAnswer(503, unreachable(ztunnel_admin, dump.error()));
  json parsed;
  if (auto bad = badAnswer("GET /config_dump", ztunnel_admin, *dump, parsed)) return *bad;
  json items = json::array();
  const json& certs = parsed.contains("certificates") ? parsed["certificates"] : json::array();
  if (!certs.is_array())
    return errorAnswer(
        502, "ztunnel admin at " + ztunnel_admin + ": /config_dump \"certificates\" is not a list");
  for (const auto& c : certs) {
    if (!c.is_object()) continue;
    json item = c;
    for (const char* key :
         {"identity", "state", "serial", "not_before", "not_after", "next_refresh", "last_error"})
      if (!item.contains(key) || !item[key].is_string()) item[key] = "";
    if (!item.contains("chain") || !item["chain"].is_array()) item["chain"] = json::array();
    items.push_back(std::move(item));
  }
  return {200, listDocument("certificates", node, std::move(items))};
}

AdminAnswer connectionsAnswer(const std::string& node, const std::string& ztunnel_admin,
                              const Result<http::HttpResponse>& connections) {
  if (!connections) return errorAnswer(503, unreachable(ztunnel_admin, connections.error()));
  if (connections->status == 404)  // no data path in this ztunnel: nothing is proxied
    return {200, listDocument("connections", node, json::array())};
  json parsed;
  if (auto bad = badAnswer("GET /connections", ztunnel_admin, *connections, parsed)) return *bad;
  json items =
      parsed.contains("items") && parsed["items"].is_array() ? parsed["items"] : json::array();
  return {200, listDocument("connections", node, std::move(items))};
}

AdminAnswer forwardedLogAnswer(const std::string& ztunnel_admin,
                               const Result<http::HttpResponse>& answer) {
  if (!answer) return errorAnswer(503, unreachable(ztunnel_admin, answer.error()));
  json parsed = json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    return errorAnswer(502, "ztunnel admin at " + ztunnel_admin +
                                " answered /api/v1/log with HTTP " +
                                std::to_string(answer->status) + " and no JSON");
  return {answer->status, std::move(parsed)};
}

json xdsSubscriberItems(const std::string& node,
                        const std::vector<XdsSubscriberInfo>& subscribers) {
  json items = json::array();
  for (const auto& s : subscribers) {
    json subs = json::array();
    for (const auto& [type_url, t] : s.types) {
      subs.push_back({{"type_url", type_url},
                      {"sent_version", t.last_sent_version},
                      {"acked_version", t.acked_version},
                      {"nonce", t.last_sent_nonce},
                      {"resources", t.resources_held},
                      {"last_nack", t.last_nack},
                      {"acks", t.acks},
                      {"nacks", t.nacks},
                      {"wildcard", t.wildcard},
                      {"names", t.names}});
    }
    items.push_back({{"id", s.node_id},
                     {"node", node},  // xds.sock is node-local: every subscriber is on this node
                     {"connected_at", ""},
                     {"peer", s.peer},
                     {"stream", s.id},
                     {"caller", s.caller},  // on the proxy socket: the waypoint pod it serves
                     {"subscriptions", std::move(subs)}});
  }
  return items;
}

}  // namespace warren::agent::admin
