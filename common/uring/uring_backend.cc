#include "common/uring/uring_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace warren::uring {

namespace {
// user_data of SQEs whose completion carries nothing for us (cancel requests).
constexpr uint64_t kIgnoreTag = 0;
// user_data of the eventfd read that wakes the loop for posted tasks and stop().
constexpr uint64_t kWakeTag = ~0ull;
// The single provided-buffer group of a loop.
constexpr uint16_t kBufferGroup = 0;
// A quiet send is one the socket buffer is expected to take whole at once: a request, a
// response, a few TLS records. Bulk writes are left to end the wait, as they may well not fit.
constexpr size_t kQuietSendMaxBytes = 32 * 1024;
}  // namespace

Result<std::unique_ptr<UringBackend>> UringBackend::create(const LoopOptions& options,
                                                           OperationTable& table) {
  auto features = probeRingFeatures();
  if (!features) return fail(features.error());
  std::unique_ptr<UringBackend> b(new UringBackend(table));
  b->features_ = *features;
  b->options_ = options;

  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = options.ring_entries * 4;
  if (features->defer_taskrun)
    p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  else if (features->coop_taskrun)
    p.flags |= IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(options.ring_entries, &b->ring_, &p);
  if (rc < 0)
    return fail(Error::system(
        -rc, "io_uring_queue_init_params(" + std::to_string(options.ring_entries) + " entries)"));
  b->ring_ready_ = true;
  b->setup_flags_ = p.flags;

  auto buffers = BufferRing::create(&b->ring_, kBufferGroup, options.recv_buffer_count,
                                    options.recv_buffer_size);
  if (!buffers) return fail(buffers.error());
  b->buffers_ = std::move(*buffers);

  b->wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!b->wake_fd_) return fail(WARREN_SYS_ERROR("eventfd for the loop wake-up"));
  b->armWake();
  b->submitNow();
  return b;
}

UringBackend::~UringBackend() { shutdown(); }

void UringBackend::shutdown() {
  if (!ring_ready_) return;
  ring_ready_ = false;
  // Exiting the ring cancels every request; only then may operations (their buffers) and the
  // provided-buffer memory go away.
  io_uring_queue_exit(&ring_);
  if (buffers_) buffers_->ringClosed();
  buffers_.reset();
  rearm_.clear();
}

std::string UringBackend::describe() const {
  std::string s = features_.describe();
  s += (setup_flags_ & IORING_SETUP_DEFER_TASKRUN)  ? " [setup: single_issuer+defer_taskrun]"
       : (setup_flags_ & IORING_SETUP_COOP_TASKRUN) ? " [setup: coop_taskrun]"
                                                    : " [setup: default]";
  return s;
}

