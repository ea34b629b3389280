// Operation and OperationTable: the bookkeeping every EventLoop backend shares. Internal to
// common/uring (the loop and its backends).
//
// An Operation is one submission, owned by the table from submit to its final completion. It
// holds everything the kernel may still read or write (send buffer, connect address, timeout
// spec), so closing a connection with operations in flight cannot free memory under the
// kernel. The table hands out ids, keeps the cancellation state, and dispatches results to
// callbacks; a backend (LoopBackend) only arms, cancels and waits, and reports each result it
// sees through complete() or completeLater(). The table turns those reports into the
// guarantees callers rely on:
//   - exactly one final callback per operation: a final result removes the operation before
//     its callback runs, and any later report for the id is dropped;
//   - after cancel(), no intermediate results: a multishot operation asked to end delivers
//     nothing more but its final result (an accepted fd that raced the cancel is closed);
//   - results decided outside the backend's wait (a cancel the backend can settle at once, a
//     submission error) are delivered later, in order, from the loop turn, never inside the
//     call that caused them.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "common/uring/event_loop.h"

namespace warren::uring {

enum class OpKind {
  kAccept,
  kRecv,
  kRecvMultishot,
  kSend,
  kConnect,
  kTimeout,
  kSpliceFromSocket,  // splice(fd -> pipe_fd): waits for the socket to be readable
  kSpliceToSocket,    // splice(pipe_fd -> fd): waits for the socket to be writable
};

struct Operation {
  OpKind kind;
  OpId id = 0;
  int fd = -1;
  size_t max_len = 0;       // recv: at most this many bytes
  bool poll_first = false;  // recv: wait for data before reading (RecvStart::kPollFirst)
  bool poll_first_armed = false;  // io_uring: this submission carries POLL_FIRST
  Buffer buffer;            // send: owned until completion
  size_t offset = 0;        // send: first byte to send
  SendFollower* follower = nullptr;  // send: asked whether its completion may wait (quiet send)
  sockaddr_storage addr{};  // connect target
  socklen_t addr_len = 0;
  std::chrono::nanoseconds after{0};  // timeout: fires this long after it was armed
  int pipe_fd = -1;                   // splice: the pipe end (`fd` is the socket)
  bool cancelled = false;             // cancel() was asked (or the fd is being closed)

  // Backend scratch, owned here so it lives exactly as long as the submission.
  __kernel_timespec ts{};                            // io_uring: timeout spec
  std::chrono::steady_clock::time_point deadline{};  // epoll: when the timeout fires
  bool connect_started = false;                      // epoll: connect() returned EINPROGRESS
  bool splice_polling = false;  // io_uring: a readiness poll, not the splice, is in flight

  AcceptFn on_accept;
  RecvFn on_recv;
  SendFn on_send;
  DoneFn on_done;

  bool multishot() const { return kind == OpKind::kAccept || kind == OpKind::kRecvMultishot; }
  bool reads() const {
    return kind == OpKind::kAccept || kind == OpKind::kRecv || kind == OpKind::kSpliceFromSocket ||
           multishot();
  }
  bool splices() const {
    return kind == OpKind::kSpliceFromSocket || kind == OpKind::kSpliceToSocket;
  }
  // Runs the callback of this kind with `res` (`data` for receives).
  void deliver(int res, std::span<const char> data);
};

class OperationTable {
 public:
  OperationTable() = default;
  OperationTable(const OperationTable&) = delete;
  OperationTable& operator=(const OperationTable&) = delete;

  // Takes the operation and names it. An id is a slot of the table (low 32 bits) and that
  // slot's use count (high 32 bits, from 1): never 0 nor ~0 (the backends' own tags), and not
  // given again before its slot has been reused 2^32 - 1 times, so a late report for a
  // finished operation finds nothing even when a new one sits in its slot.
  Operation& add(std::unique_ptr<Operation> op);
  Operation* find(OpId id);
  // Delivers one result of `id` and returns the number of callbacks run (0 or 1). `final`
  // ends the operation: it leaves the table before its callback runs, so the callback may
  // submit, cancel and close freely. Results for unknown (finished) ids are dropped; so are
  // intermediate results of a cancelled operation (an accepted fd among them is closed).
  size_t complete(OpId id, int res, std::span<const char> data = {}, bool final = true);
  // A final result decided outside the backend's wait; delivered by runDeferred().
  void completeLater(OpId id, int res);
  // Delivers the deferred results in the order they were decided, including those decided by
  // the callbacks it runs. Returns callbacks run.
  size_t runDeferred();
  bool hasDeferred() const { return !deferred_.empty(); }

  size_t size() const { return slots_.size() - free_.size(); }
  // Every operation in the table that uses `fd` (as its socket, or as a splice's pipe), most
  // recently added first: what closing the fd must end. Kept as a list per fd through the
  // slots, so it costs a few stores per operation and finding them is not a walk over all of
  // them. `fn(Operation&)` must not add nor remove operations.
  template <class Fn>
  void forEachOnFd(int fd, Fn&& fn) {
    for (uint32_t link = headOf(fd); link != kNoLink;) {
      Slot& slot = slots_[link >> 1];
      uint32_t next = slot.fd_links[link & 1].next;
      fn(*slot.op);
      link = next;
    }
  }
  LoopStats& stats() { return stats_; }
  const LoopStats& stats() const { return stats_; }
  // Loop teardown: hands every operation to the caller (only those in the table, no empty
  // slots), which destroys them (and with them their callbacks and whatever those own) after
  // the backend let go of their memory.
  std::vector<std::unique_ptr<Operation>> takeAll();

 private:
  // The slot `id` names while its operation is in the table, else null. A vector indexed by
  // slot rather than a hash map: no node allocated nor hash taken per submission (every send
  // and receive is one).
  std::unique_ptr<Operation>* slotOf(OpId id);

  // A link names one of a slot's two places in the per-fd lists: (slot << 1) | which, where
  // which is 0 for the operation's `fd` and 1 for its `pipe_fd`.
  static constexpr uint32_t kNoLink = ~uint32_t{0};
  struct FdLink {
    uint32_t prev = kNoLink;
    uint32_t next = kNoLink;
  };
  struct Slot {
    std::unique_ptr<Operation> op;  // null while the slot is free
    uint32_t uses = 0;              // how many operations it has held
    FdLink fd_links[2];             // its places in the lists of op->fd and op->pipe_fd
  };
  uint32_t headOf(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < fd_heads_.size() ? fd_heads_[fd] : kNoLink;
  }
  void linkFd(uint32_t index, int which, int fd);
  void unlinkFds(uint32_t index);
  FdLink& linkAt(uint32_t link) { return slots_[link >> 1].fd_links[link & 1]; }

  std::vector<Slot> slots_;
  std::vector<uint32_t> fd_heads_;  // fd -> the first link of its list, kNoLink when empty
  std::vector<uint32_t> free_;  // empty slots, the last freed taken first
  std::vector<std::pair<OpId, int>> deferred_;
  LoopStats stats_;
};

}  // namespace warren::uring
