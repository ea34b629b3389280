// The controller role of warren-agent (--controller): for every Gateway of class
// warren-waypoint it keeps a ServiceAccount, Service and Deployment (waypoint_resources.h) in
// the cluster, removes those whose Gateway is gone, and writes Gateway, HTTPRoute and GRPCRoute
// status. Only the holder of the Lease acts (leader_election.h), so every node agent can run
// the role. It reads the cluster from the agent's model (informer) and writes through an
// ObjectStore: the lab's manifest directory or the Kubernetes API.
//
// One thread: it wakes on every model snapshot and at least every `resync`; a round contends
// for the lease (a holder renews it once per `renew_period`, not on every snapshot: its own
// renewal comes back as one), then, when leading and the Gateway API kinds have been listed,
// reconciles. A write that loses a race (kConflict) is simply redone on the next snapshot,
// which the winning write triggers. A bad waypoint Gateway leaves what was deployed for it
// alone and says why in its status; a bad route only gets its status (the model keeps its last
// good version in force).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/controller/gateway_status.h"
#include "agent/controller/leader_election.h"
#include "agent/controller/waypoint_resources.h"
#include "agent/model/cluster_model.h"
#include "agent/translate/workload_translation.h"
#include "common/kube/object_store.h"

namespace warren::agent {

class WaypointController {
 public:
  struct Options {
    LeaderElector::Options lease;
    WaypointDeploymentOptions deployment;
    TranslationContext translation;
    std::chrono::milliseconds renew_period{2000};  // client-go's retry period
    std::chrono::milliseconds resync{10000};
    std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
  };

  struct Stats {
    uint64_t rounds = 0, created = 0, updated = 0, deleted = 0, status_writes = 0, conflicts = 0,
             errors = 0;
  };

  WaypointController(ClusterModel& model, std::unique_ptr<kube::ObjectStore> store,
                     Options options);
  ~WaypointController();

  void start();
  // Stops the thread and releases the lease.
  void stop();

  bool leading() const;
  const std::string& identity() const { return options_.lease.identity; }
  Stats stats() const;
  // One round on the current snapshot, on the caller's thread (tests drive it this way).
  void runOnce();

 private:
  void loop();
  void reconcile(const ClusterSnapshot& snap);
  GatewayOutcome deployGateway(const Gateway& gw);
  void writeGatewayStatus(const ClusterSnapshot& snap, const Gateway& gw, const GatewayOutcome& o);
  void collectGarbage(const ClusterSnapshot& snap);
  void writeRouteStatuses(const ClusterSnapshot& snap);
  // updateStatus with `status` on `obj` unless it already says exactly that.
  void writeStatus(const k8s::Object& obj, const nlohmann::json& status);
  void count(const Error& e);

  ClusterModel& model_;
  std::unique_ptr<kube::ObjectStore> store_;
  Options options_;
  LeaderElector elector_;
  ClusterModel::SubscriptionId subscription_ = 0;
  bool subscribed_ = false;

  std::atomic<bool> leading_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

// Have the kinds the controller reconciles been listed by the informer yet? (Acting on a model
// that has not seen the Gateways would delete what they own.)
bool controllerCanReconcile(const ClusterSnapshot& snap);

}  // namespace warren::agent
