// Typed view of EndpointSlice (discovery.k8s.io/v1). Gateway API kinds are in
// gateway_kinds.h and route_kinds.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/k8s/object.h"

namespace warren::agent {

struct EndpointSlice {
  k8s::ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::vector<std::string> addresses;
};

Result<EndpointSlice> decodeEndpointSlice(const k8s::Object& obj);

}  // namespace warren::agent
