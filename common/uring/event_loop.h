// EventLoop: the completion-based I/O interface of one worker thread. The loop owns the
// bookkeeping (operations, ids, cancellation, completion dispatch, posted tasks); a backend
// (loop_backend.h) only arms, cancels and waits: io_uring (uring_backend.h) or epoll
// emulating completions (epoll_backend.h). Callers submit operations and get:
//   - exactly one final callback per operation (multishot ones also get one per result
//     before it), always from run*() on the loop's thread;
//   - never a callback inside the call that submitted, cancelled or closed, and never one
//     inside another (callbacks do not nest; run*() from a callback is a programming error);
//   - after cancel(id), nothing but the final result (-ECANCELED unless it already finished);
//   - posted tasks in the order they were posted, each once, on the loop thread.
//
// Ownership: every submission is an Operation the loop owns until its final completion; it
// holds the send buffer, the connect address and the timeout spec, so nothing the kernel
// reads can be freed early. Callbacks are move-only: one may own what it needs (a
// unique_ptr to the sockets a pending connect will hand on) and it is destroyed right after
// its final run, or with the loop. SocketStream's callbacks share its state, which is how a
// closed connection stays allocated until its last in-flight operation completes.
//
// Results are `int res`: >= 0 success (bytes, or an accepted fd), < 0 is -errno. A cancelled
// operation completes with -ECANCELED.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::uring {

enum class Backend { kUring, kEpoll };
const char* backendName(Backend b);
// "uring" | "epoll" (also accepts "io_uring").
Result<Backend> parseBackend(const std::string& name);
// WARREN_IO_BACKEND when set (and valid), else uring.
Result<Backend> backendFromEnvironment();

using OpId = uint64_t;  // 0 never names an operation
using Buffer = std::vector<char>;

using AcceptFn = std::move_only_function<void(int res)>;  // res = new fd (non-blocking, cloexec)
// `data` is valid only during the call (it lives in a provided buffer that is recycled after).
// res > 0: bytes in data; res == 0: EOF; res < 0: -errno.
using RecvFn = std::move_only_function<void(int res, std::span<const char> data)>;
// The send buffer comes back, so a partial send can continue and the memory can be reused.
using SendFn = std::move_only_function<void(int res, Buffer buffer)>;
using DoneFn = std::move_only_function<void(int res)>;
using Task = std::move_only_function<void()>;

// The sender behind a send, asked just before the loop sleeps in the turn that submitted it:
// does its next step wait for this send to finish (data queued behind it, a paused reader, a
// pending shutdown)? When it does not, a send that completes at once (io_uring: it fit the
// socket buffer) need not end the wait: the loop submits it and sleeps in the same
// io_uring_enter, and its callback runs when the loop next wakes (LoopOptions::quiet_send_wait).
// Must stay valid while the send is in flight (the send's callback usually owns it).
class SendFollower {
 public:
  virtual bool waitsForSend() = 0;

 protected:
  ~SendFollower() = default;
};

struct LoopOptions {
  Backend backend = Backend::kUring;
  // When io_uring cannot be set up (disabled by sysctl, seccomp, old kernel), log the precise
  // reason and use epoll instead. Tests turn this off to pin a backend.
  bool fallback_to_epoll = true;
  unsigned ring_entries = 512;       // SQ size; the CQ is 4x (many multishot completions)
  unsigned recv_buffer_count = 256;  // provided buffers per loop (a power of two)
  // 16 KiB matches the middle copy-buffer tier (INTEROP §3) and a TLS record.
  size_t recv_buffer_size = 16 * 1024;
  // io_uring: submissions that callbacks made go to the kernel after at most this many
  // completions of a batch (a batch is up to 4 x ring_entries), not only when the batch is
  // done: a send a peer waits for leaves while the loop handles the rest. 8: one
  // io_uring_enter (~1 us) per 8 completions (each a TLS record or a relay chunk, 5-20 us of
  // work) costs under 2 %, and bounds a peer's wait to 8 completions' work instead of up to
  // 2,048 (issue 12). 0: only between batches.
  unsigned submit_every = 8;
  // io_uring: the longest the loop sleeps after submitting sends whose followers did not wait for
  // them (SendFollower), in case one did not complete at once after all (it found the socket
  // buffer full and finishes later): other events then wait at most this long. 0 turns quiet
  // sends off (every send's completion ends the wait, 2 io_uring_enter per wake-up).
  std::chrono::milliseconds quiet_send_wait{5};
};

// A counter the loop's thread writes and any thread reads (EventLoop::counters(), a /metrics
// scrape): relaxed loads and stores, no read-modify-write, as there is one writer. As cheap as a
// plain increment on the loop, and a reader never sees it step back.
class LoopCounter {
 public:
  LoopCounter() = default;
  LoopCounter(uint64_t v) : v_(v) {}  // NOLINT: a counter is a number
  LoopCounter(const LoopCounter& o) : v_(o.get()) {}
  LoopCounter& operator=(const LoopCounter& o) { return *this = o.get(); }
  LoopCounter& operator=(uint64_t v) {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }
  LoopCounter& operator+=(uint64_t n) { return *this = get() + n; }
  LoopCounter& operator++() { return *this += 1; }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }
  operator uint64_t() const { return get(); }  // NOLINT: reads as the number it counts

 private:
  std::atomic<uint64_t> v_{0};
};

