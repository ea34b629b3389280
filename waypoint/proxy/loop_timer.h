// LoopTimer: one re-armable timer on an event loop, owned by the object it wakes. Arming again
// or cancelling makes an earlier arming's callback a no-op even when its completion is already
// queued, and destroying the timer cancels it; the callback never runs inside arm() or cancel()
// (the loop's rule). Callers capture a weak pointer to themselves in `fire`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "common/uring/event_loop.h"

namespace warren::waypoint {

class LoopTimer {
 public:
  LoopTimer() = default;
  explicit LoopTimer(uring::EventLoop* loop) : loop_(loop) {}
  ~LoopTimer() { cancel(); }
  LoopTimer(const LoopTimer&) = delete;
  LoopTimer& operator=(const LoopTimer&) = delete;

  void setLoop(uring::EventLoop* loop) { loop_ = loop; }
  // Fires `fire` once after `after` (at once when not positive), replacing any earlier arming.
  void arm(std::chrono::nanoseconds after, std::function<void()> fire);
  void cancel();
  bool armed() const { return id_ != 0; }

 private:
  uring::EventLoop* loop_ = nullptr;
  uring::OpId id_ = 0;
  // Bumped by every arm/cancel: a completion of an older arming sees another value and does
  // nothing. Shared so a completion after this timer is gone reads it safely.
  std::shared_ptr<uint64_t> generation_ = std::make_shared<uint64_t>(0);
};

}  // namespace warren::waypoint
