// EpollLoop: the same completion interface on epoll, for kernels or sandboxes without
// io_uring (and so every test runs on both). Operations wait in per-fd queues; an fd is
// registered edge-triggered once, and every submission is attempted on the next iteration
// (never inside the submitting call), so callbacks are always asynchronous as with io_uring.
// Receives read into one loop-owned buffer, the stand-in for the provided buffer ring.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "common/uring/operation.h"

namespace warren::uring {

class EpollLoop final : public EventLoop {
 public:
  static Result<std::unique_ptr<EpollLoop>> create(const LoopOptions& options);
  ~EpollLoop() override = default;

  Backend backend() const override { return Backend::kEpoll; }
  std::string describe() const override { return "epoll (edge-triggered, emulated completions)"; }
  OpId acceptMultishot(int listen_fd, AcceptFn fn) override;
  OpId recv(int fd, size_t max_len, RecvFn fn) override;
  OpId recvMultishot(int fd, RecvFn fn) override;
  OpId send(int fd, Buffer buffer, size_t offset, SendFn fn) override;
  OpId connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn) override;
  OpId timeout(std::chrono::nanoseconds after, DoneFn fn) override;
  void cancel(OpId id) override;
  void close(int fd) override;
  void post(Task task) override;
  void stop() override;
  void run() override;
  size_t runOnce(std::chrono::milliseconds max_wait) override;
  LoopStats stats() const override { return stats_; }

 private:
  struct FdQueues {
    std::deque<OpId> readers;  // accept, recv
    std::deque<OpId> writers;  // send, connect
    bool dirty = false;        // queued for an attempt this iteration
  };

  EpollLoop() = default;
  OpId add(std::unique_ptr<Operation> op);
  void markDirty(int fd);
  size_t attempt(int fd);
  size_t attemptReader(int fd, OpId id, bool& blocked);
  size_t attemptWriter(int fd, OpId id, bool& blocked);
  size_t finish(OpId id, int res);
  void unqueue(const Operation& op);
  size_t runPosted();

  LoopOptions options_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  std::unordered_map<OpId, std::unique_ptr<Operation>> ops_;
  std::unordered_map<int, FdQueues> fds_;
  std::multimap<std::chrono::steady_clock::time_point, OpId> timers_;
  std::vector<int> dirty_;
  std::vector<std::pair<OpId, int>> ready_;  // completions decided outside an fd attempt
  std::vector<char> scratch_;                // the receive buffer
  OpId next_id_ = 1;
  std::mutex posted_mu_;
  std::vector<Task> posted_;
  std::atomic<bool> stop_{false};
  LoopStats stats_;
};

}  // namespace warren::uring
