#include "common/uring/epoll_backend.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace warren::uring {

namespace {
// Reads per fd per iteration before yielding to other fds (fairness under a fast sender).
constexpr int kMaxReadsPerAttempt = 16;
}  // namespace

Result<std::unique_ptr<EpollBackend>> EpollBackend::create(const LoopOptions& options,
                                                           OperationTable& table) {
  std::unique_ptr<EpollBackend> b(new EpollBackend(table));
  b->epoll_fd_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!b->epoll_fd_) return fail(WARREN_SYS_ERROR("epoll_create1"));
  b->wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!b->wake_fd_) return fail(WARREN_SYS_ERROR("eventfd for the loop wake-up"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = b->wake_fd_.get();
  if (::epoll_ctl(b->epoll_fd_.get(), EPOLL_CTL_ADD, b->wake_fd_.get(), &ev) != 0)
    return fail(WARREN_SYS_ERROR("epoll_ctl(ADD eventfd)"));
  b->scratch_.resize(options.recv_buffer_size);
  return b;
}

void EpollBackend::arm(Operation& op) {
  if (op.kind == OpKind::kTimeout) {
    op.deadline = std::chrono::steady_clock::now() + op.after;
    timers_.emplace(op.deadline, op.id);
    return;
  }
  auto [it, inserted] = fds_.try_emplace(op.fd);
  if (inserted) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = op.fd;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, op.fd, &ev) != 0 && errno != EEXIST) {
      int err = errno;
      table_.completeLater(op.id, -err);  // e.g. EBADF: complete with the error, asynchronously
      fds_.erase(it);
      return;
    }
  }
  (op.reads() ? it->second.readers : it->second.writers).push_back(op.id);
  markDirty(op.fd);
}

void EpollBackend::markDirty(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end() || it->second.dirty) return;
  it->second.dirty = true;
  dirty_.push_back(fd);
}

