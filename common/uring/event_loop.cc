#include "common/uring/event_loop.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "common/uring/epoll_backend.h"
#include "common/uring/loop_backend.h"
#include "common/uring/operation.h"
#include "common/uring/uring_backend.h"

namespace warren::uring {

namespace {
// The loop whose runOnce() is on this thread's stack (null outside one). A task posted from
// there needs no wake-up: runOnce() runs the queue after the backend's wait and again at the
// start of the next turn, and never blocks while it is non-empty.
thread_local const EventLoop* tls_running_loop = nullptr;
}  // namespace

const char* backendName(Backend b) { return b == Backend::kUring ? "io_uring" : "epoll"; }

Result<Backend> parseBackend(const std::string& name) {
  if (name == "uring" || name == "io_uring") return Backend::kUring;
  if (name == "epoll") return Backend::kEpoll;
  return fail(Error::invalid("unknown I/O backend '" + name + "' (uring, epoll)"));
}

Result<Backend> backendFromEnvironment() {
  const char* env = std::getenv("WARREN_IO_BACKEND");
  if (!env || !*env) return Backend::kUring;
  auto b = parseBackend(env);
  if (!b) return fail(b.error().wrap("WARREN_IO_BACKEND"));
  return b;
}

EventLoop::EventLoop() : table_(std::make_unique<OperationTable>()) {}

Result<std::unique_ptr<EventLoop>> EventLoop::create(const LoopOptions& options) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->recv_chunk_ = options.recv_buffer_size;
  if (options.backend == Backend::kEpoll) {
    auto backend = EpollBackend::create(options, *loop->table_);
    if (!backend) return fail(backend.error());
    loop->backend_ = std::move(*backend);
    return loop;
  }
  auto backend = UringBackend::create(options, *loop->table_);
  if (backend) {
    loop->backend_ = std::move(*backend);
    return loop;
  }
  if (!options.fallback_to_epoll) return fail(backend.error());
  spdlog::warn("io_uring unavailable, using epoll: {}", backend.error().message());
  auto fallback = EpollBackend::create(options, *loop->table_);
  if (!fallback) return fail(fallback.error());
  loop->backend_ = std::move(*fallback);
  return loop;
}

EventLoop::~EventLoop() {
  destroying_ = true;
  // The kernel first (io_uring: exiting the ring cancels every request), so that no
  // operation's buffer is still in use when it is freed.
  if (backend_) backend_->shutdown();
  // Callbacks may own sockets whose destructors call close(), or post: let them, on a table
  // that is already empty.
  auto ops = table_->takeAll();
  ops.clear();
  std::vector<Task> posted;
  {
    std::lock_guard lock(posted_mu_);
    posted.swap(posted_);
  }
  posted.clear();
}

Backend EventLoop::backend() const { return backend_->kind(); }

std::string EventLoop::describe() const { return backend_->describe(); }

OpId EventLoop::submit(std::unique_ptr<Operation> op) {
  if (destroying_) return 0;  // the loop is going away: the operation never starts
  Operation& added = table_->add(std::move(op));
  backend_->arm(added);
  return added.id;
}

