// The running agent: one config source (manifest directory or Kubernetes API) feeding the
// cluster model, and the components that subscribe to it (the enrolment log here; the xDS
// and CA servers; the eBPF reconciler, ZDS and CNI servers added by their owners). start()
// brings everything up or fails naming the part that could not start; stop() tears down in
// reverse order.
#pragma once

#include <memory>
#include <vector>

#include "agent/ca/node_certificate_authority.h"
#include "agent/cli/agent_options.h"
#include "agent/cni/cni_server.h"
#include "agent/config/informer.h"
#include "agent/model/cluster_model.h"
#include "agent/model/enrolment.h"
#include "agent/redirect/enrolment_controller.h"
#include "agent/translate/workload_translation.h"
#include "agent/xds/delta_xds_service.h"
#include "agent/xds/grpc_socket_server.h"
#include "agent/xds/xds_resource_store.h"
#include "agent/zds/zds_server.h"

namespace warren::agent {
class CaService;
class WaypointCaService;
class ProxySocketServer;
class WaypointController;
namespace admin {
class AdminServer;
}
}  // namespace warren::agent

namespace warren::agent {

class NodeAgent {
 public:
  explicit NodeAgent(AgentOptions options);
  ~NodeAgent();

  Status start();
  void stop();

  const AgentOptions& options() const { return options_; }
  ClusterModel& model() { return model_; }
  // Per-subscriber xDS state (acked versions, NACKs), for the admin API.
  const DeltaXdsService* xds() const { return xds_.get(); }
  const CaService* ca() const { return ca_.get(); }
  // The proxy socket's xDS server (waypoint subscribers), for the admin API.
  const DeltaXdsService* proxyXds() const { return proxy_xds_.get(); }
  // The waypoint controller role (null without --controller).
  const WaypointController* controller() const { return controller_.get(); }
  // Enrolled pods with their netns (null before start()), for the admin API.
  const EnrolmentController* enrolment() const { return enrolment_.get(); }

 private:
  Result<std::unique_ptr<Informer>> makeInformer() const;
  // eBPF capture, ZDS and CNI servers, and the controller joining them to the model.
  Status startCapture();
  void logEnrolmentChanges(const SnapshotPtr& snap);

  Status startGrpc();
  // <run-dir>/proxy/xds.sock: delta xDS + CA for waypoint pods, bound to the calling pod.
  Status startProxySocket();
  // --controller: where it writes (the manifest directory or the Kubernetes API) and the role.
  Status startController();

  AgentOptions options_;
  TranslationContext translation_;
  ClusterModel model_;
  XdsResourceStore xds_store_;
  std::unique_ptr<DeltaXdsService> xds_;
  std::shared_ptr<const NodeCertificateAuthority> node_ca_;
  std::unique_ptr<CaService> ca_;
  GrpcSocketServer grpc_;
  std::unique_ptr<DeltaXdsService> proxy_xds_;
  std::unique_ptr<WaypointCaService> waypoint_ca_;
  std::unique_ptr<ProxySocketServer> proxy_socket_;
  std::unique_ptr<Informer> informer_;
  std::vector<ClusterModel::SubscriptionId> subscriptions_;
  std::vector<EnrolledPod> last_enrolled_;
  std::unique_ptr<zds::ZdsServer> zds_;
  std::unique_ptr<EnrolmentController> enrolment_;
  std::unique_ptr<cni::CniServer> cni_;
  std::unique_ptr<WaypointController> controller_;
  std::unique_ptr<admin::AdminServer> admin_;  // <run-dir>/admin.sock
};

}  // namespace warren::agent
