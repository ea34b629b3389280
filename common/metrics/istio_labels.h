// Istio's standard metric labels (istio.io "Istio Standard Metrics", "Labels"; ztunnel's
// CommonTrafficLabels, INTEROP.md §14), one vocabulary for every Istio traffic metric Warren
// exports: the TCP family (istio_tcp_metrics.h, ztunnel and the waypoint) and the HTTP family
// (the waypoint's istio_requests_total ...). The source and the destination carry the same
// per-side set, so one struct describes either side and one function fills it from a workload
// (mesh/state/workload_labels.h).
//
// Values: an empty string is exported as "unknown" (Istio's value for a peer it cannot
// describe); the one exception is grpc_response_status, which Istio leaves empty on non-gRPC
// requests.
#pragma once

#include <string>
#include <vector>

namespace warren::metrics {

// One side (source_* or destination_*) of the traffic labels.
struct WorkloadLabels {
  std::string workload;            // the owning workload (Deployment...), else the pod name
  std::string canonical_service;   // service.istio.io/canonical-name, else app label
  std::string canonical_revision;  // service.istio.io/canonical-revision, else version
  std::string workload_namespace;
  std::string principal;  // spiffe://<td>/ns/<ns>/sa/<sa>
  std::string app;
  std::string version;
  std::string cluster;
  friend bool operator==(const WorkloadLabels&, const WorkloadLabels&) = default;
};

// The Service a request or connection was addressed to.
struct ServiceLabels {
  std::string host;        // destination_service: FQDN, e.g. echo.default.svc.cluster.local
  std::string name;        // destination_service_name: echo
  std::string namespace_;  // destination_service_namespace: default
  friend bool operator==(const ServiceLabels&, const ServiceLabels&) = default;
};

// The labels every Istio traffic metric carries.
struct TrafficLabels {
  std::string reporter;  // "source", "destination" (ztunnel) or "waypoint"
  WorkloadLabels source;
  ServiceLabels destination_service;
  WorkloadLabels destination;
  std::string request_protocol = "tcp";    // tcp | http | grpc
  std::string response_flags = "-";        // "-", DENY, CONNECT, UF, NR, ... (INTEROP §14)
  std::string connection_security_policy;  // "mutual_tls" or "unknown"
};

// Label names in the order they are exported: reporter, source_*, destination_service*,
// destination_*, request_protocol, response_flags, connection_security_policy (23).
const std::vector<std::string>& trafficLabelNames();
// Values in trafficLabelNames() order, "unknown" for empty ones.
std::vector<std::string> trafficLabelValues(const TrafficLabels& labels);

// The HTTP family's names: the traffic labels with response_code and grpc_response_status
// after request_protocol, as Istio's stats plugin orders them (25).
const std::vector<std::string>& requestLabelNames();
// `response_code` is the HTTP status ("200"; "0" when no response was sent), `grpc_status` the
// gRPC status code as a decimal string ("" when the request was not gRPC).
std::vector<std::string> requestLabelValues(const TrafficLabels& labels,
                                            const std::string& response_code,
                                            const std::string& grpc_status);

}  // namespace warren::metrics
