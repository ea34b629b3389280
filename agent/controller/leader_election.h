// Leader election through a coordination.k8s.io/v1 Lease, client-go's protocol: the holder
// renews spec.renewTime every `retry_period`; anyone may take the lease over once
// renewTime + leaseDurationSeconds has passed; every write is conditional on the Lease's
// resourceVersion, so of two candidates at most one wins a round. It works on any ObjectStore:
// the Kubernetes API, or the lab's manifest directory (whose writes are conditional too).
//
// The decision is pure (`decideLease`); `LeaderElector::tick` reads, decides and writes once.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/kube/object_store.h"

namespace warren::agent {

struct LeaseRecord {
  std::string holder;  // spec.holderIdentity ("" = released)
  std::chrono::seconds duration{0};
  std::chrono::system_clock::time_point acquire_time, renew_time;
  int64_t transitions = 0;
};

enum class LeaseAction {
  kCreate,    // no Lease yet: create it, holding it
  kRenew,     // we hold it: renew
  kTakeOver,  // released or expired: take it (transitions + 1)
  kFollow,    // someone else holds a live lease
};

LeaseAction decideLease(const std::optional<LeaseRecord>& lease, const std::string& self,
                        std::chrono::system_clock::time_point now);

// spec of a Lease object (missing fields are zero/empty).
LeaseRecord leaseRecordOf(const k8s::Object& lease);

class LeaderElector {
 public:
  struct Options {
    std::string identity;
    std::string lease_namespace = "warren-system";
    std::string lease_name = "warren-waypoint-controller";
    std::chrono::seconds lease_duration{15};  // client-go's default
  };

  LeaderElector(kube::ObjectStore& store, Options options)
      : store_(store), options_(std::move(options)) {}

  // One round; true when this elector holds the lease afterwards.
  bool tick(std::chrono::system_clock::time_point now);
  // Gives the lease up (holder "", so a successor need not wait for it to expire).
  void release(std::chrono::system_clock::time_point now);
  bool leading() const { return leading_; }
  const std::string& holder() const { return holder_; }  // the last holder seen
  const Options& options() const { return options_; }
  // The last error of a round, for logs ("" after a clean round).
  const std::string& lastError() const { return last_error_; }

 private:
  kube::ObjectStore& store_;
  Options options_;
  bool leading_ = false;
  std::string holder_;
  std::string last_error_;
};

}  // namespace warren::agent
