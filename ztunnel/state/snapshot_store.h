// SnapshotStore: where the control thread publishes StateSnapshots and workers read them.
// Readers call current() and keep the returned shared_ptr for the duration of one decision:
// no lock is held while they use it, and a concurrent publish never changes what they see.
// Writers are serialised by a mutex; the new snapshot is built from the current one while
// holding it (so two writers cannot lose each other's update), then swapped in atomically.
// Proto -> ztunnel type conversion happens before apply(), outside the lock.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "ztunnel/state/state_snapshot.h"

namespace warren::ztunnel {

class SnapshotStore {
 public:
  SnapshotStore();

  std::shared_ptr<const StateSnapshot> current() const {
    return current_.load(std::memory_order_acquire);
  }

  // Applies one delta update on top of the current snapshot and publishes the result.
  // Returns the resources that were rejected (the rest are applied).
  std::vector<Error> apply(const StateUpdate& update);

 private:
  std::mutex writer_mu_;
  std::atomic<std::shared_ptr<const StateSnapshot>> current_;
};

}  // namespace warren::ztunnel
