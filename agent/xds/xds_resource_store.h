// The current xDS resources, rebuilt from every cluster snapshot the model publishes, with a
// generation counter and a condition variable the xDS streams wait on. Building (translation)
// happens on the model's thread, outside the lock; swapping the pointer is the only work under
// the lock, so readers never block on translation.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "agent/model/cluster_model.h"
#include "agent/translate/xds_resources.h"

namespace warren::agent {

class XdsResourceStore {
 public:
  struct Version {
    uint64_t generation = 0;
    std::shared_ptr<const XdsResourceMap> resources;
  };

  XdsResourceStore();

  // Rebuilds from `snap` and wakes every waiter when anything changed.
  void update(const ClusterSnapshot& snap, const TranslationContext& ctx);
  Version current() const;

  // Waits until the generation differs from `seen`, `wake()` was called, or `timeout` passes.
  // `extra` (checked under the lock) lets a stream also wake for its own queued requests.
  Version waitForChange(uint64_t seen, std::chrono::milliseconds timeout,
                        const std::function<bool()>& extra);
  // Wakes all waiters (a stream got a request, or the server is stopping).
  void wake();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Version current_;
  uint64_t wakes_ = 0;
  std::set<std::string> logged_errors_;  // model thread only: warn once per new error
  XdsTranslationCache cache_;            // model thread only
};

}  // namespace warren::agent
