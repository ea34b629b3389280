#include "waypoint/proxy/loop_timer.h"

namespace warren::waypoint {

void LoopTimer::arm(std::chrono::nanoseconds after, std::function<void()> fire) {
  cancel();
  if (!loop_) return;
  uint64_t mine = ++*generation_;
  if (after.count() <= 0) after = std::chrono::nanoseconds(1);
  std::weak_ptr<uint64_t> gen = generation_;
  id_ = loop_->timeout(after, [this, gen, mine, fire = std::move(fire)](int res) {
    auto g = gen.lock();
    if (res != 0 || !g || *g != mine) return;  // cancelled, re-armed, or the timer is gone
    id_ = 0;
    fire();
  });
}

void LoopTimer::cancel() {
  ++*generation_;
  if (id_ != 0 && loop_) loop_->cancel(id_);
  id_ = 0;
}

}  // namespace warren::waypoint
