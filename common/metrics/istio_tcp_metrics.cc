#include "common/metrics/istio_tcp_metrics.h"

namespace warren::metrics {

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
