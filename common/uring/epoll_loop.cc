#include "common/uring/epoll_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace warren::uring {

namespace {
// Reads per fd per iteration before yielding to other fds (fairness under a fast sender).
constexpr int kMaxReadsPerAttempt = 16;
}  // namespace

Result<std::unique_ptr<EpollLoop>> EpollLoop::create(const LoopOptions& options) {
  std::unique_ptr<EpollLoop> loop(new EpollLoop());
  loop->options_ = options;
  loop->epoll_fd_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!loop->epoll_fd_) return fail(WARREN_SYS_ERROR("epoll_create1"));
  loop->wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop->wake_fd_) return fail(WARREN_SYS_ERROR("eventfd for the loop wake-up"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = loop->wake_fd_.get();
  if (::epoll_ctl(loop->epoll_fd_.get(), EPOLL_CTL_ADD, loop->wake_fd_.get(), &ev) != 0)
    return fail(WARREN_SYS_ERROR("epoll_ctl(ADD eventfd)"));
  loop->scratch_.resize(options.recv_buffer_size);
  return loop;
}

OpId EpollLoop::add(std::unique_ptr<Operation> op) {
  OpId id = next_id_++;
  op->id = id;
  int fd = op->fd;
  OpKind kind = op->kind;
  ops_.emplace(id, std::move(op));
  ++stats_.ops_in_flight;
  if (kind == OpKind::kTimeout) {
    timers_.emplace(ops_[id]->deadline, id);
    return id;
  }
  auto [it, inserted] = fds_.try_emplace(fd);
  if (inserted) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) {
      int err = errno;
      ready_.emplace_back(id, -err);  // e.g. EBADF: complete with the error, asynchronously
      fds_.erase(it);
      return id;
    }
  }
  bool reader = kind == OpKind::kAccept || kind == OpKind::kRecv || kind == OpKind::kRecvMultishot;
  (reader ? it->second.readers : it->second.writers).push_back(id);
  markDirty(fd);
  return id;
}

void EpollLoop::markDirty(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.dirty) return;
  it->second.dirty = true;
  dirty_.push_back(fd);
}

OpId EpollLoop::acceptMultishot(int listen_fd, AcceptFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kAccept;
  op->fd = listen_fd;
  op->on_accept = std::move(fn);
  return add(std::move(op));
}

OpId EpollLoop::recv(int fd, size_t max_len, RecvFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecv;
  op->fd = fd;
  op->max_len = max_len == 0 ? 1 : max_len;
  op->on_recv = std::move(fn);
  return add(std::move(op));
}

OpId EpollLoop::recvMultishot(int fd, RecvFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecvMultishot;
  op->fd = fd;
  op->on_recv = std::move(fn);
  return add(std::move(op));
}

OpId EpollLoop::send(int fd, Buffer buffer, size_t offset, SendFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSend;
  op->fd = fd;
  op->buffer = std::move(buffer);
  op->offset = std::min(offset, op->buffer.size());
  op->on_send = std::move(fn);
  return add(std::move(op));
}

OpId EpollLoop::connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kConnect;
  op->fd = fd;
  op->addr_len = std::min<socklen_t>(len, sizeof(op->addr));
  std::memcpy(&op->addr, addr, op->addr_len);
  op->on_done = std::move(fn);
  return add(std::move(op));
}

OpId EpollLoop::timeout(std::chrono::nanoseconds after, DoneFn fn) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  op->deadline = std::chrono::steady_clock::now() + std::max(after, std::chrono::nanoseconds(0));
  op->on_done = std::move(fn);
  return add(std::move(op));
}

void EpollLoop::unqueue(const Operation& op) {
  if (op.kind == OpKind::kTimeout) {
    auto range = timers_.equal_range(op.deadline);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == op.id) {
        timers_.erase(it);
        break;
      }
    }
    return;
  }
  auto it = fds_.find(op.fd);
  if (it == fds_.end()) return;
  for (auto* q : {&it->second.readers, &it->second.writers}) {
    auto pos = std::find(q->begin(), q->end(), op.id);
    if (pos != q->end()) q->erase(pos);
  }
}

void EpollLoop::cancel(OpId id) {
  auto it = ops_.find(id);
  if (it == ops_.end() || it->second->cancelled) return;
  it->second->cancelled = true;
  unqueue(*it->second);
  ready_.emplace_back(id, -ECANCELED);
}

void EpollLoop::close(int fd) {
  if (fd < 0) return;
  auto it = fds_.find(fd);
  if (it != fds_.end()) {
    std::vector<OpId> ids(it->second.readers.begin(), it->second.readers.end());
    ids.insert(ids.end(), it->second.writers.begin(), it->second.writers.end());
    for (OpId id : ids) {
      auto op = ops_.find(id);
      if (op == ops_.end()) continue;
      op->second->cancelled = true;
      ready_.emplace_back(id, -ECANCELED);
    }
    fds_.erase(it);
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  ::close(fd);
}

size_t EpollLoop::finish(OpId id, int res) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return 0;
  std::unique_ptr<Operation> op = std::move(it->second);
  ops_.erase(it);
  --stats_.ops_in_flight;
  ++stats_.completions;
  op->completeWith(res);
  return 1;
}

