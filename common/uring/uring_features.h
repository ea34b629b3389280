// What the running kernel's io_uring offers, probed once at start-up so a missing feature is
// a precise start-up error (or a documented fallback), never a mysterious -EINVAL later.
#pragma once

#include <string>

#include "common/error.h"

namespace warren::uring {

struct RingFeatures {
  bool single_issuer = false;     // IORING_SETUP_SINGLE_ISSUER (6.0)
  bool defer_taskrun = false;     // IORING_SETUP_DEFER_TASKRUN (6.1)
  bool coop_taskrun = false;      // IORING_SETUP_COOP_TASKRUN (5.19)
  bool buf_ring = false;          // IORING_REGISTER_PBUF_RING (5.19)
  bool multishot_accept = false;  // 5.19
  bool multishot_recv = false;    // 6.0
  bool recv_poll_first = false;   // IORING_RECVSEND_POLL_FIRST (5.19)
  bool send_waitall = false;      // MSG_WAITALL on IORING_OP_SEND: the kernel sends the rest (5.18)
  bool msg_ring = false;          // IORING_OP_MSG_RING

  std::string describe() const;
};

// Probes opcodes with io_uring_get_probe (fails naming the first missing required opcode:
// ACCEPT, RECV, SEND, CONNECT, TIMEOUT, ASYNC_CANCEL, POLL_ADD) and the setup flags by trying
// them on a small scratch ring.
Result<RingFeatures> probeRingFeatures();

// Parses "6.18.44-fc" into (6, 18); (0, 0) when unreadable.
std::pair<int, int> kernelVersion();

}  // namespace warren::uring
