// Istio's TCP metric family as ztunnel exposes it (INTEROP.md §14; ZT:src/proxy/metrics.rs
// CommonTrafficLabels): four counters sharing one label set (istio_labels.h), unknown values
// as "unknown".
//   istio_tcp_connections_opened_total   connections opened
//   istio_tcp_connections_closed_total   connections closed
//   istio_tcp_sent_bytes_total           bytes of the response (destination -> source)
//   istio_tcp_received_bytes_total       bytes of the request (source -> destination)
// (Istio's HELP texts: "bytes sent during response", "bytes received during request".)
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/istio_labels.h"
#include "common/metrics/registry.h"

namespace warren::metrics {

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
