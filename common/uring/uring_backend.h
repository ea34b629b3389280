// UringBackend: the io_uring LoopBackend. One ring per worker thread, created on that thread
// (SINGLE_ISSUER makes the creator the only submitter; DEFER_TASKRUN then runs completion
// work only when the loop waits, which batches it). Receives use a provided buffer ring;
// accept and recv are multishot where the kernel has them. Cross-thread wake-ups go through
// an eventfd read kept armed on the ring.
#pragma once

#include <liburing.h>

#include <memory>
#include <vector>

#include "common/unique_fd.h"
#include "common/uring/buffer_ring.h"
#include "common/uring/loop_backend.h"
#include "common/uring/uring_features.h"

namespace warren::uring {

class UringBackend final : public LoopBackend {
 public:
  static Result<std::unique_ptr<UringBackend>> create(const LoopOptions& options,
                                                      OperationTable& table);
  ~UringBackend() override;

  Backend kind() const override { return Backend::kUring; }
  std::string describe() const override;
  void arm(Operation& op) override;
  void cancel(Operation& op) override;
  void cancelFd(int fd) override;
  size_t poll(std::chrono::milliseconds max_wait) override;
  void wake() override;
  void shutdown() override;

 private:
  explicit UringBackend(OperationTable& table) : table_(table) {}
  io_uring_sqe* sqe();
  // io_uring_submit, and the submitted sends are no longer this turn's quiet candidates.
  void submitNow();
  // The sends of this turn whose followers do not wait for them (they complete during the
  // submission): poll()'s wait waits for that many completions more than 1.
  unsigned quietSendsToSleepThrough();
  void armWake();
  size_t handle(uint64_t user_data, int res, uint32_t flags);
  size_t handleAccept(Operation& op, int res, bool more);
  // Splices: a poll result arms the splice; a splice's -EAGAIN arms the poll again.
  size_t handleSplice(Operation& op, int res);
  void prepSplice(io_uring_sqe* s, Operation& op);
  size_t handleRecv(Operation& op, int res, bool more, bool has_buffer, uint16_t bid);

  OperationTable& table_;
  io_uring ring_{};
  bool ring_ready_ = false;
  RingFeatures features_;
  unsigned setup_flags_ = 0;
  LoopOptions options_;
  std::unique_ptr<BufferRing> buffers_;
  std::vector<OpId> rearm_;  // recvs that got -ENOBUFS, re-armed after buffers come back
  // Sends armed since the last submission that may be quiet (they have a follower).
  std::vector<OpId> unsubmitted_sends_;
  // The quiet sends the current wait counted, checked after it (LoopStats::quiet_sends_late).
  std::vector<OpId> counted_sends_;
  UniqueFd wake_fd_;
  uint64_t wake_value_ = 0;  // the kernel writes the eventfd counter here
};

}  // namespace warren::uring
