// Typed views of the networking kinds the agent keeps for later consumers: EndpointSlice
// (discovery.k8s.io/v1), Gateway and HTTPRoute (gateway.networking.k8s.io/v1). Only the fields
// the agent uses today are decoded; the full document stays available in `object`.
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

struct GatewayListener {
  std::string name;
  uint16_t port = 0;
  std::string protocol;
};

struct Gateway {
  k8s::ObjectMeta meta;
  std::string gateway_class_name;
  std::vector<GatewayListener> listeners;
  k8s::Object object;
};

struct HttpRoute {
  k8s::ObjectMeta meta;
  struct ParentRef {
    std::string group, kind, namespace_, name;
  };
  std::vector<ParentRef> parent_refs;
  k8s::Object object;
};

Result<EndpointSlice> decodeEndpointSlice(const k8s::Object& obj);
Result<Gateway> decodeGateway(const k8s::Object& obj);
Result<HttpRoute> decodeHttpRoute(const k8s::Object& obj);

}  // namespace warren::agent
