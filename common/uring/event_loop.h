// EventLoop: the completion-based I/O interface of one worker thread. Two backends implement
// it: UringLoop (io_uring) and EpollLoop (readiness, emulating completions). Callers submit
// operations and get exactly one callback per completion, always from run*() on the loop's
// thread, never from inside the submitting call (so a callback never re-enters its caller).
//
// Ownership: every submission is an Operation the loop owns until its last completion; it
// holds the send buffer, the connect address and the timeout spec, so nothing the kernel
// reads can be freed early. A callback that captures an object must keep it alive (capture a
// shared_ptr): SocketStream does, which is how a closed connection stays allocated until its
// last in-flight operation completes.
//
// Results are `int res`: >= 0 success (bytes, or an accepted fd), < 0 is -errno. A cancelled
// operation completes with -ECANCELED.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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

using AcceptFn = std::function<void(int res)>;  // res = new fd (non-blocking, cloexec)
// `data` is valid only during the call (it lives in a provided buffer that is recycled after).
// res > 0: bytes in data; res == 0: EOF; res < 0: -errno.
using RecvFn = std::function<void(int res, std::span<const char> data)>;
// The send buffer comes back, so a partial send can continue and the memory can be reused.
using SendFn = std::function<void(int res, Buffer buffer)>;
using DoneFn = std::function<void(int res)>;
using Task = std::function<void()>;

struct LoopOptions {
  Backend backend = Backend::kUring;
  // When io_uring cannot be set up (disabled by sysctl, seccomp, old kernel), log the precise
  // reason and use epoll instead. Tests turn this off to pin a backend.
  bool fallback_to_epoll = true;
  unsigned ring_entries = 512;       // SQ size; the CQ is 4x (many multishot completions)
  unsigned recv_buffer_count = 256;  // provided buffers per loop (a power of two)
  // 16 KiB matches the middle copy-buffer tier (INTEROP §3) and a TLS record.
  size_t recv_buffer_size = 16 * 1024;
};

struct LoopStats {
  uint64_t ops_in_flight = 0;
  uint64_t completions = 0;
  uint64_t enobufs_rearms = 0;    // recvs re-armed after the buffer ring ran dry
  uint64_t multishot_rearms = 0;  // multishot ops the kernel ended that we re-armed
};

class EventLoop {
 public:
  // Creates the loop of the calling thread. With io_uring SINGLE_ISSUER the creating thread is
  // the only one allowed to submit, so create each worker's loop on that worker.
  static Result<std::unique_ptr<EventLoop>> create(const LoopOptions& options);

  virtual ~EventLoop() = default;
  virtual Backend backend() const = 0;
  // Human-readable feature summary: "io_uring: single_issuer+defer_taskrun, multishot accept...".
  virtual std::string describe() const = 0;

  // Multishot accept: `fn` runs once per connection until cancelled or a fatal error.
  virtual OpId acceptMultishot(int listen_fd, AcceptFn fn) = 0;
  // One recv of at most `max_len` bytes into a provided buffer (clamped to its size).
  virtual OpId recv(int fd, size_t max_len, RecvFn fn) = 0;
  // Multishot recv: `fn` runs per chunk until EOF, error or cancel. -ENOBUFS never reaches
  // `fn`: the loop re-arms once buffers come back.
  virtual OpId recvMultishot(int fd, RecvFn fn) = 0;
  // Sends buffer[offset..]; may complete short (res < size - offset), like send(2).
  virtual OpId send(int fd, Buffer buffer, size_t offset, SendFn fn) = 0;
  virtual OpId connect(int fd, const sockaddr* addr, socklen_t len, DoneFn fn) = 0;
  // res 0 when it fired, -ECANCELED when cancelled.
  virtual OpId timeout(std::chrono::nanoseconds after, DoneFn fn) = 0;
  // Asks the operation to end; its callback still runs (with -ECANCELED unless it already
  // completed). Unknown or finished ids are ignored.
  virtual void cancel(OpId id) = 0;
  // Cancels every operation on `fd`, then closes it. Their callbacks run later with
  // -ECANCELED; the fd number may be reused at once.
  virtual void close(int fd) = 0;

  // Thread-safe: runs `task` on the loop thread soon.
  virtual void post(Task task) = 0;
  // Thread-safe: makes run() return after the current iteration.
  virtual void stop() = 0;

  // Runs until stop().
  virtual void run() = 0;
  // One iteration: waits up to `max_wait` for completions, dispatches them. Returns the number
  // of callbacks run.
  virtual size_t runOnce(std::chrono::milliseconds max_wait) = 0;
  // Runs until `done()` is true or `limit` passes; returns done().
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit);

  virtual LoopStats stats() const = 0;
};

}  // namespace warren::uring
