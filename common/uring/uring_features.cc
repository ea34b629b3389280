#include "common/uring/uring_features.h"

#include <liburing.h>
#include <sys/utsname.h>

#include <cstdio>

namespace warren::uring {

namespace {

struct RequiredOp {
  int op;
  const char* name;
};
constexpr RequiredOp kRequired[] = {
    {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_RECV, "RECV"},
    {IORING_OP_SEND, "SEND"},         {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_TIMEOUT, "TIMEOUT"},   {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_POLL_ADD, "POLL_ADD"},
};

bool trySetup(unsigned flags) {
  io_uring ring;
  io_uring_params p{};
  p.flags = flags;
  if (io_uring_queue_init_params(4, &ring, &p) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

}  // namespace

std::pair<int, int> kernelVersion() {
  utsname u{};
  if (::uname(&u) != 0) return {0, 0};
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

Result<RingFeatures> probeRingFeatures() {
  io_uring_probe* probe = io_uring_get_probe();
  if (!probe)
    return fail(Error(ErrorCode::kUnavailable,
                      "io_uring_get_probe failed: io_uring is unavailable (kernel < 5.6, "
                      "kernel.io_uring_disabled=2, or blocked by seccomp)"));
  for (const auto& r : kRequired) {
    if (!io_uring_opcode_supported(probe, r.op)) {
      io_uring_free_probe(probe);
      return fail(Error(ErrorCode::kUnavailable,
                        std::string("io_uring lacks the required opcode IORING_OP_") + r.name));
    }
  }
  RingFeatures f;
  f.msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
  io_uring_free_probe(probe);

  f.coop_taskrun = trySetup(IORING_SETUP_COOP_TASKRUN);
  f.single_issuer = trySetup(IORING_SETUP_SINGLE_ISSUER);
  f.defer_taskrun =
      f.single_issuer && trySetup(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
  // Buffer rings, multishot accept/recv, recv's POLL_FIRST and send's MSG_WAITALL have no probe
  // bit; they are tied to the kernel version (5.19 and 6.0; WAITALL came in 5.18, taken at 6.0).
  // The loop also falls back at run time if the kernel refuses multishot or POLL_FIRST with
  // -EINVAL; a kernel without WAITALL on sends ignores it (a send may then come back short, which
  // the sender continues).
  auto [major, minor] = kernelVersion();
  bool at_least_5_19 = major > 5 || (major == 5 && minor >= 19);
  bool at_least_6_0 = major >= 6;
  f.buf_ring = at_least_5_19;
  f.multishot_accept = at_least_5_19;
  f.multishot_recv = at_least_6_0;
  f.recv_poll_first = at_least_5_19;
  f.send_waitall = at_least_6_0;
  if (!f.buf_ring)
    return fail(Error(ErrorCode::kUnavailable,
                      "io_uring provided buffer rings need Linux >= 5.19 (running " +
                          std::to_string(major) + "." + std::to_string(minor) + ")"));
  return f;
}

std::string RingFeatures::describe() const {
  std::string s = "io_uring:";
  auto add = [&](bool on, const char* name) {
    if (on) s += std::string(" ") + name;
  };
  add(single_issuer, "single_issuer");
  add(defer_taskrun, "defer_taskrun");
  add(coop_taskrun && !defer_taskrun, "coop_taskrun");
  add(buf_ring, "buf_ring");
  add(multishot_accept, "multishot_accept");
  add(multishot_recv, "multishot_recv");
  add(recv_poll_first, "recv_poll_first");
  add(send_waitall, "send_waitall");
  add(msg_ring, "msg_ring");
  return s;
}

}  // namespace warren::uring
