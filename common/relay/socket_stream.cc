#include "common/relay/socket_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace warren::relay {

struct SocketStream::State final : uring::SendFollower {
  uring::EventLoop& loop;
  int fd;
  StreamEvents* events = nullptr;
  bool closed = false;
  bool reading = false;
  bool writing = false;
  bool shutdown_pending = false;
  // The last recv came back shorter than it could have: the socket was drained, so the next
  // one waits for data before reading (uring::RecvStart::kPollFirst).
  bool drained = false;
  // The last send came back short: the socket buffer was full, so the next one is not expected
  // to complete at once and is made without a follower (it must end the loop's wait).
  bool congested = false;
  bool kernel_tls = false;  // sendThroughKernelTls()
  std::deque<uring::Buffer> queue;

  State(uring::EventLoop& l, int f) : loop(l), fd(f) {}
  ~State() {
    if (!closed && fd >= 0) loop.close(fd);
  }
  // The send's completion does something at once when more is queued behind it, a shutdown
  // waits for it, or the stream's user waits for onWritten.
  bool waitsForSend() override {
    if (closed) return false;
    return !queue.empty() || shutdown_pending || (events && events->waitsForWrite());
  }
};

namespace {

using State = SocketStream::State;

void doShutdown(State& s) {
  s.shutdown_pending = false;
  if (::shutdown(s.fd, SHUT_WR) != 0 && errno != ENOTCONN && s.events)
    s.events->onError(WARREN_SYS_ERROR("shutdown(SHUT_WR)"));
}

void startSend(const std::shared_ptr<State>& s, uring::Buffer data, size_t offset) {
  s->writing = true;
  // A quiet send is MSG_WAITALL, which kTLS's sendmsg refuses (EOPNOTSUPP).
  uring::SendFollower* follower = s->congested || s->kernel_tls ? nullptr : s.get();
  s->loop.send(
      s->fd, std::move(data), offset,
      [s, offset](int res, uring::Buffer buf) {
        if (s->closed) return;  // the buffer dies with this callback
        if (res < 0) {
          s->writing = false;
          if (s->events) s->events->onError(Error::system(-res, "send"));
          return;
        }
        size_t done = offset + static_cast<size_t>(res);
        s->congested = done < buf.size();
        if (s->congested) {  // short send: continue from where it stopped
          startSend(s, std::move(buf), done);
          return;
        }
        s->writing = false;
        size_t total = buf.size();
        if (!s->queue.empty()) {
          auto next = std::move(s->queue.front());
          s->queue.pop_front();
          startSend(s, std::move(next), 0);
        } else if (s->shutdown_pending) {
          doShutdown(*s);
        }
        if (s->events) s->events->onWritten(total, std::move(buf));
      },
      follower);
}

}  // namespace

SocketStream::SocketStream(uring::EventLoop& loop, UniqueFd fd)
    : state_(std::make_shared<State>(loop, fd.release())) {}

SocketStream::~SocketStream() { close(); }

int SocketStream::fd() const { return state_->closed ? -1 : state_->fd; }

UniqueFd SocketStream::release() {
  auto& s = state_;
  if (s->closed || s->reading || s->writing) return UniqueFd();
  s->closed = true;
  s->events = nullptr;
  return UniqueFd(std::exchange(s->fd, -1));
}

void SocketStream::setEvents(StreamEvents* events) { state_->events = events; }

void SocketStream::sendThroughKernelTls() { state_->kernel_tls = true; }

void SocketStream::read(size_t max_bytes) {
  auto& s = state_;
  if (s->closed || s->reading) return;
  s->reading = true;
  const size_t asked = s->loop.recvLimit(max_bytes);
  auto start = s->drained ? uring::RecvStart::kPollFirst : uring::RecvStart::kTryFirst;
  auto done = [s, asked](int res, std::span<const char> data) {
    if (s->closed) return;
    s->reading = false;
    s->drained = res > 0 && static_cast<size_t>(res) < asked;
    if (!s->events) return;
    if (res > 0)
      s->events->onData(data);
    else if (res == 0)
      s->events->onReadEof();
    else if (res == -ECONNRESET)
      s->events->onError(Error::system(-res, "recv: connection reset by peer"));
    else
      s->events->onError(Error::system(-res, "recv"));
  };
  s->loop.recv(s->fd, max_bytes, std::move(done), start);
}

void SocketStream::write(uring::Buffer data) {
  if (state_->closed) return;
  if (state_->writing)
    state_->queue.push_back(std::move(data));
  else
    startSend(state_, std::move(data), 0);
}

void SocketStream::shutdownWrite() {
  if (state_->closed) return;
  if (state_->writing)
    state_->shutdown_pending = true;
  else
    doShutdown(*state_);
}

void SocketStream::close() {
  auto& s = state_;
  if (!s || s->closed) return;
  s->closed = true;
  s->events = nullptr;
  s->queue.clear();
  s->loop.close(s->fd);
}

std::string SocketStream::describe() const { return "socket fd " + std::to_string(state_->fd); }

size_t SocketStream::readChunk() const { return state_->loop.recvLimit(SIZE_MAX); }

}  // namespace warren::relay
