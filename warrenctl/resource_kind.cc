#include "warrenctl/resource_kind.h"

namespace warren::ctl {
namespace {

struct KindInfo {
  ResourceKind kind;
  const char* name;
  const char* path;
};

constexpr KindInfo kKinds[] = {
    {ResourceKind::kWorkloads, "workloads", "/api/v1/workloads"},
    {ResourceKind::kServices, "services", "/api/v1/services"},
    {ResourceKind::kPolicies, "policies", "/api/v1/policies"},
    {ResourceKind::kCertificates, "certificates", "/api/v1/certificates"},
    {ResourceKind::kConnections, "connections", "/api/v1/connections"},
    {ResourceKind::kRedirection, "redirection", "/api/v1/redirection"},
    {ResourceKind::kXdsSubscribers, "xds-subscribers", "/api/v1/xds/subscribers"},
    {ResourceKind::kWaypoints, "waypoints", "/api/v1/waypoints"},
    {ResourceKind::kRoutes, "routes", "/api/v1/routes"},
    {ResourceKind::kConfigDump, "config-dump", "/api/v1/config_dump"},
    {ResourceKind::kLog, "log", "/api/v1/log"},
    {ResourceKind::kVersion, "version", "/api/v1/version"},
};

const KindInfo& info(ResourceKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k;
  return kKinds[0];
}

}  // namespace

const char* resourceName(ResourceKind kind) { return info(kind).name; }
const char* apiPath(ResourceKind kind) { return info(kind).path; }

std::optional<ResourceKind> parseResourceName(const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

const std::vector<ResourceKind>& allKinds() {
  static const std::vector<ResourceKind> kAll = {
      ResourceKind::kWorkloads,      ResourceKind::kServices,    ResourceKind::kPolicies,
      ResourceKind::kCertificates,   ResourceKind::kConnections, ResourceKind::kRedirection,
      ResourceKind::kXdsSubscribers, ResourceKind::kWaypoints,   ResourceKind::kRoutes};
  return kAll;
}

}  // namespace warren::ctl