io_uring_sqe* UringBackend::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  // The SQ is full: push it to the kernel and take a fresh slot. A submit consumes the whole
  // SQ unless the kernel is short of memory (-EAGAIN/-EBUSY), hence the bounded retry.
  for (int attempt = 0; !s && attempt < 1000; ++attempt) {
    unsubmitted_sends_.clear();
    if (io_uring_submit(&ring_) < 0) io_uring_get_events(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  if (!s) {
    // Nothing sane is left to do with a ring that accepts no submission.
    spdlog::critical("io_uring: submission queue stuck full");
    std::abort();
  }
  return s;
}

void UringBackend::armWake() {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(s, kWakeTag);
}

void UringBackend::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: a wake-up is pending anyway.
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void UringBackend::arm(Operation& op) {
  if (!ring_ready_) return;  // shut down: the loop destroys the operation
  io_uring_sqe* s = sqe();
  switch (op.kind) {
    case OpKind::kAccept:
      if (features_.multishot_accept)
        io_uring_prep_multishot_accept(s, op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      else
        io_uring_prep_accept(s, op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::kRecv:
      io_uring_prep_recv(s, op.fd, nullptr,
                         static_cast<unsigned>(std::min(op.max_len, buffers_->bufferSize())), 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = buffers_->groupId();
      op.poll_first_armed = op.poll_first && features_.recv_poll_first;
      if (op.poll_first_armed) {
        s->ioprio |= IORING_RECVSEND_POLL_FIRST;
        ++table_.stats().poll_first_recvs;
      }
      break;
    case OpKind::kRecvMultishot:
      if (features_.multishot_recv)
        io_uring_prep_recv_multishot(s, op.fd, nullptr, 0, 0);
      else
        io_uring_prep_recv(s, op.fd, nullptr, static_cast<unsigned>(buffers_->bufferSize()), 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = buffers_->groupId();
      break;
    case OpKind::kSend: {
      const size_t len = op.buffer.size() - op.offset;
      int flags = MSG_NOSIGNAL;
      if (op.follower && features_.send_waitall && options_.quiet_send_wait.count() > 0 &&
          len <= kQuietSendMaxBytes) {
        // All or an error: what does not fit at once the kernel sends when the socket drains,
        // so the send either completes during the submission or as an event of its own.
        flags |= MSG_WAITALL;
        unsubmitted_sends_.push_back(op.id);
      }
      io_uring_prep_send(s, op.fd, op.buffer.data() + op.offset, len, flags);
      break;
    }
    case OpKind::kConnect:
      io_uring_prep_connect(s, op.fd, reinterpret_cast<sockaddr*>(&op.addr), op.addr_len);
      break;
    case OpKind::kSpliceFromSocket:
      // Readiness first: IORING_OP_SPLICE always runs in an io-wq thread, and on a socket
      // with nothing to read it would only come back with -EAGAIN.
      op.splice_polling = true;
      io_uring_prep_poll_add(s, op.fd, POLLIN | POLLRDHUP);
      break;
    case OpKind::kSpliceToSocket:
      // A socket is usually writable: splice at once, poll only after -EAGAIN.
      prepSplice(s, op);
      break;
    case OpKind::kTimeout: {
      auto ns = op.after.count();
      op.ts.tv_sec = ns / 1'000'000'000;
      op.ts.tv_nsec = ns % 1'000'000'000;
      io_uring_prep_timeout(s, &op.ts, 0, 0);
      break;
    }
  }
  io_uring_sqe_set_data64(s, op.id);
}

void UringBackend::cancel(Operation& op) {
  // A recv parked after -ENOBUFS is not in the kernel: the next poll() ends it (rearm_).
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, op.id, 0);
  io_uring_sqe_set_data64(s, kIgnoreTag);
}

void UringBackend::cancelFd(int fd) {
  // The kernel holds its own file reference for in-flight requests, so closing alone would
  // leave them pending forever: each operation on the fd is cancelled by its id. Not by fd
  // (IORING_ASYNC_CANCEL_FD | _ALL): the kernel finds those by comparing the file of every
  // request it holds (its whole poll table, io_cancel_req_match), so each close cost as much
  // as there were connections open, and closing n connections n times that. By id it looks in
  // one bucket of the table. Operations parked for re-arm are not in the kernel: marked, the
  // next poll() ends them (the cancel then finds nothing).
  table_.forEachOnFd(fd, [this](Operation& op) {
    if (op.cancelled) return;  // its cancel is on its way already
    op.cancelled = true;
    cancel(op);
  });
  // Submitted before the caller closes the fd: a submission still queued names it by number,
  // which after close() is a bad fd, or another socket once the number is given out again.
  if (io_uring_sq_ready(&ring_) > 0) submitNow();
}

void UringBackend::submitNow() {
  unsubmitted_sends_.clear();
  io_uring_submit(&ring_);
}

unsigned UringBackend::quietSendsToSleepThrough() {
  unsigned quiet = 0;
  // Taken out first: a follower is user code, and whatever it did to the loop must not change
  // the list under the iteration.
  std::vector<OpId> candidates;
  candidates.swap(unsubmitted_sends_);
  // Completions already waiting end the wait anyway (and were not counted from the ring's head).
  if (io_uring_cq_ready(&ring_) == 0) {
    for (OpId id : candidates) {
      Operation* op = table_.find(id);
      if (op && !op->cancelled && op->follower && !op->follower->waitsForSend()) {
        counted_sends_.push_back(id);
        ++quiet;
      }
    }
  }
  candidates.clear();
  if (unsubmitted_sends_.empty()) unsubmitted_sends_.swap(candidates);  // keep the capacity
  return quiet;
}

void UringBackend::prepSplice(io_uring_sqe* s, Operation& op) {
  op.splice_polling = false;
  bool from = op.kind == OpKind::kSpliceFromSocket;
  io_uring_prep_splice(s, from ? op.fd : op.pipe_fd, -1, from ? op.pipe_fd : op.fd, -1,
                       static_cast<unsigned>(op.max_len), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

size_t UringBackend::handleSplice(Operation& op, int res) {
  OpId id = op.id;
  bool again = op.splice_polling ? res >= 0 : res == -EAGAIN;
  if (!again) return table_.complete(id, res);  // the splice's result, or the poll's error
  if (op.cancelled) return table_.complete(id, -ECANCELED);
  io_uring_sqe* s = sqe();
  if (op.splice_polling) {
    prepSplice(s, op);  // the socket is ready (or in error: the splice says which)
  } else {
    op.splice_polling = true;  // not ready after all: wait for it, then splice again
    io_uring_prep_poll_add(s, op.fd,
                           op.kind == OpKind::kSpliceFromSocket ? (POLLIN | POLLRDHUP) : POLLOUT);
  }
  io_uring_sqe_set_data64(s, id);
  return 0;
}

size_t UringBackend::handleAccept(Operation& op, int res, bool more) {
  OpId id = op.id;
  if (res >= 0) {
    size_t ran = table_.complete(id, res, {}, /*final=*/false);
    // Single-shot accept, or a multishot the kernel ended: keep accepting until cancelled.
    // (`op` is still in the table: only final results remove an operation.)
    if (!more) {
      if (op.cancelled) return ran + table_.complete(id, -ECANCELED);
      ++table_.stats().multishot_rearms;
      arm(op);
    }
    return ran;
  }
  if (res == -EINVAL && features_.multishot_accept && !op.cancelled) {
    spdlog::warn("io_uring: multishot accept refused (-EINVAL), using single-shot");
    features_.multishot_accept = false;
    arm(op);
    return 0;
  }
  return table_.complete(id, res);
}

size_t UringBackend::handleRecv(Operation& op, int res, bool more, bool has_buffer, uint16_t bid) {
  OpId id = op.id;
  bool multishot = op.kind == OpKind::kRecvMultishot;
  if (res == -ENOBUFS && !op.cancelled) {
    // The ring ran dry: flow control, not failure. Re-arm after this batch recycles; data is
    // waiting, so read it at once then.
    ++table_.stats().enobufs_rearms;
    op.poll_first = false;
    rearm_.push_back(id);
    return 0;
  }
  if (res == -EINVAL && op.poll_first_armed && !op.cancelled) {
    // Decided by what this recv was armed with: other recvs armed the same way may be in flight
    // and each must be re-armed, not failed, once the first has switched the feature off.
    if (features_.recv_poll_first)
      spdlog::warn("io_uring: recv POLL_FIRST refused (-EINVAL), reading first");
    features_.recv_poll_first = false;
    arm(op);
    return 0;
  }
  if (res == -EINVAL && multishot && features_.multishot_recv && !op.cancelled) {
    spdlog::warn("io_uring: multishot recv refused (-EINVAL), using single-shot");
    features_.multishot_recv = false;
    arm(op);
    return 0;
  }
  if (res > 0 && has_buffer) {
    auto data = buffers_->data(bid, static_cast<size_t>(res));
    // A single recv ends with its data; a multishot one goes on.
    size_t ran = table_.complete(id, res, data, /*final=*/!multishot);
    buffers_->recycle(bid);
    if (multishot && !more) {
      if (op.cancelled) return ran + table_.complete(id, -ECANCELED);
      ++table_.stats().multishot_rearms;
      arm(op);
    }
    return ran;
  }
  if (has_buffer) buffers_->recycle(bid);
  if (more) return 0;  // not expected: a multishot keeps going only with data
  return table_.complete(id, res);
}

size_t UringBackend::handle(uint64_t user_data, int res, uint32_t flags) {
  if (user_data == kIgnoreTag) return 0;
  if (user_data == kWakeTag) {
    armWake();  // the loop runs posted tasks after poll()
    return 0;
  }
  bool has_buffer = flags & IORING_CQE_F_BUFFER;
  uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  bool more = flags & IORING_CQE_F_MORE;
  Operation* op = table_.find(user_data);
  if (!op) {
    if (has_buffer) buffers_->recycle(bid);
    return 0;
  }
  switch (op->kind) {
    case OpKind::kAccept:
      return handleAccept(*op, res, more);
    case OpKind::kRecv:
    case OpKind::kRecvMultishot:
      return handleRecv(*op, res, more, has_buffer, bid);
    case OpKind::kSend:
    case OpKind::kConnect:
      return table_.complete(user_data, res);
    case OpKind::kTimeout:
      return table_.complete(user_data, res == -ETIME ? 0 : res);
    case OpKind::kSpliceFromSocket:
    case OpKind::kSpliceToSocket:
      return handleSplice(*op, res);
  }
  return 0;
}

size_t UringBackend::poll(std::chrono::milliseconds max_wait) {
  size_t ran = 0;
  if (!rearm_.empty()) {
    std::vector<OpId> ids;
    ids.swap(rearm_);
    for (OpId id : ids) {
      Operation* op = table_.find(id);
      if (!op) continue;
      if (op->cancelled)
        ran += table_.complete(id, -ECANCELED);
      else
        arm(*op);
    }
  }

  __kernel_timespec ts{};
  auto wait = ran > 0 ? std::chrono::milliseconds(0) : max_wait;
  // A send that fits completes inside the io_uring_enter that submits it and would end the wait
  // at once: one more enter per wake-up, to handle a completion nobody waits for. The wait
  // counts such sends (they complete during the submission, before the wait starts) and sleeps
  // until the event after them; their callbacks run when the loop next wakes. Bounded, should a
  // send find the socket buffer full after all and complete later instead.
  unsigned wait_nr = 1;
  if (wait.count() > 0) {
    if (unsigned quiet = quietSendsToSleepThrough(); quiet > 0) {
      wait_nr += quiet;
      wait = std::min(wait, options_.quiet_send_wait);
    }
  } else {
    unsubmitted_sends_.clear();
  }
  ts.tv_sec = wait.count() / 1000;
  ts.tv_nsec = (wait.count() % 1000) * 1'000'000;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, wait_nr, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
    spdlog::error("io_uring_submit_and_wait_timeout: {}", std::strerror(-rc));
  if (rc < 0 && rc != -ETIME) counted_sends_.clear();  // not submitted: they were not slept through
  table_.stats().quiet_sends += counted_sends_.size();

  // Bounded batch so a flood of completions cannot starve posted tasks and re-arms. What the
  // callbacks submit goes out every submit_every completions (LoopOptions), so a peer waiting
  // for a send does not wait for the whole batch.
  unsigned since_submit = 0;
  for (unsigned n = 0; n < 4 * options_.ring_entries; ++n) {
    if (io_uring_peek_cqe(&ring_, &cqe) != 0) break;
    uint64_t user_data = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    ran += handle(user_data, res, flags);
    if (options_.submit_every != 0 && ++since_submit >= options_.submit_every) {
      since_submit = 0;
      if (io_uring_sq_ready(&ring_) > 0) {
        ++table_.stats().early_submits;
        submitNow();
      }
    }
  }
  // A counted send still in flight found the socket buffer full: it completes later, and this
  // wait may have waited for it (up to quiet_send_wait). (One whose completion the batch bound
  // left in the ring counts too.)
  for (OpId id : counted_sends_)
    if (table_.find(id)) ++table_.stats().quiet_sends_late;
  counted_sends_.clear();
  return ran;
}

}  // namespace warren::uring
