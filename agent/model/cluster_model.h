// The cluster model: applies informer updates (decoding each kind, keeping the last good
// version of an object whose new version is bad) and publishes immutable snapshots to
// subscribers. Other components (xDS, ZDS, the eBPF reconciler, the admin API) hook onto it
// with subscribe(): the callback gets the current snapshot at once, then each new one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "agent/config/informer.h"
#include "agent/model/cluster_snapshot.h"

namespace warren::agent {

class ClusterModel {
 public:
  using Subscriber = std::function<void(const SnapshotPtr&)>;
  using SubscriptionId = uint64_t;

  ClusterModel();

  // Applies one batch; publishes a snapshot to every subscriber when anything changed.
  // Bad objects are logged (file/object/field) and skipped; returns the number skipped.
  size_t apply(ConfigUpdate update);

  SnapshotPtr snapshot() const;

  // Calls `cb` with the current snapshot before returning, then after every change, in order,
  // on the thread that applied the change. Callbacks must be quick and must not call
  // subscribe/unsubscribe on this model.
  SubscriptionId subscribe(Subscriber cb);
  void unsubscribe(SubscriptionId id);

 private:
  // Decodes `obj` into `next`; false (and logs) when the object is bad or of an unknown kind.
  bool upsert(ClusterSnapshot& next, const k8s::Object& obj);
  static bool erase(ClusterSnapshot& next, const std::string& object_key);
  void publish(SnapshotPtr snap);

  mutable std::mutex mu_;        // guards current_
  std::mutex publish_mu_;        // serialises apply() and subscriber calls
  SnapshotPtr current_;
  std::map<SubscriptionId, Subscriber> subscribers_;  // guarded by publish_mu_
  SubscriptionId next_id_ = 1;
};

}  // namespace warren::agent
