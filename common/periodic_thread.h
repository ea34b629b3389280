// A thread that runs one piece of work every interval until it is destroyed: the allocator trim
// (process_memory.h) and the access log's flush (accesslog/buffered_sink.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace warren {

class PeriodicThread {
 public:
  // Starts the thread (named `name`, at most 15 characters show); `work` first runs one
  // `interval` after. Start it after the signal mask is set: it inherits it.
  PeriodicThread(std::string name, std::chrono::milliseconds interval, std::function<void()> work);
  // Stops the thread; `work` is not running once this returns (a pass in progress finishes).
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<uint64_t> passes_{0};
  std::thread thread_;
};

}  // namespace warren
