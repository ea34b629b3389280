// What a worker's proxies (OutboundProxy, InboundProxy) share, and the data path's options.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/http2/session_config.h"
#include "common/metrics/istio_tcp_metrics.h"
#include "common/metrics/registry.h"
#include "common/uring/event_loop.h"
#include "mesh/control/certificate_source.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "mesh/hbone/tls_context_cache.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/data/connection_registry.h"
#include "ztunnel/data/data_path_sockets.h"

namespace warren::ztunnel {

struct DataPlaneOptions {
  unsigned workers = 0;  // 0: one per core
  // The event loop backend; unset: WARREN_IO_BACKEND, else io_uring (epoll when it cannot).
  std::optional<uring::Backend> backend;
  // How long a connection from a pod waits for the pod's workload to arrive over xDS (a pod
  // that connects right after it started can be quicker than the push).
  std::chrono::milliseconds workload_wait{5000};
  // How long a connection waits for its pod's first certificate (a ztunnel fresh from a
  // rolling restart accepts before the CA answered).
  std::chrono::milliseconds certificate_wait{10000};
  // HTTP/2 tuning of every HBONE connection (client and server).
  http2::SessionConfig http2;
  // A pooled HBONE client connection with no stream for this long sends GOAWAY and closes
  // (mesh::HboneClientPool invariant 5; 0: never).
  std::chrono::milliseconds pool_idle_timeout = mesh::HboneClientPool::kDefaultIdleTimeout;
  // When a tunnel gets a connection of its own rather than sharing a busy one
  // (mesh::HboneClientPool invariant 6).
  mesh::PoolSpread pool_spread;
  // Sees every completed connection's record (tests; production logs them only).
  ConnectionRegistry::Observer observer;
};

// The data path's metric families, registered once in the process's registry and shared by
// every worker (each looks its series up once, then counts without a lock).
struct DataPathMetrics {
  static Result<DataPathMetrics> create(metrics::Registry& registry);

  metrics::IstioTcpMetrics tcp;
  // warren_ztunnel_accepted_connections_total{worker, listener}: connections each worker
  // accepted on the pods' 15001/15006/15008; how the kernel spread them over the workers.
  metrics::CounterFamily* accepted = nullptr;
  // warren_ztunnel_accept_pauses_total{worker}: accepts the kernel ended with an error (EMFILE at
  // RLIMIT_NOFILE...), re-armed after a pause.
  metrics::CounterFamily* accept_pauses = nullptr;
  // warren_ztunnel_hbone_handovers_total{worker}: HBONE connections between two pods of this
  // node that a worker accepted while its pool holds their client end, and gave to the next
  // worker (Worker::acceptHbone).
  metrics::CounterFamily* handovers = nullptr;
};

// What a worker's proxies share: its loop, its view of the state, its connections and TLS
// contexts, and the node-wide pieces (state store, certificates, sockets, options).
struct WorkerContext {
  WorkerContext(uring::EventLoop& l, const mesh::SnapshotStore& s, mesh::CertificateSource& c,
                DataPathSockets& so, const DataPlaneOptions& o, metrics::IstioTcpMetrics& m,
                std::function<uint64_t()> next_id)
      : loop(l),
        state(s),
        store(s),
        certs(c),
        sockets(so),
        options(o),
        connections(l, m, std::move(next_id), o.observer),
        client_tls(tls::TlsRole::kClient, c),
        server_tls(tls::TlsRole::kServer, c) {}

  // Run `then` on the loop once the certificate of `id` is held / the workload `uid` is in the
  // state, or when the option's wait passed (event-driven: CertificateSource::whenReady,
  // SnapshotStore::whenWorkload); `then` looks again and fails the connection if still not.
  void awaitCertificate(const identity::SpiffeId& id, std::function<void()> then);
  void awaitWorkload(const std::string& uid, std::function<void()> then);

  uring::EventLoop& loop;
  mesh::SnapshotReader state;
  const mesh::SnapshotStore& store;
  mesh::CertificateSource& certs;
  DataPathSockets& sockets;
  const DataPlaneOptions& options;
  ConnectionRegistry connections;
  mesh::TlsContextCache client_tls;
  mesh::TlsContextCache server_tls;
};

}  // namespace warren::ztunnel
