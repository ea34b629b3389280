#include "agent/node/node_agent.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/ca/ca_service.h"
#include "agent/config/manifest_dir_informer.h"

namespace warren::agent {

NodeAgent::NodeAgent(AgentOptions options) : options_(std::move(options)) {
  translation_.trust_domain = options_.trust_domain;
}

NodeAgent::~NodeAgent() { stop(); }

Result<std::unique_ptr<Informer>> NodeAgent::makeInformer() const {
  if (!options_.manifests.empty())
    return std::unique_ptr<Informer>(std::make_unique<ManifestDirInformer>(options_.manifests));
  return fail(Error::invalid("no config source: pass --manifests DIR"));
}

Status NodeAgent::start() {
  spdlog::info("warren-agent starting: node {} ip {} run dir {} trust domain {}", options_.node,
               options_.node_ip.empty() ? "-" : options_.node_ip, options_.run_dir,
               options_.trust_domain);
  if (::mkdir(options_.run_dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(WARREN_SYS_ERROR("create run dir " + options_.run_dir));

  subscriptions_.push_back(model_.subscribe([this](const SnapshotPtr& s) { logEnrolmentChanges(s); }));
  subscriptions_.push_back(
      model_.subscribe([this](const SnapshotPtr& s) { xds_store_.update(*s, translation_); }));
  WARREN_TRY(startGrpc());

  auto informer = makeInformer();
  if (!informer) return fail(informer.error());
  informer_ = std::move(*informer);
  spdlog::info("config source: {}", informer_->describe());
  if (auto s = informer_->start([this](ConfigUpdate u) { model_.apply(std::move(u)); }); !s)
    return fail(s.error().wrap("starting " + informer_->describe()));
  return ok();
}

Status NodeAgent::startGrpc() {
  xds_ = std::make_unique<DeltaXdsService>(xds_store_);
  std::vector<grpc::Service*> services{xds_.get()};
  if (!options_.ca_dir.empty()) {
    auto ca = NodeCertificateAuthority::load(options_.ca_dir, options_.node, options_.trust_domain);
    if (!ca) return fail(ca.error());
    ca_ = std::make_unique<CaService>(std::move(*ca), model_);
    services.push_back(ca_.get());
    spdlog::info("CA: signing for pods on node {} from {}", options_.node, options_.ca_dir);
  } else {
    spdlog::warn("no --ca-dir: the CA service is off");
  }
  return grpc_.start(options_.run_dir + "/xds.sock", services);
}

void NodeAgent::stop() {
  if (xds_) xds_->stop();
  grpc_.stop();
  if (informer_) {
    informer_->stop();
    informer_.reset();
  }
  for (auto id : subscriptions_) model_.unsubscribe(id);
  subscriptions_.clear();
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