size_t EpollLoop::attemptReader(int fd, OpId id, bool& blocked) {
  Operation* op = ops_.at(id).get();
  size_t ran = 0;
  for (int i = 0; i < kMaxReadsPerAttempt; ++i) {
    if (op->kind == OpKind::kAccept) {
      int nfd = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (nfd < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return blocked = true, ran;
        if (err == ECONNABORTED || err == EINTR) continue;
        unqueue(*op);
        return ran + finish(id, -err);
      }
      ++stats_.completions;
      op->on_accept(nfd);
      ++ran;
    } else {
      size_t len =
          op->kind == OpKind::kRecv ? std::min(op->max_len, scratch_.size()) : scratch_.size();
      ssize_t n = ::recv(fd, scratch_.data(), len, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return blocked = true, ran;
      if (n < 0 && errno == EINTR) continue;
      int res = n < 0 ? -errno : static_cast<int>(n);
      if (op->kind == OpKind::kRecv || res <= 0) {
        unqueue(*op);
        auto owned = std::move(ops_.at(id));
        ops_.erase(id);
        --stats_.ops_in_flight;
        ++stats_.completions;
        owned->on_recv(res, {scratch_.data(), res > 0 ? static_cast<size_t>(res) : 0});
        return ran + 1;
      }
      ++stats_.completions;
      op->on_recv(res, {scratch_.data(), static_cast<size_t>(res)});
      ++ran;
    }
    // The callback may have cancelled this operation or closed the fd.
    if (op->cancelled || !fds_.contains(fd)) return ran;
  }
  markDirty(fd);  // more may be waiting: continue next iteration, after other fds
  return ran;
}

size_t EpollLoop::attemptWriter(int fd, OpId id, bool& blocked) {
  Operation* op = ops_.at(id).get();
  if (op->kind == OpKind::kSend) {
    ssize_t n = ::send(fd, op->buffer.data() + op->offset, op->buffer.size() - op->offset,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return blocked = true, 0;
    int res = n < 0 ? -errno : static_cast<int>(n);
    unqueue(*op);
    return finish(id, res);
  }
  // connect: start it, then each later attempt asks the socket whether it has finished.
  if (!op->connect_started) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&op->addr), op->addr_len) == 0) {
      unqueue(*op);
      return finish(id, 0);
    }
    int err = errno;
    if (err != EINPROGRESS && err != EINTR) {
      unqueue(*op);
      return finish(id, -err);
    }
    op->connect_started = true;
    return blocked = true, 0;
  }
  int soerr = 0;
  socklen_t len = sizeof(soerr);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
  if (soerr == 0) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
      if (errno == ENOTCONN) return blocked = true, 0;  // still in progress
      soerr = errno;
    }
  }
  unqueue(*op);
  return finish(id, -soerr);
}

size_t EpollLoop::attempt(int fd) {
  size_t ran = 0;
  for (bool readers : {true, false}) {
    // Bounded: each pass either completes an operation or stops at EAGAIN.
    for (int guard = 0; guard < 64; ++guard) {
      auto it = fds_.find(fd);
      if (it == fds_.end()) return ran;
      auto& q = readers ? it->second.readers : it->second.writers;
      if (q.empty()) break;
      OpId id = q.front();
      bool blocked = false;
      ran += readers ? attemptReader(fd, id, blocked) : attemptWriter(fd, id, blocked);
      if (blocked) break;
      auto again = fds_.find(fd);
      if (again == fds_.end()) return ran;
      auto& q2 = readers ? again->second.readers : again->second.writers;
      if (!q2.empty() && q2.front() == id) break;  // multishot still queued: yielded
    }
  }
  return ran;
}

void EpollLoop::post(Task task) {
  bool was_empty;
  {
    std::lock_guard lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  if (was_empty) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
  }
}

void EpollLoop::stop() {
  stop_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void EpollLoop::run() {
  // stop_ is reset on the way out, not on entry: a stop() that races ahead of run() counts.
  while (!stop_.load()) runOnce(std::chrono::milliseconds(1000));
  stop_.store(false);
}

size_t EpollLoop::runPosted() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) t();
  return tasks.size();
}

size_t EpollLoop::runOnce(std::chrono::milliseconds max_wait) {
  size_t ran = 0;
  auto deliver = [&] {
    while (!ready_.empty()) {
      auto batch = std::move(ready_);
      ready_.clear();
      for (auto [id, res] : batch) ran += finish(id, res);
    }
  };
  deliver();
  for (int pass = 0; pass < 4 && !dirty_.empty(); ++pass) {
    auto fds = std::move(dirty_);
    dirty_.clear();
    for (int fd : fds) {
      auto it = fds_.find(fd);
      if (it == fds_.end()) continue;
      it->second.dirty = false;
      ran += attempt(fd);
    }
    deliver();
  }

  auto wait = max_wait;
  if (ran > 0 || !dirty_.empty() || stop_.load()) wait = std::chrono::milliseconds(0);
  if (!timers_.empty()) {
    auto until = std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first -
                                                              std::chrono::steady_clock::now());
    wait = std::clamp(until, std::chrono::milliseconds(0), wait);
  }
  epoll_event events[256];
  int n = ::epoll_wait(epoll_fd_.get(), events, 256, static_cast<int>(wait.count()));
  if (n < 0 && errno != EINTR) spdlog::error("epoll_wait: {}", std::strerror(errno));
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wake_fd_.get()) {
      uint64_t v;
      [[maybe_unused]] auto r = ::read(fd, &v, sizeof(v));
      continue;
    }
    markDirty(fd);
  }
  ran += runPosted();
  for (int pass = 0; pass < 1 && !dirty_.empty(); ++pass) {
    auto fds = std::move(dirty_);
    dirty_.clear();
    for (int fd : fds) {
      auto it = fds_.find(fd);
      if (it == fds_.end()) continue;
      it->second.dirty = false;
      ran += attempt(fd);
    }
  }
  auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    OpId id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    ran += finish(id, 0);
  }
  deliver();
  return ran;
}

}  // namespace warren::uring
