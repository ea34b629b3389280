// The HBONE server's ONE decision on an incoming CONNECT (INTEROP §5), as a pure function
// over a state snapshot: production (ztunnel's 15008), the fuzz target, the micro-benchmark
// and the h2 abuse test server all run this code. It says where to connect inside the local
// pod, or which status to answer and why. The only later outcome, the upstream connect
// failing, is answered kUpstreamFailedStatus by the caller.
//
// Steps, in ztunnel's order (src/proxy/inbound.rs build_inbound_request, serve_connect), and
// the status each failure is answered with. Every status matches Istio's ztunnel:
//
//   1. :method is CONNECT                                              else 400 not_connect
//   2. :authority parses as ip:port or hostname:port, port not 0       else 400 bad_authority
//   3. the local workload (the pod whose 15008 accepted) is in the state
//                                                               else 503 unknown_local_workload
//   4. ip:port authority: the IP is the connection's local IP, or the local workload has an
//      application tunnel (sandwiched waypoint), or it is an instance of the waypoint of the
//      service VIP / workload the IP names                            else 400 ip_mismatch
//   5. resolve the target port: ip:port -> that port; hostname:port -> the Service with that
//      hostname (local namespace preferred; else 503 unknown_hostname), the port through the
//      local workload's own mapping, else the Service's numeric target port
//                                                                     else 503 no_target_port
//   6. the resolved port is not one of ztunnel's own (15001, 15006, 15008): a CONNECT can
//      never loop into ztunnel or nest HBONE (ztunnel's SelfCall)       else 503 illegal_port
//   7. L4 authorization (DENY, then ALLOW) with the peer certificate's identity
//                                                                     else 401 denied
//   (8. the caller connects to the upstream inside the pod             else 503)
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>

#include "common/hbone/connect_request.h"
#include "common/http2/header.h"
#include "common/identity/spiffe_id.h"
#include "common/net/socket_address.h"
#include "mesh/rbac/rbac_evaluator.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

// Ports never accepted as inbound targets (ztunnel's illegal_ports): its own capture ports.
inline constexpr std::array<uint16_t, 3> kIllegalInboundPorts = {15001, 15006, 15008};
bool isIllegalInboundPort(uint16_t port);

// Answer when connecting to the upstream inside the pod fails (ztunnel: ConnectionFailed).
inline constexpr int kUpstreamFailedStatus = 503;

// What the server knows about the connection a request arrived on.
struct InboundConnection {
  net::SocketAddress local;  // the accepted socket's local address (the pod IP, port 15008)
  net::SocketAddress peer;
  std::optional<identity::SpiffeId> peer_identity;  // from the client certificate
};

struct InboundAccept {
  net::SocketAddress upstream;  // connect here, inside the local workload's netns
  bool via_waypoint = false;    // accepted through the waypoint / application-tunnel exception
  std::string service;          // "ns/hostname" when the authority was a hostname
  hbone::ParsedConnect request;
  ConnectionContext rbac;  // what authorization decided on (kept for re-evaluation)
  std::string policy;      // the ALLOW policy that matched ("" when none applied)
};

struct InboundReject {
  enum class Kind {
    kNotConnect,
    kBadAuthority,
    kUnknownLocalWorkload,
    kIpMismatch,
    kUnknownHostname,
    kNoTargetPort,
    kIllegalPort,
    kDenied,
  };
  Kind kind;
  std::string detail;  // why, for the access log
  std::string policy;  // kDenied: the deciding policy ("" for "no ALLOW matched" with none named)
  int status() const;
};

const char* toString(InboundReject::Kind k);
int statusFor(InboundReject::Kind k);

std::expected<InboundAccept, InboundReject> decideInbound(const StateSnapshot& snapshot,
                                                          const Workload* local,
                                                          const InboundConnection& connection,
                                                          const http2::HeaderList& headers);

// Step 7 alone: L4 authorization of a connection to `local`, for the plaintext listener
// (15006, no identity) and for re-evaluating open connections after a policy change. A local
// workload that is not (or no longer) in the state denies: its policies are unknown.
struct InboundVerdict {
  bool allowed = false;
  std::string policy;  // the deciding policy key, "" when none
  std::string detail;
};
InboundVerdict authorizeInbound(const StateSnapshot& snapshot, const Workload* local,
                                const ConnectionContext& connection);

}  // namespace warren::mesh
