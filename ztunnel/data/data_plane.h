// The data path of warren-ztunnel: worker threads (one io_uring each, epoll as fallback) that
// accept on every enrolled pod's 15001/15006/15008 listeners and proxy connections through
// HBONE. The control half (ZtunnelDaemon) feeds it pods (ZDS), state (SnapshotStore) and
// certificates (CertificateSource); its sockets come from a DataPathSockets (production: the
// pod netns with mark 0x539). See ztunnel/README.md "The data path".
//
// Threads: pods arrive on the ZDS thread with one listener set per worker (one SO_REUSEPORT
// socket per port each); it duplicates set i for worker i and posts it; everything else happens on
// the workers. Admin calls (connections()) post a task to each worker and wait for its answer, so
// no connection state is ever shared. The entry points other threads call (addPod, removePod,
// onSnapshot, connections, connectionCount) may race stop(): they post only while the plane runs,
// under a lock stop() takes before any worker loop goes away; after stop() they do nothing (addPod
// refuses).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/metrics/istio_tcp_metrics.h"
#include "common/uring/worker_threads.h"
#include "mesh/control/certificate_source.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/control/enrolled_pod.h"
#include "ztunnel/control/pod_listeners.h"
#include "ztunnel/data/data_path_sockets.h"
#include "ztunnel/data/worker.h"

namespace warren::ztunnel {

class DataPlane {
 public:
  DataPlane(DataPlaneOptions options, const mesh::SnapshotStore& store,
            mesh::CertificateSource& certs, DataPathMetrics metrics,
            std::shared_ptr<DataPathSockets> sockets = std::make_shared<PodNetnsSockets>());
  ~DataPlane();

  Status start();
  // Stops accepting on every listener, sends GOAWAY on every HBONE server connection and
  // waits until the proxied connections finished or `deadline` passed.
  void drain(std::chrono::steady_clock::time_point deadline);
  void stop();

  // ZDS thread. A pod and its listeners, as the ZDS client hands them over: one set per worker
  // (an error otherwise). The fds are borrowed for the call: worker i keeps a duplicate of
  // set i, so each worker accepts on its own sockets and the kernel spreads connections.
  Status addPod(const std::shared_ptr<const EnrolledPod>& pod, const PodListeners& listeners);
  void removePod(const std::string& uid);
  // Control thread: a new snapshot was published (policies may have changed, workloads left).
  void onSnapshot();

  // Admin: the open connections of every worker, in the warrenctl connection shape.
  nlohmann::json connections();
  size_t connectionCount();
  // Summed over the workers (tests, /config_dump).
  Worker::Stats stats();
  // The worker loops' counters, summed without waiting for the loops (/metrics).
  uring::LoopStats loopCounters();
  std::string backendDescription() const { return backend_; }

 private:
  // Worker::PostToWorker: from a worker's thread; false while the plane is not running, or
  // while stop() holds the lock (it is joining the workers: waiting for it would deadlock).
  bool postToWorker(unsigned to, std::function<void(Worker&)> task);
  // Runs `fn` on every worker and waits (bounded) for all of them; nothing once stopped.
  void onEveryWorker(const std::function<void(Worker&)>& fn, std::chrono::milliseconds limit);

  DataPlaneOptions options_;
  const mesh::SnapshotStore& store_;
  mesh::CertificateSource& certs_;
  DataPathMetrics metrics_;
  std::shared_ptr<DataPathSockets> sockets_;
  std::unique_ptr<uring::WorkerThreads> threads_;
  std::vector<std::unique_ptr<Worker>> workers_;  // index = worker index
  // Shared by whoever posts to the workers from another thread, exclusive for stop() to end
  // `running_`: no task is ever posted to a loop that is stopping or gone.
  mutable std::shared_mutex life_mu_;
  bool running_ = false;
  std::atomic<uint64_t> next_id_{0};
  std::string backend_;
};

}  // namespace warren::ztunnel
