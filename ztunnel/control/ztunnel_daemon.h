// The control half of warren-ztunnel: the state store, the xDS, CA and ZDS clients, the
// certificate manager, and the node-netns HTTP endpoints (admin 127.0.0.1:15000:
// /config_dump, /api/v1/log; metrics :15020 /metrics; readiness :15021 /healthz/ready, 200
// once xDS synced and the ZDS snapshot arrived). The data path (workers, per-pod accept loops)
// plugs into store() / certificates() / the pod table next.
//
// Threads: the xDS client, the ZDS client, the certificate manager and the capture pin keeper
// each run one; every HTTP server runs one; the caller's thread only starts and stops.
#pragma once

#include <memory>
#include <optional>

#include "common/error.h"
#include "common/http/http_server.h"
#include "common/metrics/registry.h"
#include "mesh/control/ca_client.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/control/xds_client.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/control/capture_pin_keeper.h"
#include "ztunnel/control/zds_client.h"
#include "ztunnel/control/ztunnel_options.h"
#include "ztunnel/data/data_plane.h"

namespace warren::ztunnel {

class ZtunnelDaemon {
 public:
  explicit ZtunnelDaemon(ZtunnelOptions options);
  ~ZtunnelDaemon();

  // Binds the HTTP endpoints (an error names the one that failed) and starts the clients,
  // which retry on their own until the control plane is up.
  Status start();
  void stop();
  // SIGTERM: stop accepting (a ztunnel started beside this one takes the listeners over),
  // GOAWAY on HBONE connections, wait until connections finish or `deadline` passes.
  void drain(std::chrono::steady_clock::time_point deadline);

  bool ready() const;
  mesh::SnapshotStore& store() { return store_; }
  mesh::CertificateManager& certificates() { return *certs_; }
  ZdsClient& zds() { return *zds_; }
  DataPlane* dataPlane() { return data_.get(); }
  mesh::XdsClient& xds() { return *xds_; }
  // Bound endpoints (the real port when 0 was asked for); valid after start().
  http::ListenAddress adminAddress() const { return admin_->address(); }
  http::ListenAddress metricsAddress() const { return metrics_->address(); }
  http::ListenAddress readinessAddress() const { return readiness_->address(); }
  // The /config_dump body.
  nlohmann::json configDump() const;

 private:
  void onSnapshot(const std::shared_ptr<const mesh::StateSnapshot>& snapshot);
  void onPods(const ZdsClient::Pods& pods);
  std::vector<metrics::FamilySnapshot> collect() const;
  std::optional<metrics::FamilySnapshot> redirectDecisions() const;

  ZtunnelOptions options_;
  mesh::SnapshotStore store_;
  std::unique_ptr<mesh::CaClient> ca_;
  std::unique_ptr<mesh::CertificateManager> certs_;
  std::unique_ptr<mesh::XdsClient> xds_;
  // Data-path workers, resolved once (--workers, 0 = one per core): the DataPlane's worker
  // count and the listening sockets per pod port ZDS binds for them.
  unsigned data_workers_ = 1;
  std::unique_ptr<DataPlane> data_;  // before zds_: ZDS hands pods to it
  std::unique_ptr<ZdsClient> zds_;
  std::unique_ptr<CapturePinKeeper> capture_pins_;
  metrics::Registry registry_;
  std::unique_ptr<http::HttpServer> admin_, metrics_, readiness_;
};

}  // namespace warren::ztunnel
