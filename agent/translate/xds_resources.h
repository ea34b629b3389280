// The full set of xDS resources for one cluster snapshot, per type URL, each with a version
// derived from its bytes (so an unchanged resource keeps its version and is not re-sent).
// Pure: buildXdsResources(snapshot) is what every subscriber of the xDS server sees.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/workload_translation.h"

namespace warren::agent {

inline constexpr const char* kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationTypeUrl = "type.googleapis.com/istio.security.Authorization";

struct XdsResource {
  std::string version;  // hex digest of the serialised resource
  std::vector<std::string> aliases;
  google::protobuf::Any body;
};

// type URL -> resource name -> resource.
using XdsResourceMap = std::map<std::string, std::map<std::string, XdsResource>>;

struct XdsBuild {
  XdsResourceMap resources;
  std::vector<std::string> notes;  // things left out, for the log
};

XdsBuild buildXdsResources(const ClusterSnapshot& snapshot, const TranslationContext& ctx);

}  // namespace warren::agent
