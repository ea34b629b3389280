// One data-path worker thread (ztunnel/README.md "The data path"): its event loop, its view of
// the state, its accept operations on every pod's listeners, its HBONE client pool and server
// connections, and the connections it carries. Nothing here is shared between workers; the
// DataPlane reaches a worker only through loop.post(), and every method runs on the worker's
// thread.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/accesslog/connection_record.h"
#include "common/http2/session_config.h"
#include "common/metrics/istio_tcp_metrics.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "mesh/control/certificate_source.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "mesh/hbone/tls_context_cache.h"
#include "mesh/routing/random_source.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/control/enrolled_pod.h"
#include "ztunnel/control/pod_listeners.h"
#include "ztunnel/data/connection_registry.h"
#include "ztunnel/data/data_path_sockets.h"
#include "ztunnel/data/inbound_proxy.h"
#include "ztunnel/data/outbound_proxy.h"
#include "ztunnel/data/worker_context.h"

namespace warren::ztunnel {

class Worker {
 public:
  // Runs `task` on worker `to`'s thread, soon; false when that cannot be (the plane stopping).
  using PostToWorker = std::function<bool(unsigned to, std::function<void(Worker&)> task)>;

  // `workers` in the plane, reached through `post` (empty with one worker).
  Worker(unsigned index, uring::EventLoop& loop, const mesh::SnapshotStore& store,
         mesh::CertificateSource& certs, DataPathSockets& sockets, const DataPlaneOptions& options,
         DataPathMetrics& metrics, std::function<uint64_t()> next_id, unsigned workers,
         PostToWorker post);

  // This worker's own listeners of a pod (15001, 15006, 15008: its sockets in each port's
  // SO_REUSEPORT group).
  void addPod(std::shared_ptr<const EnrolledPod> pod, ListenerSet listeners);
  void removePod(const std::string& uid);
  // A new snapshot was published: open inbound connections are authorized again.
  void onSnapshot() { inbound_.reevaluate(); }
  // Stops accepting (closes its listener copies) and GOAWAYs its HBONE server connections.
  void drain();
  // On the worker's own thread after its loop stopped, while the loop still exists: closes
  // everything it owns and takes back every wait it registered.
  void shutdown();

  // The open connections, each with this worker's index ("worker").
  nlohmann::json connections() const;
  size_t connectionCount() const { return ctx_.connections.size(); }
  struct Stats {
    size_t connections = 0;         // proxied connections open
    size_t client_connections = 0;  // pooled HBONE client connections
    size_t server_connections = 0;  // HBONE connections accepted on 15008
    size_t buffered_bytes = 0;      // held by relays, HBONE streams and sessions
    // Per-connection state that must go when the connections go (tests count it).
    size_t tracked_streams = 0;  // HTTP/2 streams and stream handlers of the HBONE connections
    size_t loop_operations = 0;  // I/O operations and timers in flight on the worker's loop
    uint64_t loop_wakeups = 0;   // eventfd wake-ups of the worker's loop so far
    uint64_t quiet_sends = 0;    // sends the loop slept through (uring::SendFollower)
    uint64_t quiet_sends_late = 0;  // ... that did not complete during their submission
  };
  Stats stats() const;

 private:
  struct PodAccept {
    std::shared_ptr<const EnrolledPod> pod;
    ListenerSet listeners;
  };
  void armAccept(int listener, const std::shared_ptr<const EnrolledPod>& pod, ListenerKind kind);
  void rearmAcceptLater(int listener, const std::shared_ptr<const EnrolledPod>& pod, ListenerKind kind);
  // 15008: served here, or by the next worker when this one's pool dialled the connection
  // (HboneClientPool::dialled, by its two addresses). Both ends of a connection between two
  // pods of this node are in this ztunnel: the client end on the worker whose pool dialled, the
  // server end on whichever worker's socket the kernel's SO_REUSEPORT hash picked. On one
  // worker, one thread would run both TLS ends of every byte while the others idle
  // (bench/README.md, "The same-node one-stream figure was bimodal"). The accepting worker asks
  // its own pool: the dialling worker's loop may see the accept before the connect completes,
  // so a table filled on connect would miss.
  void acceptHbone(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd conn);

  // After the kernel ends an accept with an error (EMFILE at RLIMIT_NOFILE...), the pause
  // before accepting again: short enough that a queued client barely notices once descriptors
  // are free, long enough not to spin (Go's net/http server starts its accept back-off at 5 ms
  // and caps it at 1 s; a fixed 100 ms sits in between).
  static constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

  unsigned index_;
  unsigned workers_;
  PostToWorker post_;
  WorkerContext ctx_;
  mesh::SeededRandom random_;
  mesh::HboneClientPool pool_;
  OutboundProxy outbound_;
  InboundProxy inbound_;
  std::map<std::string, PodAccept> pods_;  // by uid
  // Connections accepted per listener kind (warren_ztunnel_accepted_connections_total).
  std::array<metrics::Counter*, 3> accepted_{};
  bool draining_ = false;
  bool stopped_ = false;  // shutdown() ran: a connection handed over now is closed
  metrics::Counter* accept_pauses_ = nullptr;  // warren_ztunnel_accept_pauses_total{worker}
  metrics::Counter* handovers_ = nullptr;      // warren_ztunnel_hbone_handovers_total{worker}
  std::chrono::steady_clock::time_point last_accept_warning_{};
};

}  // namespace warren::ztunnel
