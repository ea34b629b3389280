// SnapshotStore: where the control thread publishes StateSnapshots and workers read them.
//
// Readers get a shared_ptr to an immutable snapshot and keep it for the duration of one
// decision: no lock is held while they use it, and a concurrent publish never changes what
// they see. Taking the pointer costs a short mutex-protected copy (current()), or, through a
// per-worker SnapshotReader, a single atomic load while nothing changed.
// Writers are serialised by their own mutex; the new snapshot is built from the current one
// (so two writers cannot lose each other's update) without blocking readers, then swapped in.
// Proto -> mesh type conversion happens before apply(), outside every lock.
//
// Why not std::atomic<std::shared_ptr>: libstdc++ 12 guards it with a spin bit ThreadSanitizer
// cannot see, so it reports a race on every publish; this design is TSan-clean.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "mesh/state/ready_waiters.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

class SnapshotStore {
 public:
  SnapshotStore();

  std::shared_ptr<const StateSnapshot> current() const {
    std::lock_guard lock(pointer_mu_);
    return current_;
  }
  // Bumped after every publish (acquire/release): lets readers skip the copy when unchanged.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Applies one delta update on top of the current snapshot and publishes the result.
  // Returns the resources that were rejected (the rest are applied).
  std::vector<Error> apply(const StateUpdate& update);

  // Runs `ready` on `loop` once a published snapshot holds workload `uid`: posted at once when
  // the current one does, else right after the publish that brings it (a pod that connects
  // before its workload arrived over xDS waits for exactly that). Cancel with cancelWait when
  // the caller stops waiting; cancelWaits(loop) before `loop` stops.
  WaitId whenWorkload(std::string uid, uring::EventLoop& loop, std::function<void()> ready) const;
  void cancelWait(WaitId id) const { waiters_.cancel(id); }
  void cancelWaits(const uring::EventLoop& loop) const { waiters_.cancelAll(loop); }

 private:
  std::mutex writer_mu_;           // serialises writers
  mutable std::mutex pointer_mu_;  // guards current_ only for the pointer copy/swap
  std::shared_ptr<const StateSnapshot> current_;
  std::atomic<uint64_t> generation_{0};
  mutable ReadyWaiters<std::string> waiters_;  // by workload uid
};

// One per worker thread (not thread-safe itself): caches the snapshot and refreshes it only
// when the store's generation moved. The cached snapshot stays alive until the next refresh.
class SnapshotReader {
 public:
  explicit SnapshotReader(const SnapshotStore& store) : store_(store) {}

  const std::shared_ptr<const StateSnapshot>& get() {
    // Read the generation BEFORE the pointer: a pointer newer than the generation only causes
    // one extra refresh later, never a stale snapshot kept under a newer generation.
    uint64_t g = store_.generation();
    if (g != generation_ || !cached_) {
      cached_ = store_.current();
      generation_ = g;
    }
    return cached_;
  }

 private:
  const SnapshotStore& store_;
  std::shared_ptr<const StateSnapshot> cached_;
  uint64_t generation_ = 0;
};

}  // namespace warren::mesh
