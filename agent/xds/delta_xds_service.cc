#include "agent/xds/delta_xds_service.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <set>
#include <thread>

namespace warren::agent {

namespace ds = envoy::service::discovery::v3;

namespace {

// How often a waiting stream re-checks for cancellation when nothing else wakes it.
constexpr auto kCancelPoll = std::chrono::milliseconds(200);

struct TypeSubscription {
  bool started = false;  // first request for this type seen
  bool wildcard = false;
  std::set<std::string> names;
  std::map<std::string, std::string> held;  // name -> version the client holds
  bool force_send = false;                  // answer even if the diff is empty
};

}  // namespace

class DeltaXdsService::Stream {
 public:
  Stream(DeltaXdsService& svc, grpc::ServerContext* ctx,
         grpc::ServerReaderWriter<ds::DeltaDiscoveryResponse, ds::DeltaDiscoveryRequest>* rw,
         std::shared_ptr<XdsSubscriberInfo> info, XdsStreamScope scope)
      : svc_(svc), ctx_(ctx), rw_(rw), info_(std::move(info)), scope_(std::move(scope)) {}

  grpc::Status run() {
    std::thread reader([this] { readLoop(); });
    grpc::Status status = loop();
    // The reader ends when the stream is cancelled or the client half-closes.
    ctx_->TryCancel();
    reader.join();
    return status;
  }

 private:
  void readLoop() {
    ds::DeltaDiscoveryRequest req;
    while (rw_->Read(&req)) {
      {
        std::lock_guard lock(queue_mu_);
        queue_.push_back(std::move(req));
      }
      svc_.store_.wake();
      req.Clear();
    }
    read_done_ = true;
    svc_.store_.wake();
  }

  bool hasQueued() {
    std::lock_guard lock(queue_mu_);
    return !queue_.empty() || read_done_;
  }

