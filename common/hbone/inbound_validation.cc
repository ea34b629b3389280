#include "common/hbone/inbound_validation.h"

#include <fmt/format.h>

#include <algorithm>

namespace warren::hbone {

int statusFor(InboundOutcome outcome) {
  switch (outcome) {
    case InboundOutcome::kAccept:
      return 200;
    case InboundOutcome::kNotConnect:
    case InboundOutcome::kBadAuthority:
    case InboundOutcome::kIpMismatch:
      return 400;
    case InboundOutcome::kDenied:
      return 401;
    case InboundOutcome::kIllegalPort:
    case InboundOutcome::kUnknownService:
    case InboundOutcome::kUpstreamFailed:
      return 503;
  }
  return 500;
}

const char* outcomeName(InboundOutcome outcome) {
  switch (outcome) {
    case InboundOutcome::kAccept:
      return "accept";
    case InboundOutcome::kNotConnect:
      return "not_connect";
    case InboundOutcome::kBadAuthority:
      return "bad_authority";
    case InboundOutcome::kIpMismatch:
      return "ip_mismatch";
    case InboundOutcome::kIllegalPort:
      return "illegal_port";
    case InboundOutcome::kUnknownService:
      return "unknown_service";
    case InboundOutcome::kDenied:
      return "denied";
    case InboundOutcome::kUpstreamFailed:
      return "upstream_failed";
  }
  return "unknown";
}

bool isIllegalPort(uint16_t port, std::span<const uint16_t> illegal) {
  return std::find(illegal.begin(), illegal.end(), port) != illegal.end();
}

InboundDecision validateInbound(const http2::HeaderList& headers, const InboundContext& ctx) {
  InboundDecision d;
  const std::string* method = http2::findHeader(headers, ":method");
  if (method == nullptr || *method != "CONNECT") {
    d.outcome = InboundOutcome::kNotConnect;
    d.detail = fmt::format("method '{}' is not CONNECT", method ? *method : "");
    return d;
  }
  const std::string* authority = http2::findHeader(headers, ":authority");
  if (authority == nullptr) {
    d.outcome = InboundOutcome::kBadAuthority;
    d.detail = "no :authority";
    return d;
  }
  auto parsed = parseAuthority(*authority);
  if (!parsed) {
    d.outcome = InboundOutcome::kBadAuthority;
    d.detail = parsed.error().message();
    return d;
  }

  ParsedConnect req{*method, *parsed, {}, {}, {}, {}, {}};
  if (const std::string* f = http2::findHeader(headers, "forwarded")) {
    Forwarded fwd = parseForwarded(*f);
    req.forwarded_for = fwd.for_addr;
    req.forwarded_host = fwd.host;
  }
  if (const std::string* b = http2::findHeader(headers, "baggage")) req.baggage = parseBaggage(*b);
  if (const std::string* t = http2::findHeader(headers, "traceparent")) {
    if (auto tp = TraceParent::parse(*t)) req.traceparent = *tp;
  }
  if (const std::string* n = http2::findHeader(headers, "x-forwarded-network")) {
    req.forwarded_network = *n;
  }
  d.request = req;

  if (const auto* target = std::get_if<SocketAddress>(&req.authority)) {
    bool ours = target->ip == ctx.local_ip;
    bool waypoint = ctx.is_waypoint_for && ctx.is_waypoint_for(target->ip);
    if (!ours && !ctx.application_tunnel && !waypoint) {
      d.outcome = InboundOutcome::kIpMismatch;
      d.detail = fmt::format("target {} is not the local address {}", target->ip.toString(),
                             ctx.local_ip.toString());
      return d;
    }
    if (isIllegalPort(target->port, ctx.illegal_ports)) {
      d.outcome = InboundOutcome::kIllegalPort;
      d.detail = fmt::format("target port {} is one of ztunnel's own", target->port);
      return d;
    }
  }
  return d;
}

}  // namespace warren::hbone
