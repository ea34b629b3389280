#include "ztunnel/data/worker_context.h"

#include "mesh/state/ready_waiters.h"

namespace warren::ztunnel {

Result<DataPathMetrics> DataPathMetrics::create(metrics::Registry& registry) {
  DataPathMetrics m;
  auto tcp = metrics::IstioTcpMetrics::create(registry);
  if (!tcp) return fail(tcp.error().wrap("istio_tcp metrics"));
  m.tcp = *tcp;
  auto accepted = registry.counter("warren_ztunnel_accepted_connections_total",
                                   "connections accepted on the pods' listeners, by data-path "
                                   "worker and listener port",
                                   {"worker", "listener"});
  if (!accepted) return fail(accepted.error());
  m.accepted = *accepted;
  auto pauses = registry.counter("warren_ztunnel_accept_pauses_total",
                                 "accepts the kernel ended with an error (EMFILE at "
                                 "RLIMIT_NOFILE...), re-armed after a pause, by data-path worker",
                                 {"worker"});
  if (!pauses) return fail(pauses.error());
  m.accept_pauses = *pauses;
  auto handovers = registry.counter(
      "warren_ztunnel_hbone_handovers_total",
      "HBONE connections between two pods of this node that a data-path worker accepted while "
      "it runs their client end, and handed to another worker, by accepting worker",
      {"worker"});
  if (!handovers) return fail(handovers.error());
  m.handovers = *handovers;
  return m;
}

void WorkerContext::awaitCertificate(const identity::SpiffeId& id, std::function<void()> then) {
  mesh::awaitReady(
      loop, options.certificate_wait,
      [this, id](std::function<void()> fire) { return certs.whenReady(id, loop, std::move(fire)); },
      [this](mesh::WaitId w) { certs.cancelWait(w); }, then, then);
}

void WorkerContext::awaitWorkload(const std::string& uid, std::function<void()> then) {
  mesh::awaitReady(
      loop, options.workload_wait,
      [this, uid](std::function<void()> fire) {
        return store.whenWorkload(uid, loop, std::move(fire));
      },
      [this](mesh::WaitId w) { store.cancelWait(w); }, then, then);
}

}  // namespace warren::ztunnel