  grpc::Status loop() {
    uint64_t seen = 0;
    XdsResourceStore::Version v = svc_.store_.current();
    for (;;) {
      if (svc_.stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server stopping");
      if (ctx_->IsCancelled()) return grpc::Status::CANCELLED;
      std::deque<ds::DeltaDiscoveryRequest> batch;
      {
        std::lock_guard lock(queue_mu_);
        batch.swap(queue_);
      }
      for (auto& req : batch) {
        if (auto s = handleRequest(req); !s.ok()) return s;
      }
      if (batch.empty() && read_done_) return grpc::Status::OK;
      if (!push(v)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
      seen = v.generation;
      v = svc_.store_.waitForChange(seen, kCancelPoll, [this] { return hasQueued(); });
    }
  }

  grpc::Status handleRequest(const ds::DeltaDiscoveryRequest& req) {
    const std::string& type = req.type_url();
    if (!isSupportedType(type)) {
      // Unknown types get an empty answer, as Istio does, so clients that ask for more types
      // than we serve still become ready.
      spdlog::debug("xds subscriber {}: unsupported type {}", info_->id, type);
    }
    if (req.has_node() && info_->node_id.empty()) {
      std::lock_guard lock(svc_.infoMutex());
      info_->node_id = req.node().id();
    }
    TypeSubscription& sub = subs_[type];
    if (!req.response_nonce().empty()) {
      std::lock_guard lock(svc_.infoMutex());
      XdsTypeState& st = info_->types[type];
      auto sent = nonce_versions_.find(req.response_nonce());
      std::string version = sent == nonce_versions_.end() ? "" : sent->second;
      if (req.has_error_detail()) {
        st.nacks++;
        st.last_nack = req.error_detail().message();
        spdlog::warn("xds subscriber {} ({}) NACKed {} nonce {}: {}", info_->id, info_->node_id,
                     type, req.response_nonce(), req.error_detail().message());
      } else {
        st.acks++;
        st.acked_version = version;
        st.last_nack.clear();
      }
      nonce_versions_.erase(req.response_nonce());
    }
    if (!sub.started) {
      sub.started = true;
      sub.force_send = true;
      // An empty first subscribe list means wildcard (legacy delta semantics).
      sub.wildcard = req.resource_names_subscribe_size() == 0;
      for (const auto& [name, version] : req.initial_resource_versions()) sub.held[name] = version;
    }
    for (const std::string& name : req.resource_names_subscribe()) {
      if (name == "*") {
        sub.wildcard = true;
      } else {
        sub.names.insert(name);
        sub.held.erase(name);  // must be (re)sent even if the client had it
      }
      sub.force_send = true;
    }
    for (const std::string& name : req.resource_names_unsubscribe()) {
      if (name == "*") {
        sub.wildcard = false;
      } else {
        sub.names.erase(name);
      }
      // The client dropped them itself: forget them without sending a removal.
      if (name != "*") sub.held.erase(name);
    }
    if (!sub.wildcard && sub.names.empty()) {
      // "Subscribe to nothing": the client keeps nothing from us.
      sub.held.clear();
    }
    {
      std::lock_guard lock(svc_.infoMutex());
      XdsTypeState& st = info_->types[type];
      st.wildcard = sub.wildcard;
      st.names.assign(sub.names.begin(), sub.names.end());
    }
    return grpc::Status::OK;
  }

  bool wants(const TypeSubscription& sub, const std::string& name, const XdsResource& r) const {
    if (!scope_.everything && !r.scope.empty() && r.scope != scope_.waypoint) return false;
    if (sub.wildcard) return true;
    if (sub.names.count(name)) return true;
    for (const auto& alias : r.aliases)
      if (sub.names.count(alias)) return true;
    return false;
  }

  // Sends, per started type, what changed since the client's view; false when the write fails.
  bool push(const XdsResourceStore::Version& v) {
    for (auto& [type, sub] : subs_) {
      if (!sub.started) continue;
      ds::DeltaDiscoveryResponse resp;
      resp.set_type_url(type);
      // The resources and what the client holds are both sorted by name: one walk over the two
      // finds what is new, changed or gone, and brings `held` up to date in place (no second map
      // of every name per push).
      auto held = sub.held.begin();
      auto drop_until = [&](const std::string* name) {
        while (held != sub.held.end() && (!name || held->first < *name)) {
          resp.add_removed_resources(held->first);
          held = sub.held.erase(held);
        }
      };
      auto typed = v.resources->find(type);
      if (typed != v.resources->end()) {
        for (const auto& [name, r] : typed->second) {
          if (!wants(sub, name, r)) continue;
          drop_until(&name);
          if (held != sub.held.end() && held->first == name) {
            const bool same = held->second == r.version;
            if (!same) held->second = r.version;
            ++held;
            if (same) continue;
          } else {
            held = std::next(sub.held.emplace_hint(held, name, r.version));
          }
          ds::Resource* out = resp.add_resources();
          out->set_name(name);
          out->set_version(r.version);
          *out->mutable_resource() = *r.body;
          for (const auto& a : r.aliases) out->add_aliases(a);
        }
      }
      drop_until(nullptr);
      if (resp.resources_size() == 0 && resp.removed_resources_size() == 0 && !sub.force_send)
        continue;
      sub.force_send = false;
      std::string nonce = std::to_string(++nonce_counter_);
      std::string version = std::to_string(v.generation);
      resp.set_nonce(nonce);
      resp.set_system_version_info(version);
      nonce_versions_[nonce] = version;
      if (nonce_versions_.size() > 64) nonce_versions_.erase(nonce_versions_.begin());
      {
        std::lock_guard lock(svc_.infoMutex());
        XdsTypeState& st = info_->types[type];
        st.last_sent_nonce = nonce;
        st.last_sent_version = version;
        st.resources_held = sub.held.size();
      }
      spdlog::debug("xds subscriber {}: {} +{} -{} (nonce {}, generation {})", info_->id, type,
                    resp.resources_size(), resp.removed_resources_size(), nonce, version);
      if (!rw_->Write(resp)) return false;
    }
    return true;
  }

  DeltaXdsService& svc_;
  grpc::ServerContext* ctx_;
  grpc::ServerReaderWriter<ds::DeltaDiscoveryResponse, ds::DeltaDiscoveryRequest>* rw_;
  std::shared_ptr<XdsSubscriberInfo> info_;
  XdsStreamScope scope_;
  std::mutex queue_mu_;
  std::deque<ds::DeltaDiscoveryRequest> queue_;
  std::atomic<bool> read_done_{false};
  std::map<std::string, TypeSubscription> subs_;
  std::map<std::string, std::string> nonce_versions_;  // nonce -> system version, for ACKs
  uint64_t nonce_counter_ = 0;
};

DeltaXdsService::DeltaXdsService(XdsResourceStore& store, XdsStreamAuthorizer authorize)
    : store_(store), authorize_(std::move(authorize)) {}

DeltaXdsService::~DeltaXdsService() { stop(); }

bool DeltaXdsService::isSupportedType(const std::string& type_url) {
  return type_url == kAddressTypeUrl || type_url == kAuthorizationTypeUrl ||
         type_url == kServiceRoutesTypeUrl || type_url == kWaypointPolicyTypeUrl;
}

void DeltaXdsService::stop() {
  stopping_ = true;
  store_.wake();
}

grpc::Status DeltaXdsService::DeltaAggregatedResources(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<ds::DeltaDiscoveryResponse, ds::DeltaDiscoveryRequest>* stream) {
  XdsStreamScope scope;
  if (authorize_) {
    auto authorized = authorize_(*context);
    if (!authorized) {
      spdlog::warn("xds stream from {} refused: {}", context->peer(), authorized.error().message());
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, authorized.error().message());
    }
    scope = std::move(*authorized);
  }
  auto info = std::make_shared<XdsSubscriberInfo>();
  info->id = next_id_++;
  info->peer = context->peer();
  info->caller = scope.caller;
  {
    std::lock_guard lock(mu_);
    subscribers_[info->id] = info;
  }
  spdlog::info("xds subscriber {} connected ({}{})", info->id, info->peer,
               info->caller.empty() ? "" : ", " + info->caller);
  Stream s(*this, context, stream, info, std::move(scope));
  grpc::Status status = s.run();
  {
    std::lock_guard lock(mu_);
    subscribers_.erase(info->id);
  }
  spdlog::info("xds subscriber {} ({}) gone: {}", info->id, info->node_id,
               status.ok() ? "closed" : status.error_message());
  return status;
}

std::vector<XdsSubscriberInfo> DeltaXdsService::subscribers() const {
  std::lock_guard lock(mu_);
  std::vector<XdsSubscriberInfo> out;
  for (const auto& [id, info] : subscribers_) out.push_back(*info);
  return out;
}

}  // namespace warren::agent