struct LoopStats {
  LoopCounter ops_in_flight = 0;  // stats() only (the loop's thread)
  LoopCounter completions = 0;
  LoopCounter enobufs_rearms = 0;    // recvs re-armed after the buffer ring ran dry
  LoopCounter multishot_rearms = 0;  // multishot ops the kernel ended that we re-armed
  LoopCounter wakeups = 0;           // post()/stop() that had to wake the loop (eventfd write)
  LoopCounter early_submits = 0;     // io_uring: submissions flushed inside a batch (submit_every)
  LoopCounter poll_first_recvs = 0;  // io_uring: recvs armed to wait for data first (RecvStart)
  LoopCounter quiet_sends = 0;       // io_uring: sends the loop slept through (SendFollower)
  LoopCounter quiet_sends_late = 0;  // ... that did not complete during their submission
};

// Where a recv starts. kTryFirst: read at once, and wait for data only if there is none (what
// a recv does). kPollFirst: the caller's last read drained the socket, so wait for data before
// reading (io_uring IORING_RECVSEND_POLL_FIRST: the kernel skips an attempt that would find
// nothing, its buffer pick and its give-back; epoll: the same as kTryFirst). A hint: data
// already there is read either way.
enum class RecvStart { kTryFirst, kPollFirst };

class LoopBackend;
class OperationTable;
struct Operation;

class EventLoop {
 public:
  // Creates the loop of the calling thread. With io_uring SINGLE_ISSUER the creating thread is
  // the only one allowed to submit, so create each worker's loop on that worker.
  static Result<std::unique_ptr<EventLoop>> create(const LoopOptions& options);

  // Stopping the kernel first, then destroying every operation (and what its callback owns):
  // safe with operations in flight. A callback destroyed here may still close() fds.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Backend backend() const;
  // Human-readable feature summary: "io_uring: single_issuer+defer_taskrun, multishot accept...".
  std::string describe() const;

  // Multishot accept: `fn` runs once per connection until cancelled or a fatal error.
  OpId acceptMultishot(int listen_fd, AcceptFn fn);
  // One recv of at most recvLimit(max_len) bytes into a provided buffer.
  OpId recv(int fd, size_t max_len, RecvFn fn, RecvStart start = RecvStart::kTryFirst);
  // The most a recv asked for `max_len` returns: at least 1, at most a provided buffer
  // (LoopOptions::recv_buffer_size). A shorter result drained the socket.
  size_t recvLimit(size_t max_len) const {
    return std::min(std::max<size_t>(max_len, 1), recv_chunk_);
  }
  // Multishot recv: `fn` runs per chunk until EOF, error or cancel. -ENOBUFS never reaches
  // `fn`: the loop re-arms once buffers come back.
  OpId recvMultishot(int fd, RecvFn fn);
  // Sends buffer[offset..]; may complete short (res < size - offset), like send(2). With a
  // `follower` (SendFollower) the loop may sleep through its completion.
  OpId send(int fd, Buffer buffer, size_t offset, SendFn fn, SendFollower* follower = nullptr);
  OpId connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn);
  // Moves up to `len` bytes between a TCP socket and a pipe inside the kernel (splice(2),
  // SPLICE_F_MOVE | SPLICE_F_NONBLOCK), once the socket is ready: readable for
  // spliceFromSocket (socket -> pipe write end), writable for spliceToSocket (pipe read end ->
  // socket). res = bytes moved (0: the socket reached EOF), or -errno. io_uring:
  // IORING_OP_SPLICE after an IORING_OP_POLL_ADD on the socket; epoll: splice(2) on readiness.
  // close(socket) and close(pipe) both end it.
  OpId spliceFromSocket(int socket, int pipe_write, size_t len, DoneFn fn);
  OpId spliceToSocket(int pipe_read, int socket, size_t len, DoneFn fn);
  // res 0 when it fired, -ECANCELED when cancelled.
  OpId timeout(std::chrono::nanoseconds after, DoneFn fn);
  // Asks the operation to end; its callback still runs once (with -ECANCELED unless it
  // already completed), never inside this call. Unknown or finished ids are ignored.
  void cancel(OpId id);
  // Cancels every operation on `fd`, then closes it. Their callbacks run later with
  // -ECANCELED; the fd number may be reused at once.
  void close(int fd);

  // Thread-safe: runs `task` on the loop thread soon, after the tasks posted before it.
  void post(Task task);
  // Thread-safe: makes run() return after the current iteration. run() may return before
  // stop() has written its wake-up, so the loop must not be destroyed until stop() returns.
  void stop();

  // Runs until stop().
  void run();
  // One iteration: waits up to `max_wait` for completions, dispatches them. Returns the number
  // of callbacks (and posted tasks) run.
  size_t runOnce(std::chrono::milliseconds max_wait);
  // Runs until `done()` is true or `limit` passes; returns done().
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit);

  // On the loop's thread: the counters and the operations in flight.
  LoopStats stats() const;
  // From any thread while the loop exists (a /metrics scrape that must not wait for a busy
  // loop): the counters as they stand, ops_in_flight 0.
  LoopStats counters() const;

 private:
  EventLoop();
  OpId submit(std::unique_ptr<Operation> op);
  size_t runPosted();

  std::unique_ptr<OperationTable> table_;
  std::unique_ptr<LoopBackend> backend_;
  std::mutex posted_mu_;
  std::vector<Task> posted_;
  std::vector<Task> running_;  // runPosted(): the batch being run (loop thread only)
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<bool> stop_{false};
  size_t recv_chunk_ = 0;
  bool dispatching_ = false;  // inside runOnce(): callbacks may not run the loop again
  // Set by the destructor: operations' callbacks are being destroyed and may own sockets
  // (close() then only closes the fd) or submit (refused: returns 0).
  bool destroying_ = false;
};

}  // namespace warren::uring
