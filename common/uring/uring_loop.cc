#include "common/uring/uring_loop.h"

#include <sys/eventfd.h>

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
}  // namespace

Result<std::unique_ptr<UringLoop>> UringLoop::create(const LoopOptions& options) {
  auto features = probeRingFeatures();
  if (!features) return fail(features.error());
  std::unique_ptr<UringLoop> loop(new UringLoop());
  loop->features_ = *features;
  loop->options_ = options;

  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = options.ring_entries * 4;
  if (features->defer_taskrun)
    p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  else if (features->coop_taskrun)
    p.flags |= IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(options.ring_entries, &loop->ring_, &p);
  if (rc < 0)
    return fail(Error::system(
        -rc, "io_uring_queue_init_params(" + std::to_string(options.ring_entries) + " entries)"));
  loop->ring_ready_ = true;
  loop->setup_flags_ = p.flags;

  auto buffers = BufferRing::create(&loop->ring_, kBufferGroup, options.recv_buffer_count,
                                    options.recv_buffer_size);
  if (!buffers) return fail(buffers.error());
  loop->buffers_ = std::move(*buffers);

  loop->wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop->wake_fd_) return fail(WARREN_SYS_ERROR("eventfd for the loop wake-up"));
  loop->armWake();
  io_uring_submit(&loop->ring_);
  return loop;
}

UringLoop::~UringLoop() {
  if (ring_ready_) {
    // Exiting the ring cancels every request; only then may operations (their buffers) and the
    // provided-buffer memory go away.
    io_uring_queue_exit(&ring_);
    if (buffers_) buffers_->ringClosed();
  }
  buffers_.reset();
  ops_.clear();
}

std::string UringLoop::describe() const {
  std::string s = features_.describe();
  s += (setup_flags_ & IORING_SETUP_DEFER_TASKRUN)  ? " [setup: single_issuer+defer_taskrun]"
       : (setup_flags_ & IORING_SETUP_COOP_TASKRUN) ? " [setup: coop_taskrun]"
                                                    : " [setup: default]";
  return s;
}

io_uring_sqe* UringLoop::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  // The SQ is full: push it to the kernel and take a fresh slot. A submit consumes the whole
  // SQ unless the kernel is short of memory (-EAGAIN/-EBUSY), hence the bounded retry.
  for (int attempt = 0; !s && attempt < 1000; ++attempt) {
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

void UringLoop::armWake() {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(s, kWakeTag);
}

void UringLoop::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: a wake-up is pending anyway.
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

OpId UringLoop::add(std::unique_ptr<Operation> op) {
  OpId id = next_id_++;
  op->id = id;
  Operation& ref = *op;
  ops_.emplace(id, std::move(op));
  ++stats_.ops_in_flight;
  arm(ref);
  return id;
}

void UringLoop::arm(Operation& op) {
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
      break;
    case OpKind::kRecvMultishot:
      if (features_.multishot_recv)
        io_uring_prep_recv_multishot(s, op.fd, nullptr, 0, 0);
      else
        io_uring_prep_recv(s, op.fd, nullptr, static_cast<unsigned>(buffers_->bufferSize()), 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = buffers_->groupId();
      break;
    case OpKind::kSend:
      io_uring_prep_send(s, op.fd, op.buffer.data() + op.offset, op.buffer.size() - op.offset,
                         MSG_NOSIGNAL);
      break;
    case OpKind::kConnect:
      io_uring_prep_connect(s, op.fd, reinterpret_cast<sockaddr*>(&op.addr), op.addr_len);
      break;
    case OpKind::kTimeout:
      io_uring_prep_timeout(s, &op.ts, 0, 0);
      break;
  }
  io_uring_sqe_set_data64(s, op.id);
}

OpId UringLoop::acceptMultishot(int listen_fd, AcceptFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kAccept;
  op->fd = listen_fd;
  op->on_accept = std::move(fn);
  return add(std::move(op));
}

OpId UringLoop::recv(int fd, size_t max_len, RecvFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecv;
  op->fd = fd;
  op->max_len = max_len == 0 ? 1 : max_len;
  op->on_recv = std::move(fn);
  return add(std::move(op));
}

OpId UringLoop::recvMultishot(int fd, RecvFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecvMultishot;
  op->fd = fd;
  op->on_recv = std::move(fn);
  return add(std::move(op));
}

OpId UringLoop::send(int fd, Buffer buffer, size_t offset, SendFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSend;
  op->fd = fd;
  op->buffer = std::move(buffer);
  op->offset = std::min(offset, op->buffer.size());
  op->on_send = std::move(fn);
  return add(std::move(op));
}

OpId UringLoop::connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kConnect;
  op->fd = fd;
  op->addr_len = std::min<socklen_t>(len, sizeof(op->addr));
  std::memcpy(&op->addr, addr, op->addr_len);
  op->on_done = std::move(fn);
  return add(std::move(op));
}

OpId UringLoop::timeout(std::chrono::nanoseconds after, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  auto ns = std::max<int64_t>(after.count(), 0);
  op->ts.tv_sec = ns / 1'000'000'000;
  op->ts.tv_nsec = ns % 1'000'000'000;
  op->on_done = std::move(fn);
  return add(std::move(op));
}

