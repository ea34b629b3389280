// WorkerThreads: N threads, each running its own EventLoop (default: one per core). A worker
// owns the connections it accepts; listeners use SO_REUSEPORT, one per worker, so the kernel
// spreads connections and no connection ever moves between threads. Each loop is created on
// its own thread (io_uring SINGLE_ISSUER requires the creator to be the submitter).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/uring/event_loop.h"

namespace warren::uring {

class WorkerThreads {
 public:
  // Runs on the worker thread before its loop starts; an error stops start-up.
  using InitFn = std::function<Status(EventLoop& loop, unsigned index)>;
  // Runs on the worker thread after its loop stopped, before the loop is destroyed.
  using ExitFn = std::function<void(EventLoop& loop, unsigned index)>;

  // How many workers `requested` means: itself, or one per core when 0. Whoever sizes
  // something per worker before the threads exist (one listener per worker) asks this.
  static unsigned count(unsigned requested);
  // 0 workers = one per core (count()).
  static Result<std::unique_ptr<WorkerThreads>> start(unsigned workers, const LoopOptions& options,
                                                      InitFn init, ExitFn on_exit = {});
  ~WorkerThreads();  // stops and joins

  unsigned size() const { return static_cast<unsigned>(loops_.size()); }
  // Valid until the destructor; use only its thread-safe members (post, stop) from outside.
  EventLoop& loop(unsigned index) { return *loops_[index]; }
  void stop();

 private:
  WorkerThreads() = default;
  std::vector<EventLoop*> loops_;
  std::vector<std::thread> threads_;
  // Held by stop() while it stops the loops, and by each thread before its loop is destroyed;
  // exited_[i]: worker i's loop is gone (guarded by mu_).
  std::mutex mu_;
  std::vector<bool> exited_;
};

}  // namespace warren::uring
