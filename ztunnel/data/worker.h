// What one data-path worker thread owns (ztunnel/data/README.md): its event loop, its view of
// the state, its accept operations on every pod's listeners, its pool of outbound HBONE
// connections, its server connections and the proxied connections it carries. Nothing here is
// shared between workers; the DataPlane reaches a worker only through loop->post().
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/accesslog/connection_record.h"
#include "common/identity/spiffe_id.h"
#include "common/metrics/istio_tcp_metrics.h"
#include "common/relay/stream_relay.h"
#include "common/tls/tls_context.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/hbone/hbone_connection.h"
#include "mesh/rbac/rbac_evaluator.h"
#include "mesh/routing/random_source.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/control/enrolled_pod.h"

namespace warren::ztunnel {

// One proxied connection, from accept to close: what /connections, the istio_tcp_* metrics
// and the access log say about it.
struct ProxyConnection {
  uint64_t id = 0;
  std::string direction;  // "outbound" | "inbound"
  accesslog::ConnectionRecord record;
  metrics::TrafficLabels labels;
  metrics::TcpConnectionCounters counters;  // looked up once, when it opens
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::shared_ptr<relay::StreamRelay> relay;
  std::string policy_decision = "ALLOW";
  std::string policy_name;
  // Inbound: what RBAC is re-evaluated against when the policies change.
  std::optional<mesh::ConnectionContext> rbac;
  std::string local_workload_uid;
  bool closing = false;

  nlohmann::json toJson() const;
};

// Per-identity TLS contexts, rebuilt when the certificate behind them rotated.
class TlsContextCache {
 public:
  explicit TlsContextCache(tls::TlsRole role) : role_(role) {}
  // Null when no valid certificate is held for `id` yet.
  const tls::TlsContext* get(mesh::CertificateManager& certs, const identity::SpiffeId& id,
                             std::string* error);

 private:
  struct Entry {
    mesh::CertificateManager::CertPtr cert;
    std::optional<tls::TlsContext> ctx;
  };
  tls::TlsRole role_;
  std::map<std::string, Entry> entries_;
};

class DataPlane;

struct Worker {
  Worker(DataPlane& p, unsigned i, uring::EventLoop& l, const mesh::SnapshotStore& store)
      : plane(p), index(i), loop(l), reader(store), random(0x5eed0000ULL + i) {}

  struct PodAccept {
    std::shared_ptr<const EnrolledPod> pod;
    UniqueFd outbound, inbound_plain, hbone;  // this worker's duplicates of the listeners
  };

  DataPlane& plane;
  unsigned index;
  uring::EventLoop& loop;
  mesh::SnapshotReader reader;
  mesh::SeededRandom random;
  std::map<std::string, PodAccept> pods;  // by uid
  // Outbound pool: key -> connections (ZT: pool keyed by source identity, destination
  // identities and destination address; at most 100 streams each).
  std::map<std::string, std::vector<std::shared_ptr<mesh::HboneConnection>>> pool;
  std::map<mesh::HboneConnection*, std::weak_ptr<mesh::HboneConnection>>
      servers;  // accepted on 15008
  std::map<uint64_t, std::shared_ptr<ProxyConnection>> connections;
  TlsContextCache client_tls{tls::TlsRole::kClient};
  TlsContextCache server_tls{tls::TlsRole::kServer};
  bool draining = false;
};

// --- the three accept paths (outbound.cc, inbound.cc)
void acceptOutbound(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);
void acceptHbone(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);
// The same, waiting (on the loop) until `deadline` for the pod's first certificate.
void acceptHboneBy(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd,
                   std::chrono::steady_clock::time_point deadline);
void acceptInboundPlain(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);
// Re-runs RBAC for the worker's inbound connections after a policy change; denied ones end.
void reevaluateInbound(Worker& w);

// --- shared by the paths (proxy_connection.cc)
// Connects a new socket created inside the pod's netns (ztunnel's mark set, so the eBPF
// redirect leaves it alone) to `to`; `done` gets the connected socket or why not.
void connectFromPod(Worker& w, const EnrolledPod& pod, const net::SocketAddress& to,
                    std::function<void(Result<UniqueFd>)> done);
// Registers the connection and starts copying between `source_side` and `dest_side`.
void startRelay(Worker& w, std::shared_ptr<ProxyConnection> conn,
                std::unique_ptr<relay::ByteStream> source_side,
                std::unique_ptr<relay::ByteStream> dest_side);
// A connection that ended before any byte was relayed: counted, logged with `flags`.
void finishRejected(Worker& w, ProxyConnection& conn, const std::string& flags,
                    const std::string& error);
// Source/destination labels of a workload.
void describeSource(ProxyConnection& c, const mesh::Workload* w, const std::string& identity);
void describeDestination(ProxyConnection& c, const mesh::Workload* w, const std::string& identity);

}  // namespace warren::ztunnel
