#include "common/uring/worker_threads.h"

#include <algorithm>
#include <future>

namespace warren::uring {

unsigned WorkerThreads::count(unsigned requested) {
  return requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
}

Result<std::unique_ptr<WorkerThreads>> WorkerThreads::start(unsigned workers,
                                                            const LoopOptions& options, InitFn init,
                                                            ExitFn on_exit) {
  workers = count(workers);
  std::unique_ptr<WorkerThreads> pool(new WorkerThreads());
  pool->loops_.resize(workers, nullptr);
  pool->exited_.resize(workers, false);
  WorkerThreads* pool_raw = pool.get();
  Status result = ok();
  for (unsigned i = 0; i < workers; ++i) {
    std::promise<Result<EventLoop*>> ready;
    auto started = ready.get_future();
    pool->threads_.emplace_back([ready = std::move(ready), options, init, on_exit, i,
                                 pool_raw]() mutable {
      auto loop = EventLoop::create(options);
      if (!loop) {
        ready.set_value(fail(loop.error()));
        return;
      }
      if (init) {
        if (auto s = init(**loop, i); !s) {
          ready.set_value(fail(s.error().wrap("worker " + std::to_string(i))));
          return;
        }
      }
      ready.set_value(loop->get());
      (*loop)->run();
      if (on_exit) on_exit(**loop, i);
      // The loop is destroyed on the way out of this thread: not while stop() still wakes it
      // (run() may return on stop()'s flag before stop() wrote the eventfd; found by TSan).
      std::lock_guard lock(pool_raw->mu_);
      pool_raw->exited_[i] = true;
    });
    auto loop = started.get();
    if (!loop) {
      result = fail(loop.error());
      pool->threads_.back().join();
      pool->threads_.pop_back();
      break;
    }
    pool->loops_[i] = *loop;
  }
  if (!result) {
    pool->stop();
    return fail(result.error());
  }
  return pool;
}

void WorkerThreads::stop() {
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < loops_.size(); ++i)
      if (loops_[i] && !exited_[i]) loops_[i]->stop();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  loops_.clear();
}

WorkerThreads::~WorkerThreads() { stop(); }

}  // namespace warren::uring
