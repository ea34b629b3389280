// SpliceRelay: a relay between two connected plain TCP sockets whose bytes never enter user
// space. Per direction one pipe: splice(source socket -> pipe), then splice(pipe -> destination
// socket), through the EventLoop (io_uring: IORING_OP_SPLICE after a poll for readiness;
// epoll: splice(2) on readiness). The same contract as StreamRelay: bounded (at most one pipe's
// capacity, kPipeCapacity, in flight per direction: a direction reads again only once its
// pipe is empty, so a slow receiver stops the reads and TCP flow control holds the sender),
// EOF on one side becomes shutdown(SHUT_WR) on the other once the pipe is drained, the relay
// ends when both directions are done or at the first error (every fd closed), `done` runs once.
//
// Only for two TCP sockets whose receive queue holds everything they receive: splice reads
// the TCP receive queue (tcp_splice_read), so bytes a sockmap program redirected into a
// socket's ingress queue (the agent's --sockmap-fast-path) would be missed. makeSocketRelay
// (socket_relay.h) decides.
#pragma once

#include <memory>

#include "common/relay/relay.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"

namespace warren::relay {

// Pipe capacity asked for (F_SETPIPE_SZ, best effort: the default 64 KiB otherwise): the copy
// relay's per-direction bound (kMaxBufferedPerDirection), so both engines hold as much.
inline constexpr size_t kPipeCapacity = 256 * 1024;

class SpliceRelay final : public Relay, public std::enable_shared_from_this<SpliceRelay> {
 public:
  struct Sockets {
    UniqueFd a;
    UniqueFd b;
  };
  // Takes both sockets. Fails only when the pipes cannot be had (EMFILE, ENFILE); the sockets
  // are then left untouched in `sockets`, for the copy relay.
  static Result<std::shared_ptr<SpliceRelay>> create(uring::EventLoop& loop, Sockets& sockets,
                                                     DoneFn done);
  ~SpliceRelay() override;
  SpliceRelay(const SpliceRelay&) = delete;
  SpliceRelay& operator=(const SpliceRelay&) = delete;

  void start() override;
  void abort(const std::string& why) override;
  RelayStats stats() const override;
  bool finished() const override { return finished_; }

 private:
  struct Direction {
    int src = -1;  // sockets (owned by the relay: a_/b_)
    int dst = -1;
    int pipe_r = -1;  // owned by the relay, closed through the loop
    int pipe_w = -1;
    size_t capacity = 0;
    size_t in_pipe = 0;
    bool reading = false;
    bool writing = false;
    bool eof = false;
    bool shut = false;
    DirectionStats stats;
  };

  SpliceRelay(uring::EventLoop& loop, DoneFn done) : loop_(loop), done_(std::move(done)) {}
  void pump(Direction& d);
  void onRead(Direction& d, int res);
  void onWritten(Direction& d, int res);
  void maybeFinish();
  void finish(std::optional<Error> error);
  void closeAll();

  uring::EventLoop& loop_;
  int a_ = -1;
  int b_ = -1;
  Direction a_to_b_;
  Direction b_to_a_;
  DoneFn done_;
  bool finished_ = false;
  bool closed_ = false;
};

}  // namespace warren::relay
