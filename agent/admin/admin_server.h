// The agent admin API: HTTP/1.1 + JSON on <run-dir>/admin.sock (mode 0660), served with
// warren_http. The contract (paths, envelopes, item shapes, errors) is written in
// warrenctl/README.md "The agent admin API"; warrenctl is its client.
//
//   GET /api/v1/workloads | services | policies      the cluster model (cluster_documents.h)
//   GET /api/v1/certificates | connections           proxied from ztunnel's admin endpoint
//   GET /api/v1/redirection                          eBPF pins + enrolment (redirection_document.h)
//   GET /api/v1/xds/subscribers                      the xDS servers' bookkeeping (both sockets)
//   GET /api/v1/waypoints | routes[?waypoint=ns/name] waypoint_documents.h
//   GET /api/v1/config_dump                          all of the above in one object
//   GET|PUT /api/v1/log[?component=agent|ztunnel][&level=L]
//   GET /api/v1/version
//
// Handlers run on the server's one thread: the proxied ones wait at most kZtunnelTimeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/cli/agent_options.h"
#include "agent/controller/waypoint_controller.h"
#include "agent/model/cluster_model.h"
#include "agent/redirect/enrolment_controller.h"
#include "agent/translate/workload_translation.h"
#include "agent/xds/delta_xds_service.h"
#include "common/error.h"
#include "common/http/http_server.h"

namespace warren::agent::admin {

// Everything the API reads. Pointers are borrowed and must outlive the server; xds and
// enrolment may be null (not started).
struct AdminSources {
  AgentOptions options;
  TranslationContext translation;
  ClusterModel* model = nullptr;
  const DeltaXdsService* xds = nullptr;
  const EnrolmentController* enrolment = nullptr;
  const DeltaXdsService* proxy_xds = nullptr;      // <run-dir>/proxy/xds.sock (waypoints)
  const WaypointController* controller = nullptr;  // --controller
};

// ztunnel answers its admin endpoint from one thread of its own; a second is plenty.
inline constexpr std::chrono::milliseconds kZtunnelTimeout{2'000};

class AdminServer {
 public:
  // Binds <run-dir>/admin.sock (replacing a stale socket) and serves on a thread of its own.
  // Fails naming --ztunnel-admin when that is not an address.
  static Result<std::unique_ptr<AdminServer>> start(AdminSources sources);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  const http::ListenAddress& address() const { return server_->address(); }

 private:
  AdminServer(AdminSources sources, http::ListenAddress ztunnel);
  http::Router routes();

  AdminSources sources_;
  http::ListenAddress ztunnel_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace warren::agent::admin
