#include "mesh/state/snapshot_store.h"

namespace warren::mesh {

SnapshotStore::SnapshotStore() : current_(StateSnapshot::empty()) {}

std::vector<Error> SnapshotStore::apply(const StateUpdate& update) {
  std::lock_guard writer(writer_mu_);
  // Only this writer replaces current_, so reading it once here is stable; the build runs
  // without pointer_mu_ held, so readers are never blocked by it.
  auto result = current()->apply(update);
  {
    std::lock_guard lock(pointer_mu_);
    current_.swap(result.snapshot);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  // Wake the connections waiting for a workload this publish brought (posted to their loops,
  // after the publish, so their reader sees it).
  if (waiters_.size() > 0) {
    auto now = current();
    waiters_.fireIf([&](const std::string& uid) { return now->workloadByUid(uid) != nullptr; });
  }
  // result.snapshot now holds the previous snapshot; it is released here, outside the lock.
  return std::move(result.rejected);
}

WaitId SnapshotStore::whenWorkload(std::string uid, uring::EventLoop& loop,
                                   std::function<void()> ready) const {
  WaitId w = waiters_.add(uid, loop, std::move(ready));
  // A publish between the caller's check and add() is seen here.
  if (current()->workloadByUid(uid)) waiters_.fireOne(w);
  return w;
}

}  // namespace warren::mesh
