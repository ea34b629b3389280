// The ZDS transport (INTEROP §13; Istio's ztunnel "inpod" protocol): a Unix SOCK_SEQPACKET
// socket carrying one protobuf message per packet, with at most one fd (a pod's netns) riding
// along as SCM_RIGHTS. The agent listens, ztunnel connects. The rules live here once, for
// both ends: a message is 1..kMaxMessageBytes bytes, carries zero or one fd, and anything
// else is a kProtocol error naming what was wrong (every fd that came with it is closed).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::zds {

// Largest message either end sends or accepts. Real ones are a few hundred bytes (a pod's
// uid, name, namespace and service account); Istio's ztunnel reads into a 1 KiB buffer, so
// 64 KiB leaves room for growth while bounding what a peer can make us allocate.
inline constexpr size_t kMaxMessageBytes = 64 * 1024;

struct Message {
  std::string bytes;
  UniqueFd fd;  // the SCM_RIGHTS fd, if one came
};

// Listens at `path` (a stale socket file there is replaced).
Result<UniqueFd> listenSocket(const std::string& path);
Result<UniqueFd> connectSocket(const std::string& path);

// Sends one message, with `pass_fd` attached when >= 0. kInvalidArgument for an empty or
// oversized message (an empty SEQPACKET message reads as end-of-stream at the other end).
Status sendMessage(int sock, std::string_view bytes, int pass_fd = -1);

// Waits up to `timeout` for one message. kTimeout when none came, kUnavailable when the peer
// closed, kProtocol when the message is over kMaxMessageBytes or carries more than one fd.
Result<Message> receiveMessage(int sock, std::chrono::milliseconds timeout);

}  // namespace warren::zds
