#include "agent/node/node_agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "agent/admin/admin_server.h"
#include "agent/ca/ca_service.h"
#include "agent/config/kube_api_informer.h"
#include "agent/config/manifest_dir_informer.h"
#include "agent/controller/waypoint_controller.h"
#include "agent/proxy/proxy_socket_server.h"
#include "agent/proxy/waypoint_ca_service.h"
#include "bpf/loader/inbound_registration.h"
#include "common/kube/kube_api_store.h"
#include "common/kube/manifest_store.h"

namespace warren::agent {

NodeAgent::NodeAgent(AgentOptions options) : options_(std::move(options)) {
  translation_.trust_domain = options_.trust_domain;
}

NodeAgent::~NodeAgent() { stop(); }

Result<std::unique_ptr<Informer>> NodeAgent::makeInformer() const {
  if (!options_.manifests.empty())
    return std::unique_ptr<Informer>(std::make_unique<ManifestDirInformer>(options_.manifests));
  auto cfg = discoverKubeApiConfig();
  if (!cfg) return fail(cfg.error().wrap("no --manifests and no Kubernetes API"));
  return std::unique_ptr<Informer>(std::make_unique<KubeApiInformer>(std::move(*cfg)));
}

Status NodeAgent::start() {
  spdlog::info("warren-agent starting: node {} ip {} run dir {} trust domain {}", options_.node,
               options_.node_ip.empty() ? "-" : options_.node_ip, options_.run_dir,
               options_.trust_domain);
  // Root only: the sockets in it hand out pod netns, certificates and the node's state.
  if (::mkdir(options_.run_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(WARREN_SYS_ERROR("create run dir " + options_.run_dir));
  if (::chmod(options_.run_dir.c_str(), 0700) != 0)
    return fail(WARREN_SYS_ERROR("make run dir " + options_.run_dir + " root-only"));

  if (!options_.controller_only) {
    subscriptions_.push_back(
        model_.subscribe([this](const SnapshotPtr& s) { logEnrolmentChanges(s); }));
    if (auto s = startCapture(); !s) return s;
    subscriptions_.push_back(
        model_.subscribe([this](const SnapshotPtr& s) { xds_store_.update(*s, translation_); }));
    WARREN_TRY(startGrpc());
    WARREN_TRY(startProxySocket());
  }
  if (options_.controller) WARREN_TRY(startController());
  auto admin = admin::AdminServer::start({options_, translation_, &model_, xds_.get(),
                                          enrolment_.get(), proxy_xds_.get(), controller_.get()});
  if (!admin) return fail(admin.error());
  admin_ = std::move(*admin);

  auto informer = makeInformer();
  if (!informer) return fail(informer.error());
  informer_ = std::move(*informer);
  spdlog::info("config source: {}", informer_->describe());
  if (auto s = informer_->start([this](ConfigUpdate u) { model_.apply(std::move(u)); }); !s)
    return fail(s.error().wrap("starting " + informer_->describe()));
  if (enrolment_) enrolment_->initialSync();
  return ok();
}

Status NodeAgent::startController() {
  std::unique_ptr<kube::ObjectStore> store;
  if (!options_.manifests.empty()) {
    store = std::make_unique<kube::ManifestStore>(options_.manifests);
  } else {
    auto cfg = discoverKubeApiConfig();
    if (!cfg) return fail(cfg.error().wrap("controller: no --manifests and no Kubernetes API"));
    store = std::make_unique<kube::KubeApiStore>(std::move(*cfg));
  }
  WaypointController::Options o;
  o.lease.identity = options_.controller_id;
  if (o.lease.identity.empty()) {
    const char* pod = std::getenv("POD_NAME");
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.lease.identity = pod && *pod ? pod
                                   : (options_.node.empty() ? std::string(host) : options_.node) +
                                         "-" + std::to_string(::getpid());
  }
  o.lease.lease_namespace = options_.lease_namespace;
  o.deployment.image = options_.waypoint_image;
  o.deployment.trust_domain = options_.trust_domain;
  o.deployment.log_level = options_.log_level;
  o.translation = translation_;
  controller_ = std::make_unique<WaypointController>(model_, std::move(store), std::move(o));
  controller_->start();
  return ok();
}

Status NodeAgent::startGrpc() {
  xds_ = std::make_unique<DeltaXdsService>(xds_store_);
  std::vector<grpc::Service*> services{xds_.get()};
  if (!options_.ca_dir.empty()) {
    auto ca = NodeCertificateAuthority::load(options_.ca_dir, options_.node, options_.trust_domain);
    if (!ca) return fail(ca.error());
    node_ca_ = std::make_shared<const NodeCertificateAuthority>(std::move(*ca));
    ca_ = std::make_unique<CaService>(node_ca_, model_);
    services.push_back(ca_.get());
    spdlog::info("CA: signing for pods on node {} from {}", options_.node, options_.ca_dir);
  } else {
    spdlog::warn("no --ca-dir: the CA service is off");
  }
  return grpc_.start(options_.run_dir + "/xds.sock", services);
}

Status NodeAgent::startProxySocket() {
  proxy_xds_ = std::make_unique<DeltaXdsService>(
      xds_store_, [this](grpc::ServerContext& ctx) -> Result<XdsStreamScope> {
        auto caller = ProxySocketServer::waypointOf(ctx, *model_.snapshot(), options_.node,
                                                    options_.trust_domain);
        if (!caller) return fail(caller.error());
        return XdsStreamScope{false, caller->waypoint, caller->describe()};
      });
  std::vector<grpc::Service*> services{proxy_xds_.get()};
  if (node_ca_) {
    waypoint_ca_ = std::make_unique<WaypointCaService>(node_ca_, model_, options_.trust_domain);
    services.push_back(waypoint_ca_.get());
  }
  auto server = ProxySocketServer::start(options_.run_dir + "/proxy/xds.sock", services);
  if (!server) return fail(server.error());
  proxy_socket_ = std::move(*server);
  return ok();
}

void NodeAgent::stop() {
  admin_.reset();
  if (controller_) controller_->stop();
  if (proxy_xds_) proxy_xds_->stop();
  proxy_socket_.reset();
  if (xds_) xds_->stop();
  grpc_.stop();
  if (informer_) {
    informer_->stop();
    informer_.reset();
  }
  for (auto id : subscriptions_) model_.unsubscribe(id);
  subscriptions_.clear();
  cni_.reset();
  if (enrolment_) enrolment_->stop();
  enrolment_.reset();
  zds_.reset();
}

// ZDS ack timeout: a ztunnel that does not ack within this is dropped (Istio waits 5 s too).
constexpr auto kZdsAckTimeout = std::chrono::seconds(5);

Status NodeAgent::startCapture() {
  auto zds = zds::ZdsServer::start(options_.run_dir + "/zds.sock", kZdsAckTimeout);
  if (!zds) return fail(zds.error());
  zds_ = std::move(*zds);

  std::unique_ptr<redirect::RedirectDataplane> dataplane;
  if (options_.cgroup.empty()) {
    spdlog::warn("no --cgroup: eBPF capture is off (ZDS and CNI still served)");
  } else {
    auto dp = redirect::RedirectDataplane::open(
        {options_.bpf_pin_dir, options_.cgroup, options_.sockmap_fast_path, options_.pod_cidr,
         options_.run_dir});
    if (!dp) return fail(dp.error().wrap("eBPF capture"));
    if (auto s = redirect::writePinDirFile(options_.run_dir, options_.bpf_pin_dir); !s)
      return fail(s.error());
    spdlog::info("eBPF capture attached to {} (pins in {})", options_.cgroup, options_.bpf_pin_dir);
    dataplane = std::make_unique<redirect::RedirectDataplane>(std::move(*dp));
  }
  enrolment_ = std::make_unique<EnrolmentController>(
      options_.node, options_.node_ip, std::move(dataplane), *zds_,
      PodNetnsStore(PodNetnsStore::dirIn(options_.run_dir)));
  enrolment_->start();
  subscriptions_.push_back(
      model_.subscribe([this](const SnapshotPtr& s) { enrolment_->onSnapshot(s); }));
  auto cni = cni::CniServer::start(
      options_.run_dir + "/cni.sock",
      [this](const cni::AgentCniRequest& r) { return enrolment_->handleCni(r); });
  if (!cni) return fail(cni.error());
  cni_ = std::move(*cni);
  return ok();
}

void NodeAgent::logEnrolmentChanges(const SnapshotPtr& snap) {
  std::vector<EnrolledPod> now = enrolledPodsOnNode(*snap, options_.node);
  for (const EnrolledPod& p : now) {
    auto it = std::find_if(last_enrolled_.begin(), last_enrolled_.end(), [&](const EnrolledPod& o) {
      return o.namespace_ == p.namespace_ && o.name == p.name;
    });
    if (it == last_enrolled_.end())
      spdlog::info("pod {}/{} enrolled (ip {}, sa {})", p.namespace_, p.name,
                   p.pod_ip.empty() ? "-" : p.pod_ip, p.service_account);
  }
  for (const EnrolledPod& p : last_enrolled_) {
    auto it = std::find_if(now.begin(), now.end(), [&](const EnrolledPod& o) {
      return o.namespace_ == p.namespace_ && o.name == p.name;
    });
    if (it == now.end()) spdlog::info("pod {}/{} left the mesh", p.namespace_, p.name);
  }
  last_enrolled_ = std::move(now);
}

}  // namespace warren::agent
