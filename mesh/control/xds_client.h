// Delta ADS client (INTEROP §9): one DeltaAggregatedResources stream subscribing (wildcard) to
// istio.workload.Address and istio.security.Authorization. Each response is converted to
// mesh types and applied to the SnapshotStore as one StateUpdate; it is ACKed, or NACKed
// with an error_detail naming every rejected resource (the valid ones are still applied, as
// ztunnel does). The stream is reopened with back-off when it fails or the server is not up
// yet, re-subscribing with the versions of the resources already held.
//
// A proxy that needs more than the two mesh types (the waypoint: warren.l7.v1 routes) adds them
// in XdsClientOptions::extra_types: each is subscribed the same way (wildcard, with the versions
// held), its responses go to the type's handler, whose errors NACK the response, and synced()
// waits for its first response too.
//
// Threading: one thread of its own; stats()/synced() from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "mesh/control/backoff.h"
#include "mesh/state/snapshot_store.h"

namespace warren::mesh {

// One more resource type on the stream. `apply` runs on the client's thread with each response
// of that type and returns one message per rejected resource (empty: ACK).
struct XdsExtraType {
  std::string type_url;
  std::function<std::vector<std::string>(
      const envoy::service::discovery::v3::DeltaDiscoveryResponse&)>
      apply;
};

struct XdsClientOptions {
  std::string target;                         // gRPC target, e.g. unix:/run/warren/xds.sock
  std::string user_agent = "warren-ztunnel";  // Node.user_agent_name: which proxy asks
  std::string node_id;                        // see xdsNodeId()
  std::string node_name;
  std::string pod_name;
  std::string pod_namespace;
  std::string instance_ip;
  Backoff::Duration initial_backoff = std::chrono::seconds(1);
  Backoff::Duration max_backoff = std::chrono::seconds(15);
  std::vector<XdsExtraType> extra_types;
};

// "ztunnel~<INSTANCE_IP>~<POD_NAME>.<POD_NAMESPACE>~<POD_NAMESPACE>.svc.cluster.local" (§9).
std::string xdsNodeId(const std::string& instance_ip, const std::string& pod_name,
                      const std::string& pod_namespace);

struct XdsStats {
  uint64_t connects = 0;
  uint64_t responses = 0;
  uint64_t acks = 0;
  uint64_t nacks = 0;
  uint64_t stream_failures = 0;
  bool connected = false;
  std::string last_nack;
  std::string last_error;
};

class XdsClient {
 public:
  // Called on the client's thread after every applied response.
  using OnUpdate = std::function<void(const std::shared_ptr<const StateSnapshot>&)>;

  XdsClient(XdsClientOptions options, SnapshotStore& store, OnUpdate on_update = nullptr);
  ~XdsClient();
  XdsClient(const XdsClient&) = delete;
  XdsClient& operator=(const XdsClient&) = delete;

  void start();
  void stop();

  // Every subscribed type received its first response (at least once since start).
  bool synced() const { return synced_.load(); }
  XdsStats stats() const;

 private:
  void run();
  // One stream's life; returns when it ends.
  void runStream();
  bool allSyncedLocked();  // mu_ held

  XdsClientOptions options_;
  SnapshotStore& store_;
  OnUpdate on_update_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  grpc::ClientContext* active_ = nullptr;  // guarded by mu_: cancelled by stop()
  std::condition_variable cv_;
  XdsStats stats_;
  // type URL -> resource name -> version: what we hold, for initial_resource_versions.
  std::map<std::string, std::map<std::string, std::string>> versions_;
  std::map<std::string, bool> type_synced_;
};

}  // namespace warren::mesh
