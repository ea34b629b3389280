// The agent admin API's routes: each handler builds its document from the sources (the cluster
// model, the enrolment controller, the xDS server, the eBPF pins, ztunnel's admin endpoint).
// Apart from the socket that serves them (admin_server.h), so the fuzz target
// fuzz/admin_api_fuzz.cc dispatches requests through the same router without a server.
// The contract (paths, envelopes, item shapes, errors) is in warrenctl/README.md.
//
//   GET /api/v1/workloads | services | policies      the cluster model (cluster_documents.h)
//   GET /api/v1/certificates | connections           proxied from ztunnel's admin endpoint
//   GET /api/v1/redirection                          eBPF pins + enrolment (redirection_document.h)
//   GET /api/v1/xds/subscribers                      the xDS servers' bookkeeping (both sockets)
//   GET /api/v1/waypoints | routes[?waypoint=ns/name] waypoint_documents.h
//   GET /api/v1/config_dump                          all of the above in one object
//   GET|PUT /api/v1/log[?component=agent|ztunnel][&level=L]
//   GET /api/v1/version
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
#include "common/http/listen_address.h"
#include "common/http/router.h"

namespace warren::agent::admin {

// Everything the API reads. Pointers are borrowed and must outlive the routes; xds and
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

class AdminRoutes {
 public:
  // Fails naming --ztunnel-admin when that is not an address.
  static Result<std::unique_ptr<AdminRoutes>> create(AdminSources sources);
  AdminRoutes(const AdminRoutes&) = delete;
  AdminRoutes& operator=(const AdminRoutes&) = delete;

  // The handlers borrow *this: it must outlive the router. The proxied ones wait at most
  // kZtunnelTimeout for ztunnel.
  http::Router router();
  const http::ListenAddress& ztunnel() const { return ztunnel_; }

 private:
  AdminRoutes(AdminSources sources, http::ListenAddress ztunnel);

  AdminSources sources_;
  http::ListenAddress ztunnel_;
};

}  // namespace warren::agent::admin
