#include "mesh/control/xds_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "mesh/state/xds_convert.h"

namespace warren::mesh {
namespace {

namespace ds = envoy::service::discovery::v3;

// google.rpc.Code INVALID_ARGUMENT, as error_detail.code of a NACK.
constexpr int kRpcInvalidArgument = 3;

// Converts one response (state/xds_convert) into a StateUpdate; each rejected resource is
// appended to `errors` for the NACK, each accepted one's version to `accepted_versions`.
StateUpdate toUpdate(const ds::DeltaDiscoveryResponse& resp, std::vector<std::string>& errors,
                     std::map<std::string, std::string>& accepted_versions) {
  ConvertedDelta converted = convertDelta(resp);
  for (const auto& e : converted.rejected) errors.push_back(e.message());
  for (auto& [name, version] : converted.accepted_versions) accepted_versions[name] = version;
  return std::move(converted.update);
}

void setString(google::protobuf::Struct* s, const std::string& key, const std::string& value) {
  (*s->mutable_fields())[key].set_string_value(value);
}

}  // namespace

std::string xdsNodeId(const std::string& instance_ip, const std::string& pod_name,
                      const std::string& pod_namespace) {
  return fmt::format("ztunnel~{}~{}.{}~{}.svc.cluster.local", instance_ip, pod_name, pod_namespace,
                     pod_namespace);
}

XdsClient::XdsClient(XdsClientOptions options, SnapshotStore& store, OnUpdate on_update)
    : options_(std::move(options)), store_(store), on_update_(std::move(on_update)) {}

XdsClient::~XdsClient() { stop(); }

void XdsClient::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void XdsClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (active_) active_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool XdsClient::allSyncedLocked() {
  if (!type_synced_[std::string(kAddressTypeUrl)] ||
      !type_synced_[std::string(kAuthorizationTypeUrl)])
    return false;
  for (const auto& e : options_.extra_types)
    if (!type_synced_[e.type_url]) return false;
  return true;
}

XdsStats XdsClient::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void XdsClient::run() {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  while (!stopping_) {
    uint64_t responses_before = stats().responses;
    runStream();
    if (stopping_) break;
    if (stats().responses > responses_before) backoff.reset();  // the stream did work
    auto delay = backoff.next();
    spdlog::info("xDS stream to {} ended; reconnecting in {} ms", options_.target, delay.count());
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay, [&] { return stopping_.load(); });
  }
}

void XdsClient::runStream() {
  auto channel = grpc::CreateChannel(options_.target, grpc::InsecureChannelCredentials());
  auto stub = ds::AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext ctx;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    active_ = &ctx;
  }
  auto stream = stub->DeltaAggregatedResources(&ctx);

  auto finish = [&](const std::string& why) {
    std::lock_guard lock(mu_);
    active_ = nullptr;
    stats_.connected = false;
    if (!why.empty()) {
      ++stats_.stream_failures;
      stats_.last_error = why;
    }
  };

  // Initial requests: wildcard subscription (empty list, as ztunnel sends it when not in
  // on-demand mode) with the versions of what we already hold.
  bool first = true;
  std::vector<std::string> types = {std::string(kAddressTypeUrl),
                                    std::string(kAuthorizationTypeUrl)};
  for (const auto& extra : options_.extra_types) types.push_back(extra.type_url);
  for (const std::string& type : types) {
    ds::DeltaDiscoveryRequest req;
    if (first) {
      auto* node = req.mutable_node();
      node->set_id(options_.node_id);
      node->set_user_agent_name(options_.user_agent);
      auto* md = node->mutable_metadata();
      setString(md, "NAME", options_.pod_name);
      setString(md, "NAMESPACE", options_.pod_namespace);
      setString(md, "INSTANCE_IPS", options_.instance_ip);
      setString(md, "NODE_NAME", options_.node_name);
      first = false;
    }
    req.set_type_url(type);
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, version] : versions_[type]) {
        (*req.mutable_initial_resource_versions())[name] = version;
      }
    }
    if (!stream->Write(req)) {
      auto st = stream->Finish();
      finish(fmt::format("xDS {}: {}", options_.target, st.error_message()));
      return;
    }
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.connects;
    stats_.connected = true;
  }
  spdlog::info("xDS stream to {} open (node {})", options_.target, options_.node_id);

  ds::DeltaDiscoveryResponse resp;
  while (stream->Read(&resp)) {
    const std::string& type = resp.type_url();
    ds::DeltaDiscoveryRequest ack;
    ack.set_type_url(type);
    ack.set_response_nonce(resp.nonce());
    std::vector<std::string> errors;
    const XdsExtraType* extra = nullptr;
    for (const auto& e : options_.extra_types)
      if (e.type_url == type) extra = &e;
    if (extra) {
      errors = extra->apply(resp);
      std::lock_guard lock(mu_);
      auto& held = versions_[type];
      for (const auto& r : resp.resources()) held[r.name()] = r.version();
      for (const auto& name : resp.removed_resources()) held.erase(name);
      type_synced_[type] = true;
      synced_ = allSyncedLocked();
    } else if (type != kAddressTypeUrl && type != kAuthorizationTypeUrl) {
      errors.push_back(fmt::format("unsupported type_url {}", type));
    } else {
      std::map<std::string, std::string> accepted;
      StateUpdate update = toUpdate(resp, errors, accepted);
      std::vector<Error> rejected = store_.apply(update);
      for (const auto& e : rejected) errors.push_back(e.message());
      auto snapshot = store_.current();
      {
        std::lock_guard lock(mu_);
        auto& held = versions_[type];
        for (auto& [name, version] : accepted) held[name] = version;
        for (const auto& name : resp.removed_resources()) held.erase(name);
        type_synced_[type] = true;
        synced_ = allSyncedLocked();
      }
      spdlog::debug("xDS {}: {} resources, {} removed, snapshot v{} ({} workloads)", type,
                    resp.resources_size(), resp.removed_resources_size(), snapshot->version(),
                    snapshot->workloadCount());
      if (on_update_) on_update_(snapshot);
    }
    std::string nack;
    if (!errors.empty()) {
      nack = fmt::format("{} rejected: ", errors.size());
      for (size_t i = 0; i < errors.size(); ++i) nack += (i ? "; " : "") + errors[i];
      ack.mutable_error_detail()->set_code(kRpcInvalidArgument);
      ack.mutable_error_detail()->set_message(nack);
      spdlog::warn("xDS NACK {} nonce {}: {}", type, resp.nonce(), nack);
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.responses;
      if (nack.empty()) {
        ++stats_.acks;
      } else {
        ++stats_.nacks;
        stats_.last_nack = nack;
      }
    }
    if (!stream->Write(ack)) break;
  }
  auto st = stream->Finish();
  finish(stopping_ ? ""
                   : fmt::format("xDS {}: {} ({})", options_.target, st.error_message(),
                                 int(st.error_code())));
}

}  // namespace warren::mesh
