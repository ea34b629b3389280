// The HBONE server's decision for one CONNECT's `:authority` (INTEROP §5 steps 3.2-3.4), as a
// pure function: where to connect inside the local pod, or which status to answer.
//
// - `ip:port` authority: the IP must be the connection's local IP, unless the local workload
//   has an application tunnel (sandwiched waypoint) or is an instance of the waypoint of the
//   service VIP / workload that the IP names ("I am the waypoint of the target"); else 400
//   IPMismatch.
// - `hostname:port` authority: the Service with that hostname, preferring the local
//   workload's namespace; the port maps through the local workload's own port mapping, else
//   the Service's numeric target port; unknown hostname or unmapped port -> 503.
// - Malformed authority (no port, bad IP, port 0) -> 400.
// - The resolved port must not be one of ztunnel's own (15001, 15006, 15008) -> 400, so a
//   CONNECT can never loop into ztunnel or nest HBONE.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "ztunnel/state/state_snapshot.h"

namespace warren::ztunnel {

struct InboundTarget {
  SocketAddress upstream;        // connect here, inside the local workload's netns
  bool via_waypoint = false;     // accepted through a waypoint/app-tunnel exception
  std::string service;           // "ns/hostname" when the authority was a hostname
};

struct InboundRejection {
  enum class Kind { kMalformedAuthority, kIpMismatch, kIllegalPort, kUnknownHostname,
                    kNoTargetPort };
  Kind kind;
  int http_status;  // 400 or 503
  std::string detail;
};

const char* toString(InboundRejection::Kind k);

bool isIllegalInboundPort(uint16_t port);

std::expected<InboundTarget, InboundRejection> checkInboundAuthority(
    const StateSnapshot& snapshot, const Workload& local, const IpAddress& local_ip,
    std::string_view authority);

}  // namespace warren::ztunnel
