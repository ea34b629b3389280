// Istio's TCP metric family as ztunnel exposes it (INTEROP.md §14; ZT:src/proxy/metrics.rs
// CommonTrafficLabels): four counters sharing one label set, unknown values as "unknown".
//   istio_tcp_connections_opened_total   connections opened
//   istio_tcp_connections_closed_total   connections closed
//   istio_tcp_sent_bytes_total           bytes of the response (destination -> source)
//   istio_tcp_received_bytes_total       bytes of the request (source -> destination)
// (Istio's HELP texts: "bytes sent during response", "bytes received during request".)
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/registry.h"

namespace warren::metrics {

// The labels of one proxied connection. Empty strings are exported as "unknown".
struct TrafficLabels {
  std::string reporter;  // "source" (outbound hop) or "destination" (inbound hop)
  std::string source_workload;
  std::string source_canonical_service;
  std::string source_canonical_revision;
  std::string source_workload_namespace;
  std::string source_principal;  // spiffe://<td>/ns/<ns>/sa/<sa>
  std::string source_app;
  std::string source_version;
  std::string source_cluster;
  std::string destination_service;  // service FQDN, e.g. echo.default.svc.cluster.local
  std::string destination_service_namespace;
  std::string destination_service_name;
  std::string destination_workload;
  std::string destination_canonical_service;
  std::string destination_canonical_revision;
  std::string destination_workload_namespace;
  std::string destination_principal;
  std::string destination_app;
  std::string destination_version;
  std::string destination_cluster;
  std::string request_protocol = "tcp";
  std::string response_flags = "-";        // "-", DENY, CONNECT, TLS_FAILURE, ... (INTEROP §14)
  std::string connection_security_policy;  // "mutual_tls" or "unknown"
};

// Label names in the order they are exported.
const std::vector<std::string>& trafficLabelNames();
// Values in trafficLabelNames() order, "unknown" for empty ones.
std::vector<std::string> trafficLabelValues(const TrafficLabels& labels);

// The four counters of one label set, looked up once per connection and then bumped without a
// lock on every read/write.
struct TcpConnectionCounters {
  Counter* opened = nullptr;
  Counter* closed = nullptr;
  Counter* sent_bytes = nullptr;
  Counter* received_bytes = nullptr;
};

class IstioTcpMetrics {
 public:
  // Registers the four families in `registry` (which must outlive this object).
  static Result<IstioTcpMetrics> create(Registry& registry);

  // The counters for this label set (created on first use; takes the families' locks).
  TcpConnectionCounters forConnection(const TrafficLabels& labels);

 private:
  CounterFamily* opened_ = nullptr;
  CounterFamily* closed_ = nullptr;
  CounterFamily* sent_ = nullptr;
  CounterFamily* received_ = nullptr;
};

}  // namespace warren::metrics
