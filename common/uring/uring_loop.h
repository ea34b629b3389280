// UringLoop: EventLoop on io_uring. One ring per worker thread, created on that thread
// (SINGLE_ISSUER makes the creator the only submitter; DEFER_TASKRUN then runs completion
// work only when the loop waits, which batches it). Receives use a provided buffer ring;
// accept and recv are multishot where the kernel has them. Cross-thread posts wake the ring
// through an eventfd read kept armed on it.
#pragma once

#include <liburing.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"
#include "common/uring/buffer_ring.h"
#include "common/uring/event_loop.h"
#include "common/uring/operation.h"
#include "common/uring/uring_features.h"

namespace warren::uring {

class UringLoop final : public EventLoop {
 public:
  static Result<std::unique_ptr<UringLoop>> create(const LoopOptions& options);
  ~UringLoop() override;

  Backend backend() const override { return Backend::kUring; }
  std::string describe() const override;
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
  LoopStats stats() const override;

 private:
  UringLoop() = default;
  io_uring_sqe* sqe();
  OpId add(std::unique_ptr<Operation> op);
  void arm(Operation& op);
  void armWake();
  void wake();
  size_t runPosted();
  size_t handle(uint64_t user_data, int res, uint32_t flags);
  size_t finish(OpId id, int res);  // erases the op, then delivers res

  io_uring ring_{};
  bool ring_ready_ = false;
  RingFeatures features_;
  unsigned setup_flags_ = 0;
  LoopOptions options_;
  std::unique_ptr<BufferRing> buffers_;
  std::unordered_map<OpId, std::unique_ptr<Operation>> ops_;
  OpId next_id_ = 1;
  std::vector<OpId> rearm_;  // recvs that got -ENOBUFS, re-armed after buffers come back
  UniqueFd wake_fd_;
  uint64_t wake_value_ = 0;  // the kernel writes the eventfd counter here
  std::mutex posted_mu_;
  std::vector<Task> posted_;
  std::atomic<bool> stop_{false};
  LoopStats stats_;
};

}  // namespace warren::uring
