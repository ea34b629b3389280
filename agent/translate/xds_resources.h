// The full set of xDS resources for one cluster snapshot, per type URL, each with a version
// derived from its bytes (so an unchanged resource keeps its version and is not re-sent):
// istio.workload.Address, istio.security.Authorization (with the waypoints' implicit ALLOW
// policies), warren.l7.v1.ServiceRoutes and warren.l7.v1.WaypointPolicy (both scoped to the
// waypoint each is for).
// Pure: buildXdsResources(snapshot) is what the xDS servers hand their subscribers.
#pragma once

#include <google/protobuf/any.pb.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/route_translation.h"
#include "agent/translate/waypoint_policy_translation.h"
#include "agent/translate/workload_translation.h"

namespace warren::agent {

inline constexpr const char* kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationTypeUrl =
    "type.googleapis.com/istio.security.Authorization";

struct XdsResource {
  std::string version;  // hex digest of the serialised resource
  std::vector<std::string> aliases;
  google::protobuf::Any body;
  // Who may receive it: "" = every subscriber; else the waypoint ("<ns>/<gateway>") it is for.
  // Streams on the node socket see everything; a waypoint's stream on the proxy socket sees
  // "" and its own scope (DeltaXdsService's stream scope).
  std::string scope;
};

// type URL -> resource name -> resource.
using XdsResourceMap = std::map<std::string, std::map<std::string, XdsResource>>;

struct XdsBuild {
  XdsResourceMap resources;
  std::vector<std::string> notes;   // things left out, for the log (debug)
  std::vector<std::string> errors;  // errors on policies, for the log (warn) and the admin API
};

// SHA-256 of `bytes`, its first 8 bytes in hex: the version of a resource by its content
// (xDS versions; the controller's spec-hash annotation).
std::string contentVersion(const std::string& bytes);

XdsBuild buildXdsResources(const ClusterSnapshot& snapshot, const TranslationContext& ctx);

}  // namespace warren::agent
