// How a workload and a service of the mesh state become Istio's metric labels
// (common/metrics/istio_labels.h): the one place both proxies fill a source_* / destination_*
// side, so ztunnel's istio_tcp_* and the waypoint's istio_request* agree on every value.
#pragma once

#include <string>

#include "common/metrics/istio_labels.h"
#include "mesh/state/service.h"
#include "mesh/state/workload.h"

namespace warren::mesh {

// One side of the labels for `w` (null: a peer the state does not know, every label but the
// principal "unknown"). `principal` is the peer's SPIFFE URI ("" when not mutual TLS).
// workload = the owning workload's name (Workload.workload_name), else the pod name; app and
// version = the canonical service and revision, as ztunnel reports them.
metrics::WorkloadLabels workloadLabels(const Workload* w, std::string principal);

// destination_service (hostname), destination_service_name and destination_service_namespace.
metrics::ServiceLabels serviceLabels(const Service& service);

}  // namespace warren::mesh