void UringLoop::cancel(OpId id) {
  auto it = ops_.find(id);
  if (it == ops_.end() || it->second->cancelled) return;
  it->second->cancelled = true;
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, id, 0);
  io_uring_sqe_set_data64(s, kIgnoreTag);
}

void UringLoop::close(int fd) {
  if (fd < 0) return;
  // Operations parked for re-arm are not in the kernel: mark them so they end instead.
  for (OpId id : rearm_) {
    auto it = ops_.find(id);
    if (it != ops_.end() && it->second->fd == fd) it->second->cancelled = true;
  }
  // The kernel holds its own file reference for in-flight requests, so closing alone would
  // leave them pending forever. Cancel by fd, submitted now (matched against the open file),
  // then close: the number can be reused at once.
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(s, kIgnoreTag);
  io_uring_submit(&ring_);
  ::close(fd);
}

void UringLoop::post(Task task) {
  bool was_empty;
  {
    std::lock_guard lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  if (was_empty) wake();
}

void UringLoop::stop() {
  stop_.store(true);
  wake();
}

void UringLoop::run() {
  // stop_ is reset on the way out, not on entry: a stop() that races ahead of run() counts.
  while (!stop_.load()) runOnce(std::chrono::milliseconds(1000));
  stop_.store(false);
}

size_t UringLoop::runPosted() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
  return tasks.size();
}

size_t UringLoop::finish(OpId id, int res) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return 0;
  std::unique_ptr<Operation> op = std::move(it->second);
  ops_.erase(it);
  --stats_.ops_in_flight;
  op->completeWith(res);
  return 1;
}

size_t UringLoop::handle(uint64_t user_data, int res, uint32_t flags) {
  if (user_data == kIgnoreTag) return 0;
  if (user_data == kWakeTag) {
    armWake();
    return runPosted();
  }
  bool has_buffer = flags & IORING_CQE_F_BUFFER;
  uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  bool more = flags & IORING_CQE_F_MORE;
  auto it = ops_.find(user_data);
  if (it == ops_.end()) {
    if (has_buffer) buffers_->recycle(bid);
    return 0;
  }
  Operation& op = *it->second;
  switch (op.kind) {
    case OpKind::kAccept:
      if (res >= 0) {
        op.on_accept(res);
        // Single-shot accept, or a multishot the kernel ended: keep accepting until cancelled.
        if (!more) {
          if (op.cancelled) return 1 + finish(user_data, -ECANCELED);
          ++stats_.multishot_rearms;
          arm(op);
        }
        return 1;
      }
      if (res == -EINVAL && features_.multishot_accept && !op.cancelled) {
        spdlog::warn("io_uring: multishot accept refused (-EINVAL), using single-shot");
        features_.multishot_accept = false;
        arm(op);
        return 0;
      }
      return finish(user_data, res);
    case OpKind::kRecv:
    case OpKind::kRecvMultishot: {
      bool multishot = op.kind == OpKind::kRecvMultishot;
      if (res == -ENOBUFS && !op.cancelled) {
        // The ring ran dry: flow control, not failure. Re-arm after this batch recycles.
        ++stats_.enobufs_rearms;
        rearm_.push_back(user_data);
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
        if (!multishot) {
          auto owned = std::move(it->second);
          ops_.erase(it);
          --stats_.ops_in_flight;
          owned->on_recv(res, data);
          buffers_->recycle(bid);
          return 1;
        }
        op.on_recv(res, data);
        buffers_->recycle(bid);
        if (!more) {
          if (op.cancelled) return 1 + finish(user_data, -ECANCELED);
          ++stats_.multishot_rearms;
          arm(op);
        }
        return 1;
      }
      if (has_buffer) buffers_->recycle(bid);
      if (more) return 0;  // not expected: a multishot keeps going only with data
      return finish(user_data, res);
    }
    case OpKind::kSend:
    case OpKind::kConnect:
      return finish(user_data, res);
    case OpKind::kTimeout:
      return finish(user_data, res == -ETIME ? 0 : res);
  }
  return 0;
}

size_t UringLoop::runOnce(std::chrono::milliseconds max_wait) {
  size_t ran = 0;
  if (!rearm_.empty()) {
    std::vector<OpId> ids;
    ids.swap(rearm_);
    for (OpId id : ids) {
      auto it = ops_.find(id);
      if (it == ops_.end()) continue;
      if (it->second->cancelled)
        ran += finish(id, -ECANCELED);
      else
        arm(*it->second);
    }
  }
  bool have_posted;
  {
    std::lock_guard lock(posted_mu_);
    have_posted = !posted_.empty();
  }
  if (have_posted) ran += runPosted();

  __kernel_timespec ts{};
  auto wait = (ran > 0 || stop_.load()) ? std::chrono::milliseconds(0) : max_wait;
  ts.tv_sec = wait.count() / 1000;
  ts.tv_nsec = (wait.count() % 1000) * 1'000'000;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
    spdlog::error("io_uring_submit_and_wait_timeout: {}", std::strerror(-rc));

  // Bounded batch so a flood of completions cannot starve posted tasks and re-arms.
  for (unsigned n = 0; n < 4 * options_.ring_entries; ++n) {
    if (io_uring_peek_cqe(&ring_, &cqe) != 0) break;
    uint64_t user_data = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    ++stats_.completions;
    ran += handle(user_data, res, flags);
  }
  return ran;
}

LoopStats UringLoop::stats() const { return stats_; }

}  // namespace warren::uring
