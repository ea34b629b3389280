// The server's decision on an incoming HBONE CONNECT (INTEROP §5 steps 3.1-3.4), as a pure
// function, and the HTTP status each outcome is answered with. The caller computes the
// later outcomes (authorization, upstream connect) itself and maps them with statusFor().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"
#include "common/http2/header.h"

namespace warren::hbone {

enum class InboundOutcome {
  kAccept,          // 200: authorised and connected upstream
  kNotConnect,      // 400: method is not CONNECT (3.1)
  kBadAuthority,    // 400: :authority missing, unparseable, or without a port (3.2)
  kIpMismatch,      // 400: :authority IP is not ours and we are not its waypoint (3.3)
  kIllegalPort,     // 503: target port is one of ztunnel's own (15001/15006/15008): loop (3.4)
  kUnknownService,  // 503: hostname authority names no service / port we serve (3.4)
  kDenied,          // 401: L4 authorization denied (3.5)
  kUpstreamFailed,  // 503: connecting to the workload failed (3.6)
};

int statusFor(InboundOutcome outcome);
const char* outcomeName(InboundOutcome outcome);

// Ports never accepted as inbound targets: ztunnel's own capture ports, so a request cannot loop
// back into ztunnel or nest HBONE (ZT:src/config.rs illegal_ports). 15080 (SOCKS5) is added
// by callers that enable it.
inline constexpr std::array<uint16_t, 3> kIllegalPorts = {15001, 15006, 15008};

bool isIllegalPort(uint16_t port, std::span<const uint16_t> illegal = kIllegalPorts);

struct InboundContext {
  // The connection's local (destination) IP: the pod we serve.
  IpAddress local_ip;
  // The local workload has an application tunnel (sandwiched waypoint): any target IP goes.
  bool application_tunnel = false;
  // Set when the local workload is a waypoint: says whether it is the waypoint of the
  // service or workload at this IP (which may need a lookup; the function must not block).
  std::function<bool(const IpAddress&)> is_waypoint_for;
  std::span<const uint16_t> illegal_ports = kIllegalPorts;
};

struct InboundDecision {
  InboundOutcome outcome = InboundOutcome::kAccept;
  std::string detail;                    // why, for logs ("'10.0.0.9:80': missing port")
  std::optional<ParsedConnect> request;  // set once method and authority parsed
  int status() const { return statusFor(outcome); }
};

// Steps 3.1-3.3 and the illegal-port part of 3.4 for IP authorities. kAccept here means "go
// on": hostname authorities still need resolving (kUnknownService, then isIllegalPort on the
// resolved port), then authorization (kDenied) and the upstream connect (kUpstreamFailed).
InboundDecision validateInbound(const http2::HeaderList& headers, const InboundContext& ctx);

}  // namespace warren::hbone