void EpollBackend::unqueue(const Operation& op) {
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

void EpollBackend::cancel(Operation& op) {
  // Nothing of an operation is in the kernel between attempts: end it now.
  unqueue(op);
  table_.completeLater(op.id, -ECANCELED);
}

void EpollBackend::cancelFd(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  std::vector<OpId> ids(it->second.readers.begin(), it->second.readers.end());
  ids.insert(ids.end(), it->second.writers.begin(), it->second.writers.end());
  for (OpId id : ids) {
    Operation* op = table_.find(id);
    if (!op) continue;
    op->cancelled = true;
    table_.completeLater(id, -ECANCELED);
  }
  fds_.erase(it);
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

size_t EpollBackend::attemptReader(int fd, Operation& op, bool& blocked) {
  OpId id = op.id;
  size_t ran = 0;
  for (int i = 0; i < kMaxReadsPerAttempt; ++i) {
    if (op.kind == OpKind::kSpliceFromSocket) {
      ssize_t n =
          ::splice(fd, nullptr, op.pipe_fd, nullptr, op.max_len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return blocked = true, ran;
      if (n < 0 && errno == EINTR) continue;
      unqueue(op);
      return ran + table_.complete(id, n < 0 ? -errno : static_cast<int>(n));
    }
    if (op.kind == OpKind::kAccept) {
      int nfd = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (nfd < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return blocked = true, ran;
        if (err == ECONNABORTED || err == EINTR) continue;
        unqueue(op);
        return ran + table_.complete(id, -err);
      }
      ran += table_.complete(id, nfd, {}, /*final=*/false);
    } else {
      size_t len =
          op.kind == OpKind::kRecv ? std::min(op.max_len, scratch_.size()) : scratch_.size();
      ssize_t n = ::recv(fd, scratch_.data(), len, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return blocked = true, ran;
      if (n < 0 && errno == EINTR) continue;
      int res = n < 0 ? -errno : static_cast<int>(n);
      std::span<const char> data{scratch_.data(), res > 0 ? static_cast<size_t>(res) : 0};
      if (op.kind == OpKind::kRecv || res <= 0) {
        unqueue(op);
        return ran + table_.complete(id, res, data);
      }
      ran += table_.complete(id, res, data, /*final=*/false);
    }
    // The callback may have cancelled this operation or closed the fd (`op` itself stays in
    // the table until its final report).
    if (op.cancelled || !fds_.contains(fd)) return ran;
  }
  markDirty(fd);  // more may be waiting: continue next iteration, after other fds
  return ran;
}

size_t EpollBackend::attemptWriter(int fd, Operation& op, bool& blocked) {
  OpId id = op.id;
  if (op.kind == OpKind::kSend) {
    ssize_t n = ::send(fd, op.buffer.data() + op.offset, op.buffer.size() - op.offset,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return blocked = true, 0;
    int res = n < 0 ? -errno : static_cast<int>(n);
    unqueue(op);
    return table_.complete(id, res);
  }
  if (op.kind == OpKind::kSpliceToSocket) {
    ssize_t n =
        ::splice(op.pipe_fd, nullptr, fd, nullptr, op.max_len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return blocked = true, 0;
    unqueue(op);
    return table_.complete(id, n < 0 ? -errno : static_cast<int>(n));
  }
  // connect: start it, then each later attempt asks the socket whether it has finished.
  if (!op.connect_started) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&op.addr), op.addr_len) == 0) {
      unqueue(op);
      return table_.complete(id, 0);
    }
    int err = errno;
    if (err != EINPROGRESS && err != EINTR) {
      unqueue(op);
      return table_.complete(id, -err);
    }
    op.connect_started = true;
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
  unqueue(op);
  return table_.complete(id, -soerr);
}

size_t EpollBackend::attempt(int fd) {
  size_t ran = 0;
  for (bool readers : {true, false}) {
    // Bounded: each pass either completes an operation or stops at EAGAIN.
    for (int guard = 0; guard < 64; ++guard) {
      auto it = fds_.find(fd);
      if (it == fds_.end()) return ran;
      auto& q = readers ? it->second.readers : it->second.writers;
      if (q.empty()) break;
      OpId id = q.front();
      Operation* op = table_.find(id);
      if (!op) {  // cannot happen: every final report unqueues first
        q.pop_front();
        continue;
      }
      bool blocked = false;
      ran += readers ? attemptReader(fd, *op, blocked) : attemptWriter(fd, *op, blocked);
      if (blocked) break;
      auto again = fds_.find(fd);
      if (again == fds_.end()) return ran;
      auto& q2 = readers ? again->second.readers : again->second.writers;
      if (!q2.empty() && q2.front() == id) break;  // multishot still queued: yielded
    }
  }
  return ran;
}

size_t EpollBackend::attemptDirty() {
  size_t ran = 0;
  auto fds = std::move(dirty_);
  dirty_.clear();
  for (int fd : fds) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) continue;
    it->second.dirty = false;
    ran += attempt(fd);
  }
  return ran;
}

void EpollBackend::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof(one));
}

size_t EpollBackend::poll(std::chrono::milliseconds max_wait) {
  size_t ran = 0;
  // Submissions and fds left ready from the last turn; cancellations they cause are settled
  // between passes.
  for (int pass = 0; pass < 4 && !dirty_.empty(); ++pass) {
    ran += attemptDirty();
    ran += table_.runDeferred();
  }

  auto wait = max_wait;
  if (ran > 0 || !dirty_.empty() || table_.hasDeferred()) wait = std::chrono::milliseconds(0);
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
      continue;  // the loop runs posted tasks after poll()
    }
    markDirty(fd);
  }
  if (!dirty_.empty()) ran += attemptDirty();
  auto now = std::chrono::steady_clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    OpId id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    ran += table_.complete(id, 0);
  }
  return ran;
}

}  // namespace warren::uring
