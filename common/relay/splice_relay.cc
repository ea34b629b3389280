#include "common/relay/splice_relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace warren::relay {

namespace {

// A pipe of about `want` bytes, both ends non-blocking; its capacity in *capacity.
Result<std::pair<UniqueFd, UniqueFd>> makePipe(size_t want, size_t* capacity) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return fail(WARREN_SYS_ERROR("pipe2"));
  std::pair<UniqueFd, UniqueFd> p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  // Best effort: over fs.pipe-max-size or the user's pipe pages, the pipe keeps its default.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(want));
  int cap = ::fcntl(fds[1], F_GETPIPE_SZ);
  *capacity = cap > 0 ? static_cast<size_t>(cap) : 64 * 1024;
  return p;
}

}  // namespace

Result<std::shared_ptr<SpliceRelay>> SpliceRelay::create(uring::EventLoop& loop, Sockets& sockets,
                                                         DoneFn done) {
  size_t cap_ab = 0, cap_ba = 0;
  auto ab = makePipe(kPipeCapacity, &cap_ab);
  if (!ab) return fail(ab.error().wrap("splice relay"));
  auto ba = makePipe(kPipeCapacity, &cap_ba);
  if (!ba) return fail(ba.error().wrap("splice relay"));
  std::shared_ptr<SpliceRelay> r(new SpliceRelay(loop, std::move(done)));
  r->a_ = sockets.a.release();
  r->b_ = sockets.b.release();
  auto wire = [](Direction& d, int src, int dst, std::pair<UniqueFd, UniqueFd>& pipe,
                 size_t capacity) {
    d.src = src;
    d.dst = dst;
    d.pipe_r = pipe.first.release();
    d.pipe_w = pipe.second.release();
    d.capacity = capacity;
  };
  wire(r->a_to_b_, r->a_, r->b_, *ab, cap_ab);
  wire(r->b_to_a_, r->b_, r->a_, *ba, cap_ba);
  r->a_to_b_.stats.high_watermark = cap_ab;
  r->b_to_a_.stats.high_watermark = cap_ba;
  return r;
}

SpliceRelay::~SpliceRelay() { closeAll(); }

void SpliceRelay::closeAll() {
  if (closed_) return;
  closed_ = true;
  // Through the loop: cancels the splices and polls in flight on each fd, then closes it.
  for (int fd : {a_, b_, a_to_b_.pipe_r, a_to_b_.pipe_w, b_to_a_.pipe_r, b_to_a_.pipe_w}) {
    if (fd >= 0) loop_.close(fd);
  }
}

void SpliceRelay::start() {
  pump(a_to_b_);
  pump(b_to_a_);
}

// One step of a direction: drain the pipe into the destination, refill it from the source
// once it is empty, half-close the destination once the source ended and the pipe is empty.
void SpliceRelay::pump(Direction& d) {
  if (finished_) return;
  std::weak_ptr<SpliceRelay> weak = weak_from_this();
  if (d.in_pipe > 0 && !d.writing) {
    d.writing = true;
    loop_.spliceToSocket(d.pipe_r, d.dst, d.in_pipe, [weak, &d](int res) {
      if (auto self = weak.lock()) self->onWritten(d, res);
    });
  }
  if (d.in_pipe == 0 && !d.reading && !d.eof) {
    d.reading = true;
    loop_.spliceFromSocket(d.src, d.pipe_w, d.capacity, [weak, &d](int res) {
      if (auto self = weak.lock()) self->onRead(d, res);
    });
  }
  if (d.eof && d.in_pipe == 0 && !d.writing && !d.shut) {
    d.shut = true;
    if (::shutdown(d.dst, SHUT_WR) != 0 && errno != ENOTCONN) {
      finish(WARREN_SYS_ERROR("shutdown(SHUT_WR)"));
      return;
    }
    maybeFinish();
  }
}

void SpliceRelay::onRead(Direction& d, int res) {
  d.reading = false;
  if (finished_) return;
  if (res < 0) {
    finish(Error::system(-res, res == -ECONNRESET ? "splice from socket: connection reset by peer"
                                                  : "splice from socket"));
    return;
  }
  if (res == 0) {
    d.eof = true;
    d.stats.eof = true;
  } else {
    d.in_pipe += static_cast<size_t>(res);
    d.stats.bytes += static_cast<uint64_t>(res);
    d.stats.buffered = d.in_pipe;
    d.stats.peak_buffered = std::max(d.stats.peak_buffered, d.in_pipe);
  }
  pump(d);
}

void SpliceRelay::onWritten(Direction& d, int res) {
  d.writing = false;
  if (finished_) return;
  if (res <= 0) {
    finish(Error::system(res < 0 ? -res : EPIPE, "splice to socket"));
    return;
  }
  d.in_pipe -= std::min(d.in_pipe, static_cast<size_t>(res));
  d.stats.buffered = d.in_pipe;
  pump(d);
}

void SpliceRelay::maybeFinish() {
  if (a_to_b_.shut && b_to_a_.shut) finish(std::nullopt);
}

void SpliceRelay::finish(std::optional<Error> error) {
  if (finished_) return;
  finished_ = true;
  auto keep = shared_from_this();  // `done` may drop the owner's reference
  closeAll();
  RelayStats s = stats();
  if (auto done = std::move(done_)) done(s, error);
}

void SpliceRelay::abort(const std::string& why) {
  finish(Error(ErrorCode::kUnavailable, "relay aborted: " + why));
}

RelayStats SpliceRelay::stats() const {
  RelayStats s;
  s.a_to_b = a_to_b_.stats;
  s.b_to_a = b_to_a_.stats;
  s.memory_bytes = 0;  // nothing in user space: the bytes sit in the pipes (kernel pages)
  return s;
}

}  // namespace warren::relay
