// What a waypoint Gateway becomes: a ServiceAccount, a Service (HBONE on 15008) and a
// Deployment running warren-waypoint, all named after the Gateway, labelled
// gateway.networking.k8s.io/gateway-name=<gateway> and owned by it (ownerReferences, so the
// Kubernetes garbage collector removes them with it). Pure; table-tested.
//
// The waypoint pod: label warren.dev/dataplane-mode=none (ztunnel never captures it: it speaks
// HBONE itself), the proxy socket directory of its node mounted from the host
// (hostPath <node proxy dir>, /var/run/warren/proxy by default, at the same path), and the
// command line the warren-waypoint binary implements (waypoint/README.md "Control plane and
// contract"):
//   warren-waypoint --xds-socket /var/run/warren/proxy/xds.sock --trust-domain <td>
//                   --gateway <namespace>/<name> --hbone-port 15008 --admin-port 15000
//                   --metrics-port 15020 --readiness-port 15021 --log-level info
//                   [--tracing-otlp-endpoint URL] [--tracing-sampling PERCENT]  (annotations below)
// with POD_NAME, POD_NAMESPACE, NODE_NAME and POD_IP from the downward API.
#pragma once

#include <string>
#include <vector>

#include "agent/model/gateway_kinds.h"
#include "common/k8s/object.h"

namespace warren::agent {

inline constexpr const char* kManagedByLabel = "warren.dev/managed-by";
inline constexpr const char* kManagedByValue = "waypoint-controller";
// Annotation on generated objects: a digest of what the controller wants them to be, so a
// changed Gateway (or controller) is noticed without diffing fields the API server defaults.
inline constexpr const char* kSpecHashAnnotation = "warren.dev/waypoint-spec-hash";
inline constexpr const char* kDefaultNodeProxyDir = "/var/run/warren/proxy";
// Tracing of one waypoint, as annotations on its Gateway (per proxy, as Istio's
// proxy.istio.io/config annotation sets a proxy's tracing): the OTLP/HTTP collector and the
// percentage of new traces sampled, passed to warren-waypoint as --tracing-otlp-endpoint and
// --tracing-sampling. The waypoint checks the values at start-up (a bad one stops it, naming
// the flag, in its log); without the endpoint tracing is off.
inline constexpr const char* kTracingEndpointAnnotation = "warren.dev/tracing-otlp-endpoint";
inline constexpr const char* kTracingSamplingAnnotation = "warren.dev/tracing-sampling";
// The waypoint's data-path threads (--workers; default one per core), as Istio's
// proxy.istio.io/config `concurrency` sets an Envoy's. Checked by the waypoint at start-up.
inline constexpr const char* kWorkersAnnotation = "warren.dev/workers";

struct WaypointDeploymentOptions {
  std::string image = "warren-waypoint:latest";
  std::string trust_domain = "cluster.local";
  std::string node_proxy_dir = kDefaultNodeProxyDir;  // host path of <run-dir>/proxy
  std::string log_level = "info";
};

struct WaypointResources {
  k8s::Object service_account;
  k8s::Object service;
  k8s::Object deployment;
  std::vector<const k8s::Object*> all() const { return {&service_account, &service, &deployment}; }
};

Result<WaypointResources> waypointResources(const Gateway& gateway,
                                            const WaypointDeploymentOptions& options);

// Why a warren-waypoint Gateway cannot be deployed ("" when it can): it needs a listener with
// protocol HBONE on port 15008 (Istio's waypoint shape).
std::string waypointListenerProblem(const Gateway& gateway);

// Is `obj` owned (ownerReferences, controller) by the Gateway with this uid?
bool ownedByGateway(const k8s::Object& obj, const std::string& gateway_uid);

}  // namespace warren::agent
