// envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources over the
// XdsResourceStore: per stream and type URL it tracks the subscription (wildcard or names)
// and the version of every resource the client holds, sends the initial state on the first
// request of a type, then only what changed (and removals) on every store generation.
// ACK/NACK are recorded per subscriber and exposed by subscribers() for the admin API.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/xds/xds_resource_store.h"
#include "common/error.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace warren::agent {

// What one subscriber has, per type URL: observable state for debugging.
struct XdsTypeState {
  bool wildcard = false;
  std::vector<std::string> names;  // explicit subscriptions
  std::string last_sent_nonce;
  std::string last_sent_version;  // system_version_info of the last response
  std::string acked_version;      // system_version_info of the last ACKed response
  std::string last_nack;          // error_detail.message of the last NACK ("" if none)
  uint64_t acks = 0, nacks = 0;
  size_t resources_held = 0;  // resources the client holds after our last push
};

// What one stream may receive. Streams on the node socket (ztunnel) see every resource; a
// waypoint's stream on the proxy socket sees unscoped resources and those scoped to it.
struct XdsStreamScope {
  bool everything = true;
  std::string waypoint;  // "<ns>/<gateway>" when !everything
  std::string caller;    // who the stream was authorized as ("Pod ns/name"), for logs and admin
};
// Runs when a stream opens; an error refuses the stream with PERMISSION_DENIED and its message.
using XdsStreamAuthorizer = std::function<Result<XdsStreamScope>(grpc::ServerContext&)>;

struct XdsSubscriberInfo {
  uint64_t id = 0;
  std::string peer;
  std::string node_id;
  std::string caller;  // the authorized caller on the proxy socket, "" on the node socket
  std::map<std::string, XdsTypeState> types;
};

class DeltaXdsService final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  // Without an authorizer every stream sees everything (the node socket).
  explicit DeltaXdsService(XdsResourceStore& store, XdsStreamAuthorizer authorize = nullptr);
  ~DeltaXdsService() override;

  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<envoy::service::discovery::v3::DeltaDiscoveryResponse,
                               envoy::service::discovery::v3::DeltaDiscoveryRequest>* stream)
      override;

  // Makes every open stream return (before grpc::Server::Shutdown waits for them).
  void stop();

  std::vector<XdsSubscriberInfo> subscribers() const;

  static bool isSupportedType(const std::string& type_url);

 private:
  class Stream;

  XdsResourceStore& store_;
  XdsStreamAuthorizer authorize_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<XdsSubscriberInfo>> subscribers_;
  std::mutex& infoMutex() const { return mu_; }
};

}  // namespace warren::agent
