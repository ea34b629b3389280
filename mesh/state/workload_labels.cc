#include "mesh/state/workload_labels.h"

namespace warren::mesh {

metrics::WorkloadLabels workloadLabels(const Workload* w, std::string principal) {
  metrics::WorkloadLabels l;
  l.principal = std::move(principal);
  if (!w) return l;
  l.workload = w->workload_name.empty() ? w->name : w->workload_name;
  l.workload_namespace = w->namespace_;
  l.canonical_service = w->canonical_name;
  l.canonical_revision = w->canonical_revision;
  l.app = w->canonical_name;
  l.version = w->canonical_revision;
  l.cluster = w->cluster_id;
  return l;
}

metrics::ServiceLabels serviceLabels(const Service& service) {
  return {service.hostname, service.name, service.namespace_};
}

}  // namespace warren::mesh
