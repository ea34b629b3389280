#include "ztunnel/state/snapshot_store.h"

namespace warren::ztunnel {

SnapshotStore::SnapshotStore() : current_(StateSnapshot::empty()) {}

std::vector<Error> SnapshotStore::apply(const StateUpdate& update) {
  std::lock_guard lock(writer_mu_);
  auto result = current_.load(std::memory_order_acquire)->apply(update);
  current_.store(std::move(result.snapshot), std::memory_order_release);
  return std::move(result.rejected);
}

}  // namespace warren::ztunnel
