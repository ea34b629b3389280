// The resources warrenctl shows and where the agent admin API serves them (README.md has the
// schema of each).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace warren::ctl {

enum class ResourceKind {
  kWorkloads,
  kServices,
  kPolicies,
  kCertificates,
  kConnections,
  kRedirection,
  kXdsSubscribers,
  kWaypoints,
  kRoutes,
  kConfigDump,
  kLog,
  kVersion,
};

// "workloads", "services", ..., "xds-subscribers", "waypoints", "routes", "config-dump", "log",
// "version".
const char* resourceName(ResourceKind kind);
std::optional<ResourceKind> parseResourceName(const std::string& name);
// "/api/v1/workloads", ..., "/api/v1/xds/subscribers", "/api/v1/config_dump".
const char* apiPath(ResourceKind kind);
// What `warrenctl all` shows, in order.
const std::vector<ResourceKind>& allKinds();

}  // namespace warren::ctl
