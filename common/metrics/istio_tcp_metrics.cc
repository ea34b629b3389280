#include "common/metrics/istio_tcp_metrics.h"

namespace warren::metrics {

const std::vector<std::string>& trafficLabelNames() {
  static const std::vector<std::string> kNames = {
      "reporter",
      "source_workload",
      "source_canonical_service",
      "source_canonical_revision",
      "source_workload_namespace",
      "source_principal",
      "source_app",
      "source_version",
      "source_cluster",
      "destination_service",
      "destination_service_namespace",
      "destination_service_name",
      "destination_workload",
      "destination_canonical_service",
      "destination_canonical_revision",
      "destination_workload_namespace",
      "destination_principal",
      "destination_app",
      "destination_version",
      "destination_cluster",
      "request_protocol",
      "response_flags",
      "connection_security_policy",
  };
  return kNames;
}

std::vector<std::string> trafficLabelValues(const TrafficLabels& l) {
  auto v = [](const std::string& s) { return s.empty() ? std::string("unknown") : s; };
  return {v(l.reporter),
          v(l.source_workload),
          v(l.source_canonical_service),
          v(l.source_canonical_revision),
          v(l.source_workload_namespace),
          v(l.source_principal),
          v(l.source_app),
          v(l.source_version),
          v(l.source_cluster),
          v(l.destination_service),
          v(l.destination_service_namespace),
          v(l.destination_service_name),
          v(l.destination_workload),
          v(l.destination_canonical_service),
          v(l.destination_canonical_revision),
          v(l.destination_workload_namespace),
          v(l.destination_principal),
          v(l.destination_app),
          v(l.destination_version),
          v(l.destination_cluster),
          v(l.request_protocol),
          v(l.response_flags),
          v(l.connection_security_policy)};
}

Result<IstioTcpMetrics> IstioTcpMetrics::create(Registry& registry) {
  const auto& names = trafficLabelNames();
  IstioTcpMetrics m;
  auto opened = registry.counter("istio_tcp_connections_opened_total",
                                 "The total number of TCP connections opened", names);
  if (!opened) return fail(opened.error());
  auto closed = registry.counter("istio_tcp_connections_closed_total",
                                 "The total number of TCP connections closed", names);
  if (!closed) return fail(closed.error());
  auto sent = registry.counter("istio_tcp_sent_bytes_total",
                               "The size of total bytes sent during response in case of a TCP "
                               "connection",
                               names);
  if (!sent) return fail(sent.error());
  auto received = registry.counter("istio_tcp_received_bytes_total",
                                   "The size of total bytes received during request in case of "
                                   "a TCP connection",
                                   names);
  if (!received) return fail(received.error());
  m.opened_ = *opened;
  m.closed_ = *closed;
  m.sent_ = *sent;
  m.received_ = *received;
  return m;
}

TcpConnectionCounters IstioTcpMetrics::forConnection(const TrafficLabels& labels) {
  auto values = trafficLabelValues(labels);
  // The value count always matches the label count here, so withLabels cannot fail.
  return TcpConnectionCounters{*opened_->withLabels(values), *closed_->withLabels(values),
                               *sent_->withLabels(values), *received_->withLabels(values)};
}

}  // namespace warren::metrics
