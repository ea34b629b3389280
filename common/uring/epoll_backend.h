// EpollBackend: the LoopBackend on epoll, emulating completions, for kernels or sandboxes
// without io_uring (and so every test runs on both). Operations wait in per-fd queues; an fd
// is registered edge-triggered once, and every submission is attempted in the next poll()
// (never inside the submitting call), so callbacks are always asynchronous as with io_uring.
// Receives read into one backend-owned buffer, the stand-in for the provided buffer ring.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"
#include "common/uring/loop_backend.h"

namespace warren::uring {

class EpollBackend final : public LoopBackend {
 public:
  static Result<std::unique_ptr<EpollBackend>> create(const LoopOptions& options,
                                                      OperationTable& table);

  Backend kind() const override { return Backend::kEpoll; }
  std::string describe() const override { return "epoll (edge-triggered, emulated completions)"; }
  void arm(Operation& op) override;
  void cancel(Operation& op) override;
  void cancelFd(int fd) override;
  size_t poll(std::chrono::milliseconds max_wait) override;
  void wake() override;
  void shutdown() override {}  // no kernel state refers to operation memory

 private:
  struct FdQueues {
    std::deque<OpId> readers;  // accept, recv
    std::deque<OpId> writers;  // send, connect
    bool dirty = false;        // queued for an attempt this iteration
  };

  explicit EpollBackend(OperationTable& table) : table_(table) {}
  void markDirty(int fd);
  size_t attemptDirty();
  size_t attempt(int fd);
  size_t attemptReader(int fd, Operation& op, bool& blocked);
  size_t attemptWriter(int fd, Operation& op, bool& blocked);
  // Removes `op` from its fd queue or the timers (before its final report).
  void unqueue(const Operation& op);

  OperationTable& table_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  std::unordered_map<int, FdQueues> fds_;
  std::multimap<std::chrono::steady_clock::time_point, OpId> timers_;
  std::vector<int> dirty_;
  std::vector<char> scratch_;  // the receive buffer
};

}  // namespace warren::uring
