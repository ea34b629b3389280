#include "warrenctl/resource_filter.h"

namespace warren::ctl {
namespace {

using nlohmann::json;

// The string at `key`, or nullopt when absent or not a string.
std::optional<std::string> str(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Matches when the field is absent (cannot judge) or equal.
bool fieldMatches(const json& item, const char* key, const std::string& want) {
  auto v = str(item, key);
  return !v || *v == want;
}

// Either side of a connection matches; a side without the field cannot judge.
bool eitherSide(const json& item, const char* key, const std::string& want) {
  bool judged = false;
  for (const char* side : {"source", "destination"}) {
    if (!item.contains(side)) continue;
    auto v = str(item[side], key);
    if (!v) continue;
    judged = true;
    if (*v == want) return true;
  }
  return !judged;
}

bool matches(ResourceKind kind, const json& item, const ResourceFilter& f) {
  if (f.node && !fieldMatches(item, "node", *f.node)) return false;
  if (f.namespace_) {
    const std::string& ns = *f.namespace_;
    switch (kind) {
      case ResourceKind::kConnections:
        if (!eitherSide(item, "namespace", ns)) return false;
        break;
      case ResourceKind::kCertificates: {
        auto id = str(item, "identity");
        if (id && id->find("/ns/" + ns + "/") == std::string::npos) return false;
        break;
      }
      default:
        if (!fieldMatches(item, "namespace", ns)) return false;
    }
  }
  if (f.workload) {
    const std::string& w = *f.workload;
    switch (kind) {
      case ResourceKind::kWorkloads:
        if (!fieldMatches(item, "name", w)) return false;
        break;
      case ResourceKind::kConnections:
        if (!eitherSide(item, "workload", w)) return false;
        break;
      case ResourceKind::kRedirection:
        if (!fieldMatches(item, "pod", w)) return false;
        break;
      case ResourceKind::kServices: {
        if (!item.contains("endpoints") || !item["endpoints"].is_array()) break;
        bool any = false;
        for (const auto& ep : item["endpoints"])
          if (str(ep, "workload") == w) any = true;
        if (!any) return false;
        break;
      }
      default:
        break;  // policies, certificates, subscribers: not tied to one workload
    }
  }
  return true;
}

}  // namespace

json applyFilter(ResourceKind kind, const json& doc, const ResourceFilter& filter) {
  if (filter.empty() || !doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
    return doc;
  json out = doc;
  json kept = json::array();
  for (const auto& item : doc["items"])
    if (matches(kind, item, filter)) kept.push_back(item);
  out["items"] = std::move(kept);
  return out;
}

}  // namespace warren::ctl
