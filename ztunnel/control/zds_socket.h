// ztunnel's end of the ZDS transport (INTEROP §13): a connected Unix SOCK_SEQPACKET socket,
// one protobuf message per packet, at most one fd (the pod netns) as SCM_RIGHTS.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::ztunnel {

struct ZdsPacket {
  std::string bytes;
  UniqueFd fd;  // the SCM_RIGHTS fd, if any
};

Result<UniqueFd> connectZds(const std::string& path);
Status sendZdsPacket(int sock, const std::string& bytes);
// Waits up to `timeout`. kTimeout when nothing came, kUnavailable on EOF, kProtocol when the
// message is larger than 64 KiB or carries more than one fd.
Result<ZdsPacket> recvZdsPacket(int sock, std::chrono::milliseconds timeout);

}  // namespace warren::ztunnel
