// One message per packet on a Unix SOCK_SEQPACKET socket, with at most one fd riding along
// as SCM_RIGHTS: the ZDS transport (INTEROP §13). Shared by the agent's ZDS server and the
// test probe's client.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::zds {

// Largest ZDS message we accept; real ones are a few hundred bytes.
inline constexpr size_t kMaxPacket = 64 * 1024;

struct Packet {
  std::string bytes;
  UniqueFd fd;  // the SCM_RIGHTS fd, if any
};

Status sendPacket(int sock, const std::string& bytes, int pass_fd = -1);

// Waits up to `timeout` for one packet. kTimeout when none came, kUnavailable on EOF.
Result<Packet> recvPacket(int sock, std::chrono::milliseconds timeout);

Result<UniqueFd> listenSeqpacket(const std::string& path);
Result<UniqueFd> connectSeqpacket(const std::string& path);

}  // namespace warren::zds
