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
  // result.snapshot now holds the previous snapshot; it is released here, outside the lock.
  return std::move(result.rejected);
}

}  // namespace warren::mesh