OpId EventLoop::acceptMultishot(int listen_fd, AcceptFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kAccept;
  op->fd = listen_fd;
  op->on_accept = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::recv(int fd, size_t max_len, RecvFn fn, RecvStart start) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecv;
  op->fd = fd;
  op->max_len = recvLimit(max_len);
  op->poll_first = start == RecvStart::kPollFirst;
  op->on_recv = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::recvMultishot(int fd, RecvFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecvMultishot;
  op->fd = fd;
  op->on_recv = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::send(int fd, Buffer buffer, size_t offset, SendFn fn, SendFollower* follower) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSend;
  op->fd = fd;
  op->follower = follower;
  op->buffer = std::move(buffer);
  op->offset = std::min(offset, op->buffer.size());
  op->on_send = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kConnect;
  op->fd = fd;
  op->addr_len = std::min<socklen_t>(len, sizeof(op->addr));
  std::memcpy(&op->addr, addr, op->addr_len);
  op->on_done = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::spliceFromSocket(int socket, int pipe_write, size_t len, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSpliceFromSocket;
  op->fd = socket;
  op->pipe_fd = pipe_write;
  op->max_len = len;
  op->on_done = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::spliceToSocket(int pipe_read, int socket, size_t len, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSpliceToSocket;
  op->fd = socket;
  op->pipe_fd = pipe_read;
  op->max_len = len;
  op->on_done = std::move(fn);
  return submit(std::move(op));
}

OpId EventLoop::timeout(std::chrono::nanoseconds after, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  op->after = std::max(after, std::chrono::nanoseconds(0));
  op->on_done = std::move(fn);
  return submit(std::move(op));
}

void EventLoop::cancel(OpId id) {
  if (destroying_) return;
  Operation* op = table_->find(id);
  if (!op || op->cancelled) return;
  op->cancelled = true;
  backend_->cancel(*op);
}

void EventLoop::close(int fd) {
  if (fd < 0) return;
  // While destroying, the backend has let go of every operation already.
  if (!destroying_) backend_->cancelFd(fd);
  ::close(fd);
}

void EventLoop::post(Task task) {
  bool was_empty;
  {
    std::lock_guard lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  // From the loop's own turn (a callback or task: the data path's usual case) the queue runs
  // before the loop waits again, so the eventfd write, its completion and the re-armed read
  // would be pure cost. Other threads wake the loop; a non-empty queue already has a wake-up
  // pending (or the loop is running the queue).
  if (was_empty && tls_running_loop != this) {
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    backend_->wake();
  }
}

void EventLoop::stop() {
  stop_.store(true);
  backend_->wake();
}

void EventLoop::run() {
  // stop_ is reset on the way out, not on entry: a stop() that races ahead of run() counts.
  while (!stop_.load()) runOnce(std::chrono::milliseconds(1000));
  stop_.store(false);
}

size_t EventLoop::runPosted() {
  // The two queues trade places, so neither is reallocated per turn (the data path posts a task
  // or two per request).
  {
    std::lock_guard lock(posted_mu_);
    running_.swap(posted_);
  }
  // Tasks posted by these run in the next batch: a task never runs inside another.
  for (auto& t : running_) t();
  const size_t ran = running_.size();
  running_.clear();
  return ran;
}

size_t EventLoop::runOnce(std::chrono::milliseconds max_wait) {
  if (dispatching_) {
    // A callback running the loop would run other callbacks inside itself (and could destroy
    // the operation whose callback is on the stack).
    // stderr directly: the process is about to die, whatever the logger is set up to do.
    std::fputs("EventLoop::runOnce called from inside a loop callback\n", stderr);
    std::abort();
  }
  dispatching_ = true;
  const EventLoop* outer = std::exchange(tls_running_loop, this);
  // Tasks post tasks (a stream's write completion hands on to the request it serves, which
  // writes again): a few rounds empty the queue, so the loop's next wait is a real one, which
  // may sleep through the sends those tasks made (SendFollower). Bounded, so a task that keeps
  // re-posting itself cannot starve I/O: what is left makes the next wait a poll.
  auto runTasks = [this] {
    constexpr int kRounds = 16;
    size_t ran = 0;
    for (int round = 0; round < kRounds; ++round) {
      size_t r = table_->runDeferred();
      r += runPosted();
      ran += r;
      if (r == 0) break;
    }
    return ran;
  };
  size_t ran = runTasks();
  bool have_posted;
  {
    std::lock_guard lock(posted_mu_);
    have_posted = !posted_.empty();
  }
  // Tasks that ran above only submitted work: the wait may sleep. Tasks still queued (or a
  // stop) must not wait behind it.
  bool busy = have_posted || table_->hasDeferred() || stop_.load();
  ran += backend_->poll(busy ? std::chrono::milliseconds(0) : max_wait);
  ran += runTasks();
  tls_running_loop = outer;
  dispatching_ = false;
  return ran;
}

bool EventLoop::runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    runOnce(std::min(left, std::chrono::milliseconds(50)));
  }
  return true;
}

LoopStats EventLoop::stats() const {
  LoopStats s = counters();
  s.ops_in_flight = table_->size();
  return s;
}

LoopStats EventLoop::counters() const {
  LoopStats s = table_->stats();
  s.ops_in_flight = 0;
  s.wakeups = wakeups_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace warren::uring
