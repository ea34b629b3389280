// LoopBackend: the part of an EventLoop that differs between io_uring and epoll (seastar's
// reactor_backend shape). The loop (event_loop.cc) owns operations, ids, cancellation state,
// completion dispatch and posted tasks in its OperationTable; a backend only arms, cancels and
// waits, and reports what it sees through the table. Internal to common/uring.
//
// Contract:
//   - arm(), cancel() and cancelFd() never run a callback: a result known at once goes through
//     table.completeLater(); everything else is reported from poll().
//   - Every armed operation eventually gets exactly one final report (complete(final) or
//     completeLater), -ECANCELED when it was cancelled before it finished, until shutdown().
//   - poll() is the only place a backend calls table.complete(); the loop never calls poll()
//     from inside a callback.
#pragma once

#include <chrono>
#include <string>

#include "common/uring/event_loop.h"
#include "common/uring/operation.h"

namespace warren::uring {

class LoopBackend {
 public:
  virtual ~LoopBackend() = default;
  virtual Backend kind() const = 0;
  virtual std::string describe() const = 0;

  // Starts `op`, already in the table with its id.
  virtual void arm(Operation& op) = 0;
  // `op.cancelled` was just set: make it end.
  virtual void cancel(Operation& op) = 0;
  // `fd` is about to be closed: end every operation on it (their final reports follow).
  virtual void cancelFd(int fd) = 0;
  // Does the work pending from earlier turns, waits up to `max_wait` for events (less when a
  // timer is due; a wake() ends the wait), and reports completions to the table. Returns the
  // number of callbacks run.
  virtual size_t poll(std::chrono::milliseconds max_wait) = 0;
  // Thread-safe: a poll() in progress, or the next one, returns soon.
  virtual void wake() = 0;
  // The loop is being destroyed: once this returns nothing (kernel included) touches an
  // operation's memory, and no report follows.
  virtual void shutdown() = 0;
};

}  // namespace warren::uring
