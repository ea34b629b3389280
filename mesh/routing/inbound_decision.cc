#include "mesh/routing/inbound_decision.h"

#include <fmt/format.h>

#include <algorithm>

#include "mesh/routing/waypoint_resolver.h"

namespace warren::mesh {

namespace {

std::unexpected<InboundReject> reject(InboundReject::Kind kind, std::string detail,
                                      std::string policy = {}) {
  return std::unexpected(InboundReject{kind, std::move(detail), std::move(policy)});
}

// "I am the waypoint of the target": the IP names a service or workload whose waypoint the
// local workload is an instance of.
bool localIsWaypointOf(const StateSnapshot& snapshot, const Workload& local,
                       const net::IpAddress& ip) {
  NetworkAddress key{local.network, ip};
  if (const Service* svc = snapshot.serviceByVip(key)) {
    return svc->waypoint && isWaypointInstance(snapshot, *svc->waypoint, local);
  }
  if (const Workload* w = snapshot.workloadByAddress(key)) {
    return w->waypoint && isWaypointInstance(snapshot, *w->waypoint, local);
  }
  return false;
}

struct Target {
  uint16_t port = 0;
  bool via_waypoint = false;
  std::string service;
};

// Steps 4 and 5 for an ip:port authority.
std::expected<Target, InboundReject> addressTarget(const StateSnapshot& snapshot,
                                                   const Workload& local,
                                                   const net::IpAddress& local_ip,
                                                   const net::SocketAddress& authority) {
  if (authority.ip == local_ip) return Target{authority.port, false, {}};
  bool app_tunnel = local.application_tunnel &&
                    local.application_tunnel->protocol != ApplicationTunnelProtocol::kNone;
  if (app_tunnel || localIsWaypointOf(snapshot, local, authority.ip)) {
    return Target{authority.port, true, {}};
  }
  return reject(InboundReject::Kind::kIpMismatch,
                fmt::format("authority {} is not the local address {}", authority.toString(),
                            local_ip.toString()));
}

// Step 5 for a hostname:port authority.
std::expected<Target, InboundReject> hostnameTarget(const StateSnapshot& snapshot,
                                                    const Workload& local,
                                                    const hbone::HostPort& authority) {
  const Service* svc = snapshot.serviceByHostname(local.namespace_, authority.host);
  if (!svc) {
    const auto& all = snapshot.servicesByHostname(authority.host);
    if (!all.empty()) svc = all.front();
  }
  if (!svc) {
    return reject(InboundReject::Kind::kUnknownHostname,
                  "no service with hostname " + authority.host);
  }
  uint16_t target = 0;
  if (auto it = local.services.find(svc->key()); it != local.services.end()) {
    if (auto p = it->second.find(authority.port); p != it->second.end()) target = p->second;
  }
  if (target == 0) {
    if (const ServicePort* sp = svc->findPort(authority.port)) target = sp->target_port;
  }
  if (target == 0) {
    return reject(InboundReject::Kind::kNoTargetPort,
                  fmt::format("service {} port {} has no target port on {}", svc->key(),
                              authority.port, local.uid));
  }
  return Target{target, false, svc->key()};
}

}  // namespace

bool isIllegalInboundPort(uint16_t port) {
  return std::find(kIllegalInboundPorts.begin(), kIllegalInboundPorts.end(), port) !=
         kIllegalInboundPorts.end();
}

const char* toString(InboundReject::Kind k) {
  switch (k) {
    case InboundReject::Kind::kNotConnect:
      return "not_connect";
    case InboundReject::Kind::kBadAuthority:
      return "bad_authority";
    case InboundReject::Kind::kUnknownLocalWorkload:
      return "unknown_local_workload";
    case InboundReject::Kind::kIpMismatch:
      return "ip_mismatch";
    case InboundReject::Kind::kUnknownHostname:
      return "unknown_hostname";
    case InboundReject::Kind::kNoTargetPort:
      return "no_target_port";
    case InboundReject::Kind::kIllegalPort:
      return "illegal_port";
    case InboundReject::Kind::kDenied:
      return "denied";
  }
  return "?";
}

int statusFor(InboundReject::Kind k) {
  switch (k) {
    case InboundReject::Kind::kNotConnect:
    case InboundReject::Kind::kBadAuthority:
    case InboundReject::Kind::kIpMismatch:
      return 400;
    case InboundReject::Kind::kDenied:
      return 401;
    case InboundReject::Kind::kUnknownLocalWorkload:
    case InboundReject::Kind::kUnknownHostname:
    case InboundReject::Kind::kNoTargetPort:
    case InboundReject::Kind::kIllegalPort:
      return 503;
  }
  return 500;
}

int InboundReject::status() const { return statusFor(kind); }

InboundVerdict authorizeInbound(const StateSnapshot& snapshot, const Workload* local,
                                const ConnectionContext& connection) {
  if (!local) return {false, "", "the local workload is not in the state"};
  RbacDecision d = evaluateRbac(snapshot.policiesFor(*local), connection);
  std::string policy = d.policy ? d.policy->key() : "";
  if (d.allowed) return {true, std::move(policy), ""};
  std::string detail = "denied by " + (policy.empty() ? std::string(toString(d.reason)) : policy);
  return {false, std::move(policy), std::move(detail)};
}

std::expected<InboundAccept, InboundReject> decideInbound(const StateSnapshot& snapshot,
                                                          const Workload* local,
                                                          const InboundConnection& connection,
                                                          const http2::HeaderList& headers) {
  auto request = hbone::parseConnect(headers);
  if (!request) {
    return reject(request.error().kind == hbone::ConnectError::Kind::kNotConnect
                      ? InboundReject::Kind::kNotConnect
                      : InboundReject::Kind::kBadAuthority,
                  request.error().detail);
  }
  if (hbone::authorityPort(request->authority) == 0) {
    return reject(InboundReject::Kind::kBadAuthority,
                  "authority " + hbone::authorityToString(request->authority) + " has port 0");
  }
  if (!local) {
    return reject(InboundReject::Kind::kUnknownLocalWorkload,
                  "no workload in the state for the local pod");
  }
  const net::IpAddress& local_ip = connection.local.ip;
  auto target = std::visit(
      [&](const auto& a) -> std::expected<Target, InboundReject> {
        if constexpr (std::is_same_v<std::decay_t<decltype(a)>, net::SocketAddress>) {
          return addressTarget(snapshot, *local, local_ip, a);
        } else {
          return hostnameTarget(snapshot, *local, a);
        }
      },
      request->authority);
  if (!target) return std::unexpected(std::move(target.error()));
  if (isIllegalInboundPort(target->port)) {
    return reject(InboundReject::Kind::kIllegalPort,
                  fmt::format("target port {} is one of ztunnel's own", target->port));
  }
  InboundAccept accept;
  accept.upstream = net::SocketAddress{local_ip, target->port};
  accept.via_waypoint = target->via_waypoint;
  accept.service = std::move(target->service);
  accept.rbac.source_identity = connection.peer_identity;
  accept.rbac.source_ip = connection.peer.ip;
  accept.rbac.destination_ip = accept.upstream.ip;
  accept.rbac.destination_port = accept.upstream.port;
  InboundVerdict v = authorizeInbound(snapshot, local, accept.rbac);
  if (!v.allowed) return reject(InboundReject::Kind::kDenied, v.detail, v.policy);
  accept.policy = std::move(v.policy);
  accept.request = std::move(*request);
  return accept;
}

}  // namespace warren::mesh
