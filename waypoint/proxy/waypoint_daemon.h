// WaypointDaemon: warren-waypoint's control half and its workers. Threads: the xDS client
// (istio.workload.Address, istio.security.Authorization, warren.l7.v1.ServiceRoutes and
// warren.l7.v1.WaypointPolicy over the node's <run-dir>/proxy/xds.sock), the JWKS fetcher
// (jwksUri key sets), the certificate manager (the waypoint's own identity,
// from the same socket's CA: the agent signs only the calling pod's identity), one HTTP
// server thread each for admin (127.0.0.1 only), metrics and readiness, and the data-path
// workers (WaypointWorker, one event loop each).
//
// Who the waypoint is comes from the state: the workload at POD_IP, whose identity is
// spiffe://<td>/ns/<ns>/sa/<gateway's ServiceAccount>. Ready (GET /healthz/ready 200) once every
// xDS type synced, that workload is in the state and its certificate is held.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/http/http_server.h"
#include "common/metrics/registry.h"
#include "common/uring/worker_threads.h"
#include "mesh/control/ca_client.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/control/xds_client.h"
#include "mesh/state/snapshot_store.h"
#include "waypoint/proxy/jwks_fetcher.h"
#include "waypoint/proxy/policy_config.h"
#include "waypoint/proxy/request_admission.h"
#include "waypoint/proxy/route_config.h"
#include "waypoint/proxy/destination_control.h"
#include "waypoint/proxy/traffic_control.h"
#include "waypoint/proxy/waypoint_options.h"
#include "waypoint/proxy/waypoint_worker.h"
#include "waypoint/telemetry/otlp_exporter.h"
#include "waypoint/telemetry/request_telemetry.h"

namespace warren::waypoint {

class WaypointDaemon {
 public:
  explicit WaypointDaemon(WaypointOptions options);
  ~WaypointDaemon();

  // Binds every listener (an error names the one that failed), starts the clients (which
  // retry on their own until the agent answers) and the workers.
  Status start();
  // SIGTERM: stop accepting, GOAWAY on every HBONE connection, wait for open streams or the
  // deadline.
  void drain(std::chrono::steady_clock::time_point deadline);
  void stop();

  bool ready() const;
  std::string notReadyReason() const;
  std::shared_ptr<const RouteConfig> routes() const;
  std::shared_ptr<const PolicyConfig> policies() const;
  std::optional<identity::SpiffeId> identity() const;
  nlohmann::json configDump() const;
  nlohmann::json stats() const;
  // The workers' loop counters as /metrics families (warren_waypoint_loop_quiet_sends_total...).
  std::vector<metrics::FamilySnapshot> loopFamilies() const;
  uint16_t adminPort() const;
  uint16_t readinessPort() const;

 private:
  std::vector<std::string> applyRoutes(
      const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);
  std::vector<std::string> applyPolicies(
      const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);
  // Rebuilds the PolicyConfig from the resources and key sets held (xDS or JWKS thread).
  void rebuildPolicies();
  std::optional<net::SocketAddress> resolveInCluster(std::string_view host, uint16_t port) const;
  void onSnapshot(const std::shared_ptr<const mesh::StateSnapshot>& snapshot);
  // Runs `fn` on every worker's thread and gathers the results (admin endpoints).
  nlohmann::json onWorkers(const std::function<nlohmann::json(WaypointWorker&)>& fn) const;

  WaypointOptions options_;
  net::IpAddress pod_ip_;
  mesh::SnapshotStore store_;
  std::unique_ptr<mesh::CaClient> ca_;
  std::unique_ptr<mesh::CertificateManager> certs_;
  std::unique_ptr<mesh::XdsClient> xds_;
  WorkerShared shared_;

  // Routes: the resources held (xDS thread only) and the config built from them.
  std::map<std::string, l7::v1::ServiceRoutes> route_resources_;
  uint64_t route_pushes_ = 0;
  mutable std::mutex routes_mu_;
  std::shared_ptr<const RouteConfig> routes_;

  // L7 policies: resources and fetched key sets (under policy_build_mu_, from the xDS and
  // JWKS threads), the config built from them (policies_mu_, read by the workers).
  std::mutex policy_build_mu_;
  std::map<std::string, l7::v1::WaypointPolicy> policy_resources_;
  FetchedJwks fetched_jwks_;
  uint64_t policy_builds_ = 0;
  mutable std::mutex policies_mu_;
  std::shared_ptr<const PolicyConfig> policies_;
  std::unique_ptr<JwksFetcher> jwks_;

  mutable std::mutex identity_mu_;
  std::optional<identity::SpiffeId> identity_;

  std::vector<std::unique_ptr<WaypointWorker>> workers_;
  mutable std::mutex life_mu_;  // running_ and posting to the worker loops
  bool running_ = false;
  std::unique_ptr<uring::WorkerThreads> threads_;
  metrics::Registry registry_;  // served on :15020 (process, Istio request, tracing metrics)
  // After the registry they count in; the workers (stopped in stop()) use them.
  std::unique_ptr<OtlpExporter> exporter_;  // only with --tracing-otlp-endpoint
  std::unique_ptr<RequestTelemetry> telemetry_;
  std::unique_ptr<RequestAdmission> admission_;
  std::unique_ptr<TrafficControl> traffic_;
  std::unique_ptr<DestinationControl> destinations_;
  std::unique_ptr<http::HttpServer> admin_, metrics_, readiness_;
};

}  // namespace warren::waypoint
