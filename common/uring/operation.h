// Operation: one submission, owned by its loop from submit to its last completion. It holds
// everything the kernel may still read or write (send buffer, connect address, timeout spec),
// so closing a connection with operations in flight cannot free memory under the kernel.
// Internal to the backends.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <chrono>

#include "common/uring/event_loop.h"

namespace warren::uring {

enum class OpKind { kAccept, kRecv, kRecvMultishot, kSend, kConnect, kTimeout };

struct Operation {
  OpKind kind;
  OpId id = 0;
  int fd = -1;
  size_t max_len = 0;       // recv
  Buffer buffer;            // send: owned until completion
  size_t offset = 0;        // send: first byte to send
  sockaddr_storage addr{};  // connect target
  socklen_t addr_len = 0;
  __kernel_timespec ts{};  // io_uring timeout spec (read by the kernel at submit)
  std::chrono::steady_clock::time_point deadline{};  // epoll timeout
  bool cancelled = false;                            // cancel() was asked
  bool connect_started = false;                      // epoll: connect() returned EINPROGRESS
  AcceptFn on_accept;
  RecvFn on_recv;
  SendFn on_send;
  DoneFn on_done;

  // Delivers a non-data result (accept/send/connect/timeout or a recv error/EOF).
  void completeWith(int res) {
    switch (kind) {
      case OpKind::kAccept:
        on_accept(res);
        break;
      case OpKind::kRecv:
      case OpKind::kRecvMultishot:
        on_recv(res, {});
        break;
      case OpKind::kSend:
        on_send(res, std::move(buffer));
        break;
      case OpKind::kConnect:
      case OpKind::kTimeout:
        on_done(res);
        break;
    }
  }
};

}  // namespace warren::uring
