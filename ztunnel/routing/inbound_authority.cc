#include "ztunnel/routing/inbound_authority.h"

#include <charconv>

#include "ztunnel/routing/waypoint_resolver.h"

namespace warren::ztunnel {

namespace {

std::unexpected<InboundRejection> reject(InboundRejection::Kind kind, int status,
                                         std::string detail) {
  return std::unexpected(InboundRejection{kind, status, std::move(detail)});
}

std::expected<InboundTarget, InboundRejection> finish(InboundTarget t) {
  if (isIllegalInboundPort(t.upstream.port)) {
    return reject(InboundRejection::Kind::kIllegalPort, 400,
                  "target port " + std::to_string(t.upstream.port) + " is reserved for ztunnel");
  }
  return t;
}

// "I am the waypoint of the target": the IP names a service or workload whose waypoint the
// local workload is an instance of.
bool localIsWaypointOf(const StateSnapshot& snapshot, const Workload& local,
                       const IpAddress& ip) {
  NetworkAddress key{local.network, ip};
  if (const Service* svc = snapshot.serviceByVip(key)) {
    return svc->waypoint && isWaypointInstance(snapshot, *svc->waypoint, local);
  }
  if (const Workload* w = snapshot.workloadByAddress(key)) {
    return w->waypoint && isWaypointInstance(snapshot, *w->waypoint, local);
  }
  return false;
}

}  // namespace

const char* toString(InboundRejection::Kind k) {
  switch (k) {
    case InboundRejection::Kind::kMalformedAuthority: return "malformed_authority";
    case InboundRejection::Kind::kIpMismatch: return "ip_mismatch";
    case InboundRejection::Kind::kIllegalPort: return "illegal_port";
    case InboundRejection::Kind::kUnknownHostname: return "unknown_hostname";
    case InboundRejection::Kind::kNoTargetPort: return "no_target_port";
  }
  return "?";
}

bool isIllegalInboundPort(uint16_t port) {
  return port == 15001 || port == 15006 || port == 15008;
}

std::expected<InboundTarget, InboundRejection> checkInboundAuthority(
    const StateSnapshot& snapshot, const Workload& local, const IpAddress& local_ip,
    std::string_view authority) {
  if (auto addr = SocketAddress::parse(authority)) {
    InboundTarget t{SocketAddress{local_ip, addr->port}, false, {}};
    if (addr->ip == local_ip) return finish(std::move(t));
    bool app_tunnel = local.application_tunnel &&
                      local.application_tunnel->protocol != ApplicationTunnelProtocol::kNone;
    if (app_tunnel || localIsWaypointOf(snapshot, local, addr->ip)) {
      t.via_waypoint = true;
      return finish(std::move(t));
    }
    return reject(InboundRejection::Kind::kIpMismatch, 400,
                  "authority " + std::string(authority) + " is not local address " +
                      local_ip.toString());
  }

  // hostname:port. Anything with brackets or a colon in the host was an IP that failed above.
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon == 0 ||
      authority.substr(0, colon).find_first_of(":[]") != std::string_view::npos) {
    return reject(InboundRejection::Kind::kMalformedAuthority, 400,
                  "authority '" + std::string(authority) + "' is not ip:port or host:port");
  }
  std::string_view host = authority.substr(0, colon);
  std::string_view port_text = authority.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return reject(InboundRejection::Kind::kMalformedAuthority, 400,
                  "authority '" + std::string(authority) + "' has no valid port");
  }
  const Service* svc = snapshot.serviceByHostname(local.namespace_, host);
  if (!svc) {
    const auto& all = snapshot.servicesByHostname(host);
    if (!all.empty()) svc = all.front();
  }
  if (!svc) {
    return reject(InboundRejection::Kind::kUnknownHostname, 503,
                  "no service with hostname " + std::string(host));
  }
  uint16_t target = 0;
  if (auto it = local.services.find(svc->key()); it != local.services.end()) {
    if (auto p = it->second.find(static_cast<uint16_t>(port)); p != it->second.end()) {
      target = p->second;
    }
  }
  if (target == 0) {
    if (const ServicePort* sp = svc->findPort(static_cast<uint16_t>(port))) {
      target = sp->target_port;
    }
  }
  if (target == 0) {
    return reject(InboundRejection::Kind::kNoTargetPort, 503,
                  "service " + svc->key() + " port " + std::to_string(port) +
                      " has no target port on " + local.uid);
  }
  return finish(InboundTarget{SocketAddress{local_ip, target}, false, svc->key()});
}

}  // namespace warren::ztunnel
